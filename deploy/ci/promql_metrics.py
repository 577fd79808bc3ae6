"""Metric names in PromQL, for lint-kit.sh. promtool has already parsed every expression, so
a lexical pass suffices: strings, label matchers, ranges and grouping clauses are removed, and
what remains that is not a function call or a keyword is a metric name.

  names FILE...                 the metric names used by the expressions of rule files (the
                                dashboard's expressions arrive as a rules file made by
                                check_dashboard.py)
  check EXPECTED FILE...        fail if an expression uses a metric not in EXPECTED (or in
                                external-metrics.txt: other exporters' metrics the alerts read)
  scrape METRICS_TEXT OUT       a /metrics scrape passes `promtool check metrics` and exposes
                                every family expected-metrics.txt lists, with its type; its
                                families (name and type, one a line) go to OUT
"""
import os
import re
import subprocess
import sys

import yaml

KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and",
    "or", "unless", "inf", "nan", "atan2",
}
# Scrape-time series that no exporter lists.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
HERE = os.path.dirname(os.path.abspath(__file__))
EXTERNAL = os.path.join(HERE, "external-metrics.txt")
EXPECTED = os.path.join(HERE, "expected-metrics.txt")


def rule_exprs(path):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    return [(r.get("alert") or r.get("record"), r["expr"])
            for g in doc.get("groups", []) for r in g.get("rules", [])]


def metric_names(expr):
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # strings
    s = re.sub(r"\{[^}]*\}", " ", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)  # ranges and subqueries
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", s):
        name, call = m.group(1), m.group(2)
        if call or name.lower() in KEYWORDS:
            continue
        names.add(name)
    return names


def family(name, expected):
    if name in expected:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base and expected.get(base) in ("histogram", "summary"):
            return base
    return None


def read_expected(path):
    expected = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if line:
                expected[line[0]] = line[1]
    return expected


def exposed_families(text):
    """{name: type} of the `# TYPE` lines of a /metrics scrape."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^# TYPE (\S+) (\S+)", text, re.M)}


def check_scrape(metrics, out):
    with open(metrics, encoding="utf-8") as f:
        text = f.read()
    linted = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    print(linted.stdout + linted.stderr, end="")
    if linted.returncode != 0:
        print(f"promtool check metrics rejected {metrics}", file=sys.stderr)
        return 1
    exposed = exposed_families(text)
    with open(out, "w", encoding="utf-8") as f:
        f.write("".join(f"{name} {kind}\n" for name, kind in sorted(exposed.items())))
    wrong = [f"{name} {kind} (exposed: {exposed.get(name, 'absent')})"
             for name, kind in sorted(read_expected(EXPECTED).items()) if exposed.get(name) != kind]
    if wrong:
        print(f"listed in {EXPECTED} but not exposed by {metrics}, or of another type:", file=sys.stderr)
        print("\n".join(wrong), file=sys.stderr)
        return 1
    print(f"{metrics}: {len(exposed)} families, every one expected-metrics.txt lists among them")
    return 0


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    cmd = argv[1]
    if cmd == "names":
        for path in argv[2:]:
            for where, e in rule_exprs(path):
                print(f"{path}: {where}: {' '.join(sorted(metric_names(e)))}")
        return 0
    if cmd == "check":
        expected = read_expected(argv[2])
        external = read_expected(EXTERNAL)
        bad = 0
        used = set()
        for path in argv[3:]:
            for where, e in rule_exprs(path):
                for name in sorted(metric_names(e)):
                    if name in SYNTHETIC or name in external:
                        continue
                    if family(name, expected) is None:
                        print(f"{path}: {where}: metric `{name}` is not exposed by Trellis", file=sys.stderr)
                        bad += 1
                    else:
                        used.add(family(name, expected))
        print(f"{len(used)} metric families used, all exposed" if not bad else f"{bad} unknown metric(s)")
        return 1 if bad else 0
    if cmd == "scrape" and len(argv) == 4:
        return check_scrape(argv[2], argv[3])
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
