"""Runs trellis-load on the generator core and returns its JSON result, with the CPU the SUT
spent during the run."""

import json
import subprocess
import http.client

from . import files, procs


def run(tools, sut_pids, url, *, label, out_dir, duration, warmup, rate=None, connections=16,
        sign="none", keys_file=None, expect=200, plot=None, parts=None, core=procs.LOAD_CORE):
    """One trellis-load run; returns its JSON plus `cpu_s` (the SUT's CPU seconds over the
    whole run, warm-up included) and `cpu_us_per_req`, and with `parts` (`{name: pids}`, the
    SUT's processes by what they are) `parts_cpu_us_per_req`, the same figure of each alone.

    trellis-load counts only the measured period's requests, so the SUT's CPU is divided by
    the requests of the whole run: the measured rate times warm-up plus duration (exact for
    the open loop, whose rate is fixed; for the closed loop it assumes the warm-up ran at the
    measured rate). `core` is the generator's core; `None` lets it run on every core.
    """
    result = out_dir / f"{label}.json"
    argv = ["taskset", "-c", procs.cpu_list(core), tools.load, url,
            "-c", str(connections), "-d", f"{duration}s", "--warmup", f"{warmup}s",
            "--expect-status", str(expect), "--label", label, "--json", str(result), "-q"]
    if rate is not None:
        argv += ["--rate", str(rate)]
    if sign == "warm":
        argv += ["--sign", "pool", "--key", "{}:{}".format(*files.WARM_KEY),
                 "--region", files.REGION]
    elif sign == "cold":
        argv += ["--sign", "pool", "--keys-file", str(keys_file), "--pool-size",
                 str(tools.cold_keys), "--region", files.REGION]
    elif sign == "sts":
        # One token for the run (renewed every 5 minutes): the verified-token cache's steady state.
        argv += ["--sign", "sts-token", "--key", "{}:{}".format(*files.WARM_KEY),
                 "--region", files.REGION, "--sts-audience", files.STS_AUDIENCE]
    elif sign == "sts-cold":
        # One key, so one token, per request: every request is a cache miss.
        argv += ["--sign", "sts-token", "--keys-file", str(keys_file),
                 "--region", files.REGION, "--sts-audience", files.STS_AUDIENCE]
    if plot is not None:
        argv += ["--plot", str(plot)]
    sts0 = sts_stats(tools) if sign in ("sts", "sts-cold") else None
    parts = parts or {}
    cpu0 = procs.cpu_seconds(sut_pids) if sut_pids else None
    parts0 = {name: procs.cpu_seconds(pids) for name, pids in parts.items()}
    done = subprocess.run(argv, capture_output=True, text=True)
    cpu1 = procs.cpu_seconds(sut_pids) if sut_pids else None
    parts1 = {name: procs.cpu_seconds(pids) for name, pids in parts.items()}
    sts1 = sts_stats(tools) if sts0 is not None else None
    if done.returncode != 0:
        raise RuntimeError(f"trellis-load failed ({done.returncode}): {done.stderr.strip()}")
    with open(result) as f:
        res = json.load(f)
    res["failed"] = res.get("unexpected_status", 0) + sum(res.get("errors", {}).values())
    if sts0 is not None:
        # STS calls Trellis made during the run (warm-up included), and those STS refused.
        res["sts_calls"] = sum(sts1.values()) - sum(sts0.values())
        res["sts_rejected"] = sts1["rejected"] - sts0["rejected"]
    if cpu0 is not None:
        res["cpu_s"] = cpu1 - cpu0
        total = res["rps"] * (duration + warmup)
        res["cpu_us_per_req"] = res["cpu_s"] / total * 1e6 if total else None
        if parts:
            res["parts_cpu_us_per_req"] = {
                name: (parts1[name] - parts0[name]) / total * 1e6 if total else None
                for name in parts}
    return res


def sts_stats(tools):
    """`{"verified": n, "rejected": n}` so far from the local STS stand-in."""
    conn = http.client.HTTPConnection("127.0.0.1", tools.sts_port, timeout=5)
    try:
        conn.request("GET", "/_standin/stats")
        r = conn.getresponse()
        if r.status != 200:
            raise RuntimeError(f"the STS stand-in answered {r.status} for its stats")
        return json.loads(r.read())
    finally:
        conn.close()
