"""Every PromQL expression of the Grafana dashboard parses: the panels' `expr`s and the
selectors of its label_values() variables, with Grafana's variables substituted, are written
as recording rules (JSON is YAML) that `promtool check rules` parses. The dashboard also needs
the variables its panels filter by.

  check_dashboard.py DASHBOARD RULES_OUT

RULES_OUT is kept: promql_metrics.py checks the metrics those expressions use.
"""
import json
import re
import subprocess
import sys

REQUIRED_VARIABLES = ("datasource", "namespace", "pod")

# Grafana's built-in and dashboard variables, replaced by values promtool accepts.
SUBSTITUTIONS = [
    (re.compile(r"\$__rate_interval|\$\{__rate_interval\}"), "5m"),
    (re.compile(r"\$__interval|\$\{__interval\}"), "1m"),
    (re.compile(r"\$__range|\$\{__range\}"), "1h"),
    (re.compile(r"\$\{?(namespace|pod)(:[a-z]+)?\}?"), ".*"),
]
LABEL_VALUES = re.compile(r"^label_values\((?P<sel>.*),\s*[A-Za-z_]+\)$")


class DashboardError(Exception):
    pass


def substitute(expr):
    for pattern, value in SUBSTITUTIONS:
        expr = pattern.sub(value, expr)
    return expr


def panels(items):
    """Every panel, those nested in rows included."""
    for panel in items or []:
        yield panel
        yield from panels(panel.get("panels"))


def variables(dashboard):
    return (dashboard.get("templating") or {}).get("list") or []


def rules(dashboard):
    found = []
    for panel in panels(dashboard.get("panels")):
        for target in panel.get("targets") or []:
            if target.get("expr") is not None:
                found.append({
                    "record": f"dashboard:panel_{panel.get('id')}_{target.get('refId')}",
                    "expr": substitute(target["expr"]),
                })
    for var in variables(dashboard):
        if var.get("type") != "query":
            continue
        query = var.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        m = LABEL_VALUES.match(query or "")
        if m is None:
            raise DashboardError(
                f"variable `{var.get('name')}`: query {query!r} is not label_values(SELECTOR, LABEL)")
        found.append({"record": f"dashboard:variable_{var['name']}", "expr": substitute(m.group("sel"))})
    return found


def check(path, out):
    try:
        with open(path, encoding="utf-8") as f:
            dashboard = json.load(f)
    except (OSError, ValueError) as e:
        raise DashboardError(f"cannot read the dashboard: {e}") from e
    names = [v.get("name") for v in variables(dashboard)]
    missing = [n for n in REQUIRED_VARIABLES if n not in names]
    if missing:
        raise DashboardError(f"needs the variables {', '.join(REQUIRED_VARIABLES)}; "
                             f"missing: {', '.join(missing)}")
    found = rules(dashboard)
    if not found:
        raise DashboardError("no expressions found (no panel target has an `expr`)")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"groups": [{"name": "dashboard", "rules": found}]}, f, indent=1)
    print(f"{path}: {len(found)} expressions")
    parsed = subprocess.run(["promtool", "check", "rules", out], capture_output=True, text=True)
    print(parsed.stdout + parsed.stderr, end="")
    if parsed.returncode != 0:
        raise DashboardError(f"promtool check rules rejected the expressions (written to {out})")


def main(argv):
    if len(argv) != 3:
        raise SystemExit(__doc__)
    try:
        check(argv[1], argv[2])
    except DashboardError as e:
        print(f"{argv[1]}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
