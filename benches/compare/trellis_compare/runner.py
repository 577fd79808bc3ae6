"""One round of one configuration: start the SUT, time its first 200, load it closed and open
loop, count its memory idle, under 10,000 idle connections and at peak, stop it; then start it
again unpinned and load it closed loop with the generator sharing both cores."""

import json
import time
from pathlib import Path

from . import configs, files, load, probes, procs

IDLE_CONNECTIONS = 10_000
# Seconds between the last answer on the idle connections and the reading. Short: Trellis
# closes a connection that sends no request for its header-read timeout (10 s), and opening
# 10,000 connections takes several seconds; the reading counts the connections still open.
IDLE_SETTLE_S = 0.5


def measure(cfg, tools, round_no, opts, plots_dir):
    """The figures of `cfg` for one round, as a dict (absent figures are missing keys)."""
    out = {}
    d = tools.work / f"{cfg.name}-r{round_no}"
    sys = configs.start(cfg, tools, round_no)
    try:
        probe = configs.probe_path(cfg)
        if sys.procs:
            out["startup_ms"] = probes.time_to_first_200(sys.started, sys.port, probe, sys.procs[-1])
            time.sleep(0.2)
            out["idle_rss_kib"] = procs.status_kib(sys.pids, "VmRSS")
        url = f"http://127.0.0.1:{sys.port}{cfg.path}"

        keys_file = tools.work / ("sts-cold-keys.txt" if cfg.sign == "sts-cold" else "cold-keys.txt")

        def run(label, rate=None, plot=None):
            return load.run(tools, sys.pids, url, label=f"{cfg.name}-r{round_no}-{label}",
                            out_dir=d, duration=opts.duration, warmup=opts.warmup, rate=rate,
                            sign=cfg.sign, keys_file=keys_file, expect=cfg.expect, plot=plot,
                            parts=sys.parts)

        if cfg.reload:
            out.update(reload_round(cfg, sys, run, opts))
        elif cfg.sign == "sts-cold":
            # One run: each request must carry a token this process has not verified. Misses
            # are rate-limited by design, so the rate is a cache miss's, not the steady state's;
            # the direct run at the same rate, in the same round, is its baseline.
            rate = tools.sts_cold_rate
            out["open"] = {str(rate): slim(run(f"open-{rate}", rate, plots_dir / f"{cfg.name}-{rate}.svg"), True)}
            direct = load.run(tools, [], f"http://127.0.0.1:{tools.upstream_port}{cfg.path}",
                              label=f"{cfg.name}-r{round_no}-direct-{rate}", out_dir=d,
                              duration=opts.duration, warmup=opts.warmup, rate=rate)
            out["direct_same_rate"] = slim(direct)
        elif cfg.sign == "cold":
            # One run only: each request must carry a key this process has not seen.
            out["open"] = {"2000": slim(run("open-2000", 2000, plots_dir / f"{cfg.name}-2000.svg"), True)}
        else:
            out["closed"] = slim(run("closed"))
            out["open"] = {}
            for rate in opts.rates:
                plot = plots_dir / f"{cfg.name}-{rate}.svg" if rate == 2000 else None
                out["open"][str(rate)] = slim(run(f"open-{rate}", rate, plot), rate == 2000)
        if sys.procs:
            sockets = procs.socket_count(sys.pids)
            conns = probes.open_idle_connections(sys.port, probe, IDLE_CONNECTIONS)
            try:
                time.sleep(IDLE_SETTLE_S)
                out["conn10k_rss_kib"] = procs.status_kib(sys.pids, "VmRSS")
                out["conn10k_open"] = procs.socket_count(sys.pids) - sockets
            finally:
                for c in conns:
                    c.close()
            out["peak_rss_kib"] = procs.status_kib(sys.pids, "VmHWM")
    finally:
        sys.stop()
    if cfg.sign not in ("cold", "sts-cold") and not cfg.reload:
        out["closed_unpinned"] = closed_unpinned(cfg, tools, round_no, opts)
    return out


def closed_unpinned(cfg, tools, round_no, opts):
    """The closed-loop run again with nothing pinned: a fresh SUT free on every core (so a
    multi-threaded runtime starts a worker per core) and the generator free too, sharing the
    cores as an app and its sidecar share a node. The upstream stays on the generator core."""
    sys = configs.start(cfg, tools, round_no, pinned=False)
    try:
        if sys.procs:
            probes.time_to_first_200(sys.started, sys.port, configs.probe_path(cfg), sys.procs[-1])
        d = tools.work / f"{cfg.name}-r{round_no}" / "unpinned"
        d.mkdir(parents=True, exist_ok=True)
        keys_file = tools.work / "cold-keys.txt"
        return slim(load.run(tools, sys.pids, f"http://127.0.0.1:{sys.port}{cfg.path}",
                             label=f"{cfg.name}-r{round_no}-closed-unpinned", out_dir=d,
                             duration=opts.duration, warmup=opts.warmup, sign=cfg.sign,
                             keys_file=keys_file, expect=cfg.expect, parts=sys.parts, core=None))
    finally:
        sys.stop()


def slim(res, curve=False):
    """The figures kept per run; `curve` keeps the percentile curve too (for the 2k plot)."""
    keep = ("rps", "requests", "failed", "late", "cpu_s", "cpu_us_per_req", "status", "errors",
            "generator_cpu_us_per_request", "sts_calls", "sts_rejected", "parts_cpu_us_per_req")
    keep += ("percentiles",) if curve else ()
    r = {k: res.get(k) for k in keep}
    r.update({k: res["latency_us"][k] for k in ("p50", "p99", "p999", "max")})
    return r


def reload_round(cfg, sys, run, opts):
    """Reload latency (rename → first answer by the new policy, both directions, several
    times) and the 1 Hz reload storm at 2k rps against the steady state just before it."""

    def variant(effect):
        # Rendered once: the storm must not spend the generator core's time on JSON.
        text = json.dumps(files.auth_policy(cfg.statements, effect), indent=1)
        return lambda path: Path(path).write_text(text)

    out = {"steady": slim(run("steady-2000", 2000))}
    with probes.ReloadStorm(sys.policy_path, [variant("Deny"), variant("Allow")]) as storm:
        out["storm"] = slim(run("storm-2000", 2000))
    out["storm"]["renames"] = storm.renames
    # The storm may have left either variant in force; start from a known one.
    files.write_json(sys.policy_path, files.auth_policy(cfg.statements, "Allow"))
    time.sleep(1.0)
    latencies = []
    for i in range(opts.flips):
        effect, expect = ("Deny", 403) if i % 2 == 0 else ("Allow", 200)
        latencies.append(probes.reload_latency(sys.port, "/probe/item", sys.policy_path,
                                               variant(effect), expect))
        time.sleep(0.3)
    out["reload_ms"] = latencies
    return out
