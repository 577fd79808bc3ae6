"""The soak's argument handling, verdicts and report; the comparison report's unpinned
closed-loop table and memory targets; the idle-memory figures.

    python3 -m unittest discover -s benches/compare/tests -p 'test_soak*.py' -v
"""

import contextlib
import io
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from trellis_compare import memory, report, soak  # noqa: E402

DEFAULT_OUT = Path("/nonexistent/soak")


def parse(*argv):
    return soak.parse(list(argv), DEFAULT_OUT)


def rejected(*argv):
    """Whether argparse refuses `argv` (it exits with status 2)."""
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            parse(*argv)
        except SystemExit as e:
            return e.code == 2
    return False


LOAD = {"requests": 120000, "rps": 2000.0, "late": 3, "status": {"200": 120000},
        "unexpected_status": 0, "errors": {"connect": 0, "io": 0, "timeout": 0},
        "latency_us": {"p50": 180.4, "p99": 610.0, "p999": 2100.0, "max": 9000.0}}
META = {"date": "2026-01-01 00:00 UTC", "command": "benches/compare/soak", "commit": "abc",
        "trellis": "target/release/trellis", "loadavg_before": "1 1 1", "loadavg_after": "1 1 1",
        "minutes": 10.0, "rate": 2000, "connections": 16, "statements": 10, "warmup": 30.0,
        "reload_every": 5.0}


class SoakArguments(unittest.TestCase):
    def test_defaults_are_the_target_soak(self):
        o = parse()
        self.assertEqual((o.minutes, o.rate, o.reload_every), (10.0, 2000, 5.0))
        self.assertEqual(o.out, str(DEFAULT_OUT))
        self.assertFalse(o.no_build)

    def test_every_knob_is_read(self):
        o = parse("--minutes", "1", "--rate", "500", "--reload-every", "2.5", "--warmup", "0",
                  "--sample-every", "1", "--connections", "4", "--out", "/tmp/x", "--no-build",
                  "--trellis", "/bin/true")
        self.assertEqual((o.minutes, o.rate, o.reload_every, o.warmup, o.sample_every,
                          o.connections, o.out, o.no_build, o.trellis),
                         (1.0, 500, 2.5, 0.0, 1.0, 4, "/tmp/x", True, "/bin/true"))

    def test_nonsense_is_refused(self):
        for argv in (["--minutes", "0"], ["--minutes", "-1"], ["--reload-every", "0"],
                     ["--rate", "0"], ["--warmup", "-1"], ["--connections", "0"],
                     ["--minutes", "ten"], ["--bogus"]):
            self.assertTrue(rejected(*argv), argv)


class SoakVerdicts(unittest.TestCase):
    def test_a_clean_soak_meets_both_targets(self):
        s = soak.summarize(LOAD, 9 * 1024, 10 * 1024, 120, 35.0, True)
        self.assertEqual(s["failed"], 0)
        self.assertAlmostEqual(s["growth_mib"], 1.0)
        self.assertTrue(s["met_failed"] and s["met_growth"] and s["met_reload"])

    def test_any_error_or_unexpected_status_is_a_failure(self):
        for change in ({"unexpected_status": 1}, {"errors": {"connect": 0, "io": 2, "timeout": 0}}):
            s = soak.summarize(dict(LOAD, **change), 1024, 1024, 1, 1.0, True)
            self.assertFalse(s["met_failed"], change)
            self.assertGreater(s["failed"], 0)

    def test_a_dead_proxy_fails_even_without_errors_counted(self):
        self.assertFalse(soak.summarize(LOAD, 1024, 1024, 1, None, False)["met_failed"])

    def test_growth_past_two_mib_misses(self):
        s = soak.summarize(LOAD, 9 * 1024, 9 * 1024 + 2049, 1, 1.0, True)
        self.assertFalse(s["met_growth"])
        self.assertTrue(soak.summarize(LOAD, 9 * 1024, 9 * 1024 + 2048, 1, 1.0, True)["met_growth"])

    def test_report_shows_figures_and_verdicts(self):
        md = soak.markdown(soak.summarize(LOAD, 9 * 1024, 12 * 1024, 120, None, True), META)
        self.assertIn("| 120000 | 2000 | 0 | 180 | 610 | 2100 | 120 | 9.0 | 12.0 | +3.00 |", md)
        self.assertIn("| RSS growth ≤ 2 MiB | +3.00 MiB | **missed** |", md)
        self.assertIn("| never | **missed** |", md)
        self.assertNotIn("Errors:", md)
        md = soak.markdown(soak.summarize(dict(LOAD, errors={"io": 3}), 1024, 1024, 1, 2.0, True), META)
        self.assertIn("Errors: io 3", md)


