"""The kit's own policy and principals files pass `trellis policy check` / `principals check`,
and the deploy copies of the policies pass their tests (`trellis policy eval --check`): a file
that fails either never reaches a pod through the kit.

  check_kit_files.py TRELLIS_BIN
      every set of policies and every principals file the kit ships
  check_kit_files.py TRELLIS_BIN policies TESTS SERVICE_POLICY [NETWORK_POLICY]
      one set of policies (the self-test points it at a broken fixture)
  check_kit_files.py TRELLIS_BIN principals FILE...
      principals files

deploy/examples/ (policies, principals.json) and deploy/ecs/principals.json are checked by the
end-to-end tests (tests/examples.rs, tests/cli_principals.rs), not here.
"""
import os
import subprocess
import sys

DEPLOY = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# (tests, service policy, network policy or None): the files each deployment loads.
KIT_POLICIES = [
    ("k8s/base/policy/tests.jsonl", "k8s/base/policy/service-policy.json", "k8s/base/policy/network-policy.json"),
    ("ecs/policy-tests.jsonl", "ecs/service-policy.json", None),
]
# The principals the examples overlay puts in its Secret, and the roles-and-accounts example
# for STS identity tokens.
KIT_PRINCIPALS = ["k8s/overlays/examples/principals.json", "examples/principals-sts.json"]


def run(args, stdin=None):
    """Runs `args`, echoes what it printed, returns its exit status."""
    done = subprocess.run(args, stdin=stdin, capture_output=True, text=True)
    print(done.stdout + done.stderr, end="")
    return done.returncode


def check_policies(trellis, tests, service, network):
    """The problems of one set of policies: [] when it passes."""
    policies = [service] + ([network] if network else [])
    problems = []
    status = run([trellis, "policy", "check", *policies])
    if status != 0:
        problems.append(f"trellis policy check {' '.join(policies)}: exit {status}")
    args = [trellis, "policy", "eval", "--check", "--service-policy", service]
    if network:
        args += ["--network-policy", network]
    with open(tests, encoding="utf-8") as f:
        status = run(args, stdin=f)
    if status != 0:
        problems.append(f"trellis policy eval --check < {tests}: exit {status} (a test failed, or there were none)")
    return problems


def check_principals(trellis, path):
    status = run([trellis, "principals", "check", path])
    return [f"trellis principals check {path}: exit {status}"] if status != 0 else []


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    trellis, rest = argv[1], argv[2:]
    problems = []
    if not rest:
        for tests, service, network in KIT_POLICIES:
            problems += check_policies(trellis, os.path.join(DEPLOY, tests), os.path.join(DEPLOY, service),
                                       os.path.join(DEPLOY, network) if network else None)
        for path in KIT_PRINCIPALS:
            problems += check_principals(trellis, os.path.join(DEPLOY, path))
    elif rest[0] == "policies" and len(rest) in (3, 4):
        problems += check_policies(trellis, rest[1], rest[2], rest[3] if len(rest) == 4 else None)
    elif rest[0] == "principals" and len(rest) > 1:
        for path in rest[1:]:
            problems += check_principals(trellis, path)
    else:
        raise SystemExit(__doc__)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
