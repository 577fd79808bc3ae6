"""The soak: `trellis-sigv4` under a steady open-loop load of signed requests for many minutes
while its policy file is replaced every few seconds; what failed and how resident memory moved.
`benches/compare/soak` runs it; the argument handling, the verdicts and the report live here,
where the tests reach them."""

import argparse
import json
import threading
import time
from pathlib import Path

from . import files, procs

# The targets: no failed request, resident memory grown by at most this much.
MAX_GROWTH_MIB = 2.0
DEFAULT_WARMUP_S = 30.0


def parse(argv, default_out):
    p = argparse.ArgumentParser(
        prog="benches/compare/soak",
        description="A long open-loop run of signed requests against `trellis run` (the "
                    "trellis-sigv4 setup of benches/compare/run) with the policy file replaced by "
                    "an atomic rename every few seconds; reports failed requests and RSS growth.")
    p.add_argument("--minutes", type=float, default=10.0, help="length of the soak (default 10)")
    p.add_argument("--rate", type=int, default=2000, help="requests per second, open loop (default 2000)")
    p.add_argument("--reload-every", type=float, default=5.0,
                   help="seconds between policy replacements (default 5)")
    p.add_argument("--warmup", type=float, default=DEFAULT_WARMUP_S,
                   help="seconds of the same load (and reloads) before RSS is first read "
                        f"(default {DEFAULT_WARMUP_S:g})")
    p.add_argument("--sample-every", type=float, default=5.0,
                   help="seconds between RSS samples kept in results.json (default 5)")
    p.add_argument("--connections", type=int, default=16, help="generator connections (default 16)")
    p.add_argument("--out", default=str(default_out),
                   help=f"directory for results.json and summary.md (default {default_out})")
    p.add_argument("--trellis", help="the trellis binary (default target/release/trellis)")
    p.add_argument("--no-build", action="store_true", help="use the binaries already in target/release")
    o = p.parse_args(argv)
    for name in ("minutes", "reload_every", "sample_every"):
        if getattr(o, name) <= 0:
            p.error(f"`--{name.replace('_', '-')}` must be positive")
    if o.warmup < 0:
        p.error("`--warmup` cannot be negative")
    if o.rate <= 0 or o.connections <= 0:
        p.error("`--rate` and `--connections` must be positive")
    return o


class RssSampler:
    """Reads the SUT's `VmRSS` every `period` seconds on a thread of its own."""

    def __init__(self, pids, period):
        self.pids = pids
        self.period = period
        self.samples = []  # (seconds since start, KiB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.monotonic()

    def _run(self):
        while not self._stop.wait(self.period):
            self.samples.append((round(time.monotonic() - self._t0, 1),
                                 procs.status_kib(self.pids, "VmRSS")))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def policy_variants(statements):
    """Writers of the two policies the soak alternates: the `Probe` statement flipped between
    Deny and Allow (rendered once, so the reloads do not cost the generator core JSON work)."""

    def variant(effect):
        text = json.dumps(files.auth_policy(statements, effect), indent=1)
        return lambda path: Path(path).write_text(text)

    return [variant("Deny"), variant("Allow")]


def summarize(load, rss_start_kib, rss_end_kib, renames, reload_check_ms, alive):
    """The soak's figures and verdicts. `load` is trellis-load's JSON of the measured run;
    `reload_check_ms` the time a last rename took to decide requests (None if it never did);
    `alive` whether the SUT was still running at the end."""
    errors = load.get("errors") or {}
    failed = (load.get("unexpected_status") or 0) + sum(errors.values())
    growth = (rss_end_kib - rss_start_kib) / 1024
    return {
        "requests": load.get("requests"), "rps": load.get("rps"), "late": load.get("late"),
        "status": load.get("status"), "errors": errors, "failed": failed,
        "p50_us": load.get("latency_us", {}).get("p50"), "p99_us": load.get("latency_us", {}).get("p99"),
        "p999_us": load.get("latency_us", {}).get("p999"), "max_us": load.get("latency_us", {}).get("max"),
        "rss_start_mib": rss_start_kib / 1024, "rss_end_mib": rss_end_kib / 1024, "growth_mib": growth,
        "renames": renames, "reload_after_soak_ms": reload_check_ms, "alive": alive,
        "met_failed": failed == 0 and alive, "met_growth": growth <= MAX_GROWTH_MIB,
        "met_reload": reload_check_ms is not None,
    }


def us(value):
    return f"{value:.0f}" if value is not None else "–"


def markdown(summary, meta):
    s = summary

    def mark(ok):
        return "met" if ok else "**missed**"

    L = [f"Soak {meta['date']}: `{meta['command']}` at {meta['commit']}, binary {meta['trellis']}; "
         f"load average before {meta['loadavg_before']}, after {meta['loadavg_after']}.", "",
         f"{meta['minutes']:g} minutes at {meta['rate']} rps open loop ({meta['connections']} connections) "
         f"of signed requests (trellis-sigv4: SigV4, {meta['statements']}-statement policy, identity "
         f"policy, metrics, log off) after {meta['warmup']:g} s of the same load; the policy file "
         f"replaced by an atomic rename every {meta['reload_every']:g} s, its `Probe` statement "
         "flipped between Allow and Deny.", "",
         "| requests | req/s | failed | p50 µs | p99 µs | p99.9 µs | renames | RSS start MiB | RSS end MiB | growth MiB |",
         "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
         f"| {s['requests']} | {s['rps']:.0f} | {s['failed']} | {us(s['p50_us'])} | {us(s['p99_us'])} | {us(s['p999_us'])} "
         f"| {s['renames']} | {s['rss_start_mib']:.1f} | {s['rss_end_mib']:.1f} | {s['growth_mib']:+.2f} |", "",
         "| target | measured | |", "|---|--:|---|",
         f"| failed requests = 0 (any status but 200, any connection or I/O error) | {s['failed']}"
         f"{'' if s['alive'] else ' (the proxy exited)'} | {mark(s['met_failed'])} |",
         f"| RSS growth ≤ {MAX_GROWTH_MIB:g} MiB | {s['growth_mib']:+.2f} MiB | {mark(s['met_growth'])} |",
         "| a rename after the soak is still decided on | "
         + (f"{s['reload_after_soak_ms']:.1f} ms" if s["reload_after_soak_ms"] is not None else "never")
         + f" | {mark(s['met_reload'])} |"]
    if any(s["errors"].values()):
        L += ["", "Errors: " + ", ".join(f"{k} {v}" for k, v in s["errors"].items() if v)]
    return "\n".join(L) + "\n"