def summary_with(**figures):
    """A report summary of nginx, the pass-through and trellis-sigv4 from per-round figures."""
    def rnd(cpu_closed, cpu_unpinned, rps_unpinned, conn10k=None, idle=None):
        r = {"closed": {"cpu_us_per_req": cpu_closed, "rps": 1000, "failed": 0},
             "closed_unpinned": {"cpu_us_per_req": cpu_unpinned, "rps": rps_unpinned, "failed": 0},
             "open": {rate: {"cpu_us_per_req": 50.0, "p50": 100, "p99": 200, "p999": 300, "failed": 0}
                      for rate in report.RATES}}
        if conn10k is not None:
            r["conn10k_rss_kib"], r["idle_rss_kib"], r["conn10k_open"] = conn10k, idle, 10000
        return r
    rounds = {name: [rnd(*v) for v in values] for name, values in figures.items()}
    return report.summarize(rounds)


class ReportUnpinned(unittest.TestCase):
    def setUp(self):
        self.summary = summary_with(
            nginx=[(15.0, 20.0, 40000, 18 * 1024, 17 * 1024), (15.0, 22.0, 41000, 18 * 1024, 17 * 1024)],
            passthrough=[(19.0, 30.0, 35000), (19.0, 30.0, 35000)],
            **{"trellis-sigv4": [(27.0, 40.0, 30000, 60 * 1024, 7 * 1024),
                                 (27.0, 44.0, 31000, 70 * 1024, 9 * 1024)]})

    def test_medians_of_the_unpinned_runs(self):
        t = self.summary["trellis-sigv4"]
        self.assertEqual((t["cpu_closed_unpinned"], t["rps_closed_unpinned"]), (42.0, 30500))

    def test_its_own_table_with_ratios_to_nginx(self):
        md = report.markdown(self.summary, {"date": "d", "rounds": 2, "duration": 1, "warmup": 1,
                                            "loadavg_before": "", "loadavg_after": "", "machine": ""},
                             ["nginx", "passthrough", "trellis-sigv4"])
        self.assertIn("### CPU per request, closed loop, 2 cores not pinned", md)
        self.assertIn("| trellis-sigv4 | 42.0 | 2.00 | 1.40 | 30500 | 0 |", md)
        self.assertIn("| trellis-sigv4 | 8.0 | 65.0 | 10000 |", md)

    def test_targets_of_the_issue_are_judged(self):
        rows = {what: (value, met) for what, value, met in report.targets(self.summary)}
        self.assertEqual(rows["CPU/request ≤ 1.0 × nginx, closed loop, 2 cores not pinned"], ("2.00 ×", False))
        self.assertEqual(rows["CPU/request ≤ 1.0 × nginx, closed loop, 1 core pinned"], ("1.80 ×", False))
        self.assertEqual(rows["CPU/request ≤ 1.0 × nginx, open loop 5k rps"], ("1.00 ×", True))
        self.assertEqual(rows["RSS with 10,000 idle keep-alive connections ≤ 64 MiB"], ("65.0 MiB", False))
        self.assertEqual(rows["idle RSS ≤ 8 MiB"], ("8.0 MiB", True))
        self.assertEqual(rows["added p99 at 2k rps ≤ nginx's"][1], None)  # no direct run: not measured

    def test_unpinned_failures_count(self):
        rounds = {"nginx": [{"closed_unpinned": {"failed": 3, "cpu_us_per_req": 1.0, "rps": 1}}]}
        s = report.summarize(rounds)["nginx"]
        self.assertEqual((s["failed"], s["failed_unpinned"]), (3, 3))


class IdleMemory(unittest.TestCase):
    def test_cost_per_connection(self):
        self.assertEqual(memory.per_connection_kib(8000, 18000, 1000), 10.0)
        self.assertIsNone(memory.per_connection_kib(None, 18000, 1000))
        rounds = {"x": [{"idle": {"rss_kib": 1000, "anon_kib": 500, "sockets": 3},
                         "steps": [{"connections": 1000, "rss_kib": 6000, "anon_kib": 0, "sockets": 1003},
                                   {"connections": 10000, "rss_kib": 51000, "anon_kib": 0,
                                    "sockets": 9403}],
                         "after_close": {"rss_kib": 2000}}]}
        s = memory.summarize(rounds)["x"]
        self.assertEqual((s["per_conn_kib"], s["marginal_per_conn_kib"]), (5.0, 5.0))
        md = memory.markdown(memory.summarize(rounds), {"date": "d", "command": "c", "commit": "x",
                                                         "trellis": "t", "rounds": 1, "loadavg": "1"})
        # The connections the proxy had already closed show: 9,400 of 10,000 open.
        self.assertIn("| x | 1.0 | 5.9 | 49.8 | 9400 | 5.00 | 5.00 | 2.0 |", md)


if __name__ == "__main__":
    unittest.main()
