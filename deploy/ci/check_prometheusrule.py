"""The PrometheusRule object (deploy/observability/prometheusrule.yaml) carries exactly the rules
of alerts.yaml, and the label kube-prometheus-stack selects rules by, so the two cannot drift
apart and the object is not silently ignored.

  check_prometheusrule.py RULE_OBJECT ALERTS       compare (exit 1 on any difference)
  check_prometheusrule.py --write RULE_OBJECT ALERTS
      rewrite RULE_OBJECT from ALERTS (the rules indented under `spec:`, comments kept)
"""
import sys

import yaml

HEADER = """\
# The rules of alerts.yaml as a Prometheus Operator object; generated, do not edit by hand:
#   python3 deploy/ci/check_prometheusrule.py --write deploy/observability/prometheusrule.yaml deploy/observability/alerts.yaml
# (deploy/ci/validate.sh fails when the two differ). Apply once per cluster, in the namespace
# your Prometheus reads rules from: kubectl apply -k deploy/observability
#
# kube-prometheus-stack only loads PrometheusRules whose `release` label is the Helm release
# name (its default ruleSelector when ruleSelectorNilUsesHelmValues is true): set it to yours.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: trellis
  labels:
    release: kube-prometheus-stack
    app.kubernetes.io/part-of: trellis
spec:
"""


def render(alerts_text):
    lines = alerts_text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("groups:"))
    return HEADER + "".join(f"  {line}\n" if line else "\n" for line in lines[start:])


def main(argv):
    write = len(argv) == 4 and argv[1] == "--write"
    if len(argv) != 3 and not write:
        raise SystemExit(__doc__)
    rule_path, alerts_path = argv[-2], argv[-1]
    with open(alerts_path, encoding="utf-8") as f:
        alerts_text = f.read()
    if write:
        with open(rule_path, "w", encoding="utf-8") as f:
            f.write(render(alerts_text))
        return 0
    with open(rule_path, encoding="utf-8") as f:
        obj = yaml.safe_load(f)
    alerts = yaml.safe_load(alerts_text)
    errors = []
    if obj.get("apiVersion") != "monitoring.coreos.com/v1" or obj.get("kind") != "PrometheusRule":
        errors.append("must be apiVersion monitoring.coreos.com/v1, kind PrometheusRule")
    if "release" not in obj.get("metadata", {}).get("labels", {}):
        errors.append("needs a `release` label (kube-prometheus-stack's default ruleSelector)")
    spec_groups = obj.get("spec", {}).get("groups", [])
    want = {r.get("alert") or r.get("record"): r for g in alerts["groups"] for r in g["rules"]}
    have = {r.get("alert") or r.get("record"): r for g in spec_groups for r in g.get("rules", [])}
    for name in sorted(want.keys() | have.keys()):
        if name not in have:
            errors.append(f"rule {name} is in {alerts_path} but not in the PrometheusRule")
        elif name not in want:
            errors.append(f"rule {name} is in the PrometheusRule but not in {alerts_path}")
        elif want[name] != have[name]:
            fields = sorted(k for k in want[name].keys() | have[name].keys() if want[name].get(k) != have[name].get(k))
            errors.append(f"rule {name} differs in {', '.join(fields)}")
    if not errors and spec_groups != alerts["groups"]:
        errors.append("groups differ (names, order or intervals)")
    for e in errors:
        print(f"{rule_path}: {e}", file=sys.stderr)
    if errors:
        print(f"regenerate: python3 deploy/ci/check_prometheusrule.py --write {rule_path} {alerts_path}", file=sys.stderr)
        return 1
    print(f"{rule_path}: the {len(want)} rules of {alerts_path}, with a `release` label")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
