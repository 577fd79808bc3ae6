"""The deploy copies of the policies pass `trellis policy check` and their tests pass
`trellis policy eval --check`: a policy that fails either never reaches a pod through the kit.

  check_policies.py TRELLIS_BIN
      every set the kit ships (Kubernetes base, ECS)
  check_policies.py TRELLIS_BIN TESTS SERVICE_POLICY [NETWORK_POLICY]
      one set (the self-test points it at a broken fixture)
"""
import os
import subprocess
import sys

DEPLOY = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# (tests, service policy, network policy or None): the files each deployment loads.
KIT_SETS = [
    ("k8s/base/policy/tests.jsonl", "k8s/base/policy/service-policy.json", "k8s/base/policy/network-policy.json"),
    ("ecs/policy-tests.jsonl", "ecs/service-policy.json", None),
]


def check_set(trellis, tests, service, network):
    policies = [service] + ([network] if network else [])
    failed = False
    checked = subprocess.run([trellis, "policy", "check", *policies], capture_output=True, text=True)
    print(checked.stdout + checked.stderr, end="")
    if checked.returncode != 0:
        print(f"trellis policy check {' '.join(policies)}: exit {checked.returncode}", file=sys.stderr)
        failed = True
    args = [trellis, "policy", "eval", "--check", "--service-policy", service]
    if network:
        args += ["--network-policy", network]
    with open(tests, encoding="utf-8") as f:
        evaluated = subprocess.run(args, stdin=f, capture_output=True, text=True)
    print(evaluated.stdout + evaluated.stderr, end="")
    if evaluated.returncode != 0:
        print(f"trellis policy eval --check < {tests}: exit {evaluated.returncode} (a test failed, or there were none)",
              file=sys.stderr)
        failed = True
    return failed


def main(argv):
    if len(argv) not in (2, 4, 5):
        raise SystemExit(__doc__)
    trellis = argv[1]
    if len(argv) == 2:
        sets = [tuple(os.path.join(DEPLOY, p) if p else None for p in s) for s in KIT_SETS]
    else:
        sets = [(argv[2], argv[3], argv[4] if len(argv) == 5 else None)]
    failed = [s[0] for s in sets if check_set(trellis, *s)]
    for tests in failed:
        print(f"policies with {tests}: FAILED", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
