"""Metric names in PromQL, for validate.sh. promtool has already parsed every expression, so
a lexical pass suffices: strings, label matchers, ranges and grouping clauses are removed, and
what remains that is not a function call or a keyword is a metric name.

  names FILE...                 the metric names used by the expressions of rule files (the
                                dashboard's expressions arrive as a rules file made by jq)
  check EXPECTED FILE...        fail if an expression uses a metric not in EXPECTED (or in
                                external-metrics.txt: other exporters' metrics the alerts read)
  exposed METRICS_TEXT          metric family names (and types) of a /metrics scrape
"""
import os
import re
import sys

import yaml

KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and",
    "or", "unless", "inf", "nan", "atan2",
}
# Scrape-time series that no exporter lists.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
EXTERNAL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "external-metrics.txt")


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


def main(argv):
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
    if cmd == "exposed":
        with open(argv[2], encoding="utf-8") as f:
            for line in f:
                m = re.match(r"# TYPE (\S+) (\S+)", line)
                if m:
                    print(m.group(1), m.group(2))
        return 0
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
