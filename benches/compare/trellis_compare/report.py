"""Medians over rounds, ratios between configurations, the targets, and the markdown table."""

import statistics

RATES = ("1000", "2000", "5000")
PEERS = (("nginx", "nginx"), ("passthrough", "bare pass-through"),
         ("nginx-auth", "nginx + auth_request"), ("envoy", "Envoy"))
HEADLINE = "trellis-sigv4"
# Above this direct p50 at 2k rps (µs) latency differences are not judged (see busy_baseline).
BUSY_BASELINE_US = 1000


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(rounds):
    """Per configuration: the median of each figure over its rounds. Added latency is taken
    against the direct run of the same round, then the median over rounds."""
    direct = rounds.get("direct", [])
    out = {}
    for name, rs in rounds.items():
        s = {}
        s["cpu_2k_rounds"] = [r.get("open", {}).get("2000", {}).get("cpu_us_per_req") for r in rs]
        s["cpu_2k"] = med(s["cpu_2k_rounds"])
        part_rounds = [r.get("open", {}).get("2000", {}).get("parts_cpu_us_per_req") or {} for r in rs]
        names = list(dict.fromkeys(n for pr in part_rounds for n in pr))
        s["parts_2k_rounds"] = {n: [pr.get(n) for pr in part_rounds] for n in names}
        s["parts_2k"] = {n: med(v) for n, v in s["parts_2k_rounds"].items()}
        s["cpu_closed"] = med([r.get("closed", {}).get("cpu_us_per_req") for r in rs])
        s["rps_closed"] = med([r.get("closed", {}).get("rps") for r in rs])
        s["cpu_closed_unpinned"] = med([r.get("closed_unpinned", {}).get("cpu_us_per_req") for r in rs])
        s["rps_closed_unpinned"] = med([r.get("closed_unpinned", {}).get("rps") for r in rs])
        s["cpu_open"] = {rate: med([r.get("open", {}).get(rate, {}).get("cpu_us_per_req") for r in rs])
                         for rate in RATES}
        for key in ("startup_ms", "idle_rss_kib", "conn10k_rss_kib", "conn10k_open", "peak_rss_kib"):
            s[key] = med([r.get(key) for r in rs])
        s["failed"] = sum(run.get("failed") or 0 for r in rs for run in runs(r))
        s["failed_unpinned"] = sum(r.get("closed_unpinned", {}).get("failed") or 0 for r in rs)
        s["added"] = {}
        for rate in RATES:
            for q in ("p50", "p99", "p999"):
                diffs = []
                for i, r in enumerate(rs):
                    mine = r.get("open", {}).get(rate, {}).get(q)
                    base = direct[i].get("open", {}).get(rate, {}).get(q) if i < len(direct) else None
                    if mine is not None and base is not None:
                        diffs.append(mine - base)
                s["added"][f"{rate}_{q}"] = med(diffs)
                s["added"][f"{rate}_{q}_abs"] = med([r.get("open", {}).get(rate, {}).get(q) for r in rs])
        if any("direct_same_rate" in r for r in rs):
            s.update(cache_miss(rs))
        s["sts_calls"] = sum(run.get("sts_calls") or 0 for r in rs for run in runs(r))
        s["sts_rejected"] = sum(run.get("sts_rejected") or 0 for r in rs for run in runs(r))
        if any("reload_ms" in r for r in rs):
            all_ms = [ms for r in rs for ms in r.get("reload_ms", [])]
            s["reload_ms_median"] = med(all_ms)
            s["reload_ms_max"] = max(all_ms) if all_ms else None
            s["steady_p99"] = med([r["steady"]["p99"] for r in rs if "steady" in r])
            s["storm_p99"] = med([r["storm"]["p99"] for r in rs if "storm" in r])
            s["storm_failed"] = sum(r["storm"]["failed"] for r in rs if "storm" in r)
            s["storm_renames"] = sum(r["storm"].get("renames", 0) for r in rs if "storm" in r)
        out[name] = s
    return out


def cache_miss(rs):
    """A configuration whose every request is an STS cache miss, run at its own rate next to a
    direct run at that rate in the same round: its added p50/p99 (median over rounds), CPU per
    request and the rate."""
    out = {}
    for q in ("p50", "p99"):
        diffs = []
        for r in rs:
            base = r.get("direct_same_rate", {}).get(q)
            for run in r.get("open", {}).values():
                if run.get(q) is not None and base is not None:
                    diffs.append(run[q] - base)
        out[f"miss_added_{q}"] = med(diffs)
    out["miss_cpu"] = med([run.get("cpu_us_per_req") for r in rs for run in r.get("open", {}).values()])
    out["miss_rate"] = next((int(k) for r in rs for k in r.get("open", {})), None)
    return out


def runs(r):
    for key in ("closed", "closed_unpinned", "steady", "storm"):
        if key in r:
            yield r[key]
    yield from r.get("open", {}).values()


def ratio(a, b):
    return a / b if a is not None and b else None


def targets(summary):
    """Every target of the comparison: (what, figure, met) with `met` None when unmeasured."""
    t = summary.get(HEADLINE, {})
    cpu = t.get("cpu_2k")
    peer = {name: summary.get(name, {}).get("cpu_2k") for name, _ in PEERS}
    reload = summary.get("trellis-reload", {})
    big = summary.get("trellis-policy-1000", {})
    rows = []

    def row(what, value, fmt, ok):
        rows.append((what, fmt.format(value) if value is not None else "not measured",
                     None if value is None else ok(value)))

    row("CPU/request ≤ 1.0 × nginx proxy_pass", ratio(cpu, peer["nginx"]), "{:.2f} ×", lambda v: v <= 1.0)
    nginx = summary.get("nginx", {})
    row("CPU/request ≤ 1.0 × nginx, closed loop, 1 core pinned",
        ratio(t.get("cpu_closed"), nginx.get("cpu_closed")), "{:.2f} ×", lambda v: v <= 1.0)
    row("CPU/request ≤ 1.0 × nginx, closed loop, 2 cores not pinned",
        ratio(t.get("cpu_closed_unpinned"), nginx.get("cpu_closed_unpinned")), "{:.2f} ×", lambda v: v <= 1.0)
    for rate in ("1000", "5000"):
        row(f"CPU/request ≤ 1.0 × nginx, open loop {int(rate) // 1000}k rps",
            ratio(t.get("cpu_open", {}).get(rate), nginx.get("cpu_open", {}).get(rate)),
            "{:.2f} ×", lambda v: v <= 1.0)
    row("CPU/request ≤ 1.5 × bare pass-through", ratio(cpu, peer["passthrough"]), "{:.2f} ×", lambda v: v <= 1.5)
    row("CPU/request < nginx + auth_request", ratio(cpu, peer["nginx-auth"]), "{:.2f} ×", lambda v: v < 1.0)
    row("CPU/request < Envoy", ratio(cpu, peer["envoy"]), "{:.2f} ×", lambda v: v < 1.0)
    busy = busy_baseline(summary)
    for q, limit in (("p50", 50), ("p99", 150)):
        what = f"added {q} at 2k rps ≤ {limit} µs"
        value = t.get("added", {}).get(f"2000_{q}")
        if busy is not None and value is not None:
            rows.append((what, f"{value:.0f} µs", None))
        else:
            row(what, value, "{:.0f} µs", lambda v, limit=limit: v <= limit)
    for q in ("p50", "p99"):
        what = f"added {q} at 2k rps ≤ nginx's"
        mine = t.get("added", {}).get(f"2000_{q}")
        theirs = summary.get("nginx", {}).get("added", {}).get(f"2000_{q}")
        if mine is None or theirs is None:
            rows.append((what, "not measured", None))
        elif busy is not None:
            rows.append((what, f"{mine:.0f} µs vs {theirs:.0f} µs", None))
        else:
            rows.append((what, f"{mine:.0f} µs vs {theirs:.0f} µs", mine <= theirs))
    sts = summary.get("trellis-sts", {}).get("cpu_2k")
    row("CPU/request with STS tokens ≤ SigV4 (trellis-sts / trellis-sigv4)", ratio(sts, cpu),
        "{:.2f} ×", lambda v: v <= 1.0)
    row("idle RSS ≤ 8 MiB", mib(t.get("idle_rss_kib")), "{:.1f} MiB", lambda v: v <= 8)
    row("RSS with 10,000 idle keep-alive connections ≤ 64 MiB", mib(t.get("conn10k_rss_kib")),
        "{:.1f} MiB", lambda v: v <= 64)
    row("exec → first 200 ≤ 50 ms with 1,000 statements", big.get("startup_ms"), "{:.1f} ms", lambda v: v <= 50)
    row("reload effective ≤ 100 ms (median)", reload.get("reload_ms_median"), "{:.1f} ms", lambda v: v <= 100)
    storm = ratio(reload.get("storm_p99"), reload.get("steady_p99"))
    if busy is not None and storm is not None:
        rows.append(("p99 in a 1 Hz reload storm ≤ 1.2 × steady", f"{storm:.2f} ×", None))
    else:
        row("p99 in a 1 Hz reload storm ≤ 1.2 × steady", storm, "{:.2f} ×", lambda v: v <= 1.2)
    row("failed requests in the reload storm = 0", reload.get("storm_failed"), "{}", lambda v: v == 0)
    return rows


def busy_baseline(summary):
    """The direct p50 at 2k rps when it shows a machine too busy for latency figures.

    A loopback round trip to the upstream takes well under a millisecond; when the baseline
    itself waits longer, the generator or the upstream waited for their core, and differences
    of percentiles between runs measure the neighbours, not the hop.
    """
    p50 = summary.get("direct", {}).get("added", {}).get("2000_p50_abs")
    return p50 if p50 is not None and p50 > BUSY_BASELINE_US else None


def before_after(summary):
    """(name, this build, baseline, per-round ratios, verdict) for every configuration that ran
    with both binaries."""
    out = []
    for name, s in summary.items():
        base = summary.get(name + "@baseline")
        if name.endswith("@baseline") or base is None:
            continue
        ratios = [a / b for a, b in zip(s.get("cpu_2k_rounds", []), base.get("cpu_2k_rounds", []))
                  if a is not None and b]
        verdict = ratio_verdict(ratios)
        out.append((name, s.get("cpu_2k"), base.get("cpu_2k"), ratios, verdict))
        # A system of several processes: the Trellis process alone too, where the change is.
        for part in ("trellis authz", "trellis run"):
            mine = s.get("parts_2k_rounds", {}).get(part, [])
            theirs = base.get("parts_2k_rounds", {}).get(part, [])
            if mine and theirs:
                ratios = [a / b for a, b in zip(mine, theirs) if a is not None and b]
                out.append((f"{name} ({part} alone)", s["parts_2k"].get(part),
                            base["parts_2k"].get(part), ratios, ratio_verdict(ratios)))
    return out


def ratio_verdict(ratios):
    """"cheaper"/"costlier" when every round agrees, a tie when the rounds straddle 1.00."""
    if not ratios:
        return "not measured"
    if min(ratios) <= 1.0 <= max(ratios):
        return "tie (within run-to-run noise)"
    return "cheaper" if max(ratios) < 1.0 else "costlier"


def mib(kib):
    return kib / 1024 if kib is not None else None


def f(value, fmt="{:.1f}"):
    return fmt.format(value) if value is not None else "–"


def markdown(summary, meta, order):
    L = []
    L.append(f"Run {meta['date']} — {meta['rounds']} round(s) × {meta['duration']} s "
             f"(+{meta['warmup']} s warm-up) per load run; load average before "
             f"{meta['loadavg_before']}, after {meta['loadavg_after']}.")
    L.append("")
    L.append(f"Machine: {meta['machine']}")
    L.append("")
    names = [n for n in order if n in summary]
    L.append("### CPU per request (system under test, µs, open loop at 2k rps) and throughput")
    L.append("")
    L.append("| configuration | CPU µs/req | × nginx | × pass-through | × nginx+auth | × Envoy "
             "| CPU µs/req closed loop | req/s closed loop | failed |")
    L.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for n in names:
        s = summary[n]
        cells = [f(ratio(s["cpu_2k"], summary.get(p, {}).get("cpu_2k")), "{:.2f}") for p, _ in PEERS]
        L.append(f"| {n} | {f(s['cpu_2k'])} | " + " | ".join(cells)
                 + f" | {f(s['cpu_closed'])} | {f(s['rps_closed'], '{:.0f}')} | {s['failed']} |")
    L.extend(unpinned_section(summary, names))
    L.append("")
    L.append("### Added latency over direct (µs; open loop, coordinated omission corrected)")
    L.append("")
    L.append("| configuration | " + " | ".join(f"{int(r) // 1000}k p50 | {int(r) // 1000}k p99 | {int(r) // 1000}k p99.9"
                                               for r in RATES) + " |")
    L.append("|---|" + "--:|" * (3 * len(RATES)))
    for n in names:
        a = summary[n]["added"]
        if n == "direct":
            cells = [f(a[f"{r}_{q}_abs"], "{:.0f}") for r in RATES for q in ("p50", "p99", "p999")]
            L.append("| direct (absolute) | " + " | ".join(cells) + " |")
        else:
            cells = [f(a[f"{r}_{q}"], "{:.0f}") for r in RATES for q in ("p50", "p99", "p999")]
            L.append(f"| {n} | " + " | ".join(cells) + " |")
    L.append("")
    L.append("### Memory and start-up")
    L.append("")
    L.append("| configuration | idle RSS MiB | RSS with 10k idle conns MiB | of them open at the reading "
             "| peak RSS MiB | exec → first 200 ms |")
    L.append("|---|--:|--:|--:|--:|--:|")
    for n in names:
        s = summary[n]
        if s["idle_rss_kib"] is None:
            continue
        L.append(f"| {n} | {f(mib(s['idle_rss_kib']))} | {f(mib(s['conn10k_rss_kib']))} | "
                 f"{f(s['conn10k_open'], '{:.0f}')} | {f(mib(s['peak_rss_kib']))} | {f(s['startup_ms'])} |")
    pairs = before_after(summary)
    if pairs:
        L.append("")
        L.append("### Before/after: this build against `--baseline-trellis` (CPU µs/req, open loop at 2k rps)")
        L.append("")
        L.append("Each round runs both builds back to back, so the per-round ratio cancels the "
                 "machine's drift; a change whose per-round ratios straddle 1.00 is a tie.")
        L.append("")
        L.append("| configuration | this build | baseline | change (median) | per-round ratios | verdict |")
        L.append("|---|--:|--:|--:|---|---|")
        for n, s_new, s_base, ratios, verdict in pairs:
            change = ratio(s_new, s_base)
            L.append(f"| {n} | {f(s_new)} | {f(s_base)} | "
                     f"{f((change - 1) * 100 if change is not None else None, '{:+.1f} %')} | "
                     f"{', '.join(f'{x:.3f}' for x in ratios) or '–'} | {verdict} |")
    L.extend(sts_section(summary))
    L.extend(authz_section(summary))
    r = summary.get("trellis-reload")
    if r:
        L.append("")
        L.append("### Policy reload (1,000 statements)")
        L.append("")
        L.append("| rename → first request decided by the new policy, median / max ms | steady p99 µs "
                 "| p99 in 1 Hz reload storm µs | ratio | renames | failed requests |")
        L.append("|--:|--:|--:|--:|--:|--:|")
        L.append(f"| {f(r.get('reload_ms_median'))} / {f(r.get('reload_ms_max'))} | {f(r.get('steady_p99'), '{:.0f}')} "
                 f"| {f(r.get('storm_p99'), '{:.0f}')} | {f(ratio(r.get('storm_p99'), r.get('steady_p99')), '{:.2f}')} "
                 f"| {r.get('storm_renames')} | {r.get('storm_failed')} |")
    L.append("")
    L.append(f"### Targets ({HEADLINE}: SigV4 + 10-statement policy + metrics, log off)")
    L.append("")
    L.append("| target | measured | |")
    L.append("|---|--:|---|")
    busy = busy_baseline(summary)
    for what, value, met in targets(summary):
        if met is None:
            latency = "added" in what or "storm" in what
            mark = "not judged: machine busy" if busy is not None and latency else "not measured"
        else:
            mark = "met" if met else "**missed**"
        L.append(f"| {what} | {value} | {mark} |")
    if busy is not None:
        L.append("")
        L.append(f"The direct baseline's p50 at 2k rps was {busy:.0f} µs (a quiet machine: ~100 µs): "
                 "the generator and the upstream waited for their core, so the latency rows show "
                 "the machine's load, not the hops, and the latency targets are not judged.")
    if meta.get("skipped"):
        L.append("")
        L.append("Skipped: " + "; ".join(meta["skipped"]))
    return "\n".join(L) + "\n"


def unpinned_section(summary, names):
    """Closed loop with nothing pinned: the SUT (a fresh process, free on both cores) and the
    generator share the machine, as an app and its sidecar share a node."""
    rows = [n for n in names if summary[n].get("rps_closed_unpinned") is not None]
    if not rows:
        return []
    nginx = summary.get("nginx", {}).get("cpu_closed_unpinned")
    passthrough = summary.get("passthrough", {}).get("cpu_closed_unpinned")
    L = ["", "### CPU per request, closed loop, 2 cores not pinned",
         "", "The SUT and the generator both free on both cores (the upstream stays on core 1); "
         "each SUT is a fresh process, so a multi-threaded runtime starts a worker per core.", "",
         "| configuration | CPU µs/req | × nginx | × pass-through | req/s | failed |",
         "|---|--:|--:|--:|--:|--:|"]
    for n in rows:
        s = summary[n]
        cpu = s["cpu_closed_unpinned"]
        L.append(f"| {n} | {f(cpu)} | {f(ratio(cpu, nginx), '{:.2f}')} | {f(ratio(cpu, passthrough), '{:.2f}')} "
                 f"| {f(s['rps_closed_unpinned'], '{:.0f}')} | {s.get('failed_unpinned', 0)} |")
    return L


def sts_section(summary):
    """The STS identity-token lines: the steady state (a cached token) against SigV4, and what
    a cache miss (one call to the local STS stand-in) adds."""
    warm, cold = summary.get("trellis-sts"), summary.get("trellis-sts-cold")
    if not warm and not cold:
        return []
    sigv4 = summary.get(HEADLINE, {}).get("cpu_2k")
    L = ["", "### IAM-role callers: STS identity tokens", "",
         "`trellis-sts`: one token per caller, verified once through the local STS stand-in "
         "(Python, on the generator core), then answered from the cache. `trellis-sts-cold`: every "
         "request carries a token not seen before, so each waits for one call to the stand-in; "
         "its added latency is over a direct run at the same rate in the same round and includes "
         "the stand-in's own time (a real STS, or its VPC endpoint, adds a network round trip).",
         "",
         "| configuration | CPU µs/req | × trellis-sigv4 | added p50 µs | added p99 µs | at rps | STS calls | refused by STS | failed |",
         "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    if warm:
        a = warm["added"]
        L.append(f"| trellis-sts (cached token) | {f(warm['cpu_2k'])} | {f(ratio(warm['cpu_2k'], sigv4), '{:.2f}')} "
                 f"| {f(a.get('2000_p50'), '{:.0f}')} | {f(a.get('2000_p99'), '{:.0f}')} | 2000 "
                 f"| {warm['sts_calls']} | {warm['sts_rejected']} | {warm['failed']} |")
    if cold:
        L.append(f"| trellis-sts-cold (every request a cache miss) | {f(cold.get('miss_cpu'))} "
                 f"| {f(ratio(cold.get('miss_cpu'), sigv4), '{:.2f}')} "
                 f"| {f(cold.get('miss_added_p50'), '{:.0f}')} | {f(cold.get('miss_added_p99'), '{:.0f}')} "
                 f"| {cold.get('miss_rate') or '–'} | {cold['sts_calls']} | {cold['sts_rejected']} | {cold['failed']} |")
    return L


# Envoy or nginx asking `trellis authz`, and Envoy in front of the sidecar (the alternative).
AUTHZ_SYSTEMS = ("envoy-trellis-grpc", "envoy-trellis-http", "nginx-trellis")
SERIES = "envoy-trellis-series"
AUTHZ_CHECK_TARGET_US = 25.0


def per_round(summary, a, b):
    """`a`'s CPU/request over `b`'s, round by round (both ran in every round, interleaved)."""
    ra = summary.get(a, {}).get("cpu_2k_rounds", [])
    rb = summary.get(b, {}).get("cpu_2k_rounds", [])
    return [x / y for x, y in zip(ra, rb) if x is not None and y]


def cheaper_verdict(ratios):
    """"met" when `a` was cheaper in every round, "missed" when it was costlier in every round,
    "tie" when the rounds disagree: a difference inside the run-to-run noise is no result."""
    if not ratios:
        return None
    if max(ratios) < 1.0:
        return "met"
    if min(ratios) >= 1.0:
        return "missed"
    return "tie"


def authz_targets(summary):
    """(what, figure, verdict) of the targets of `trellis authz`; verdict None when unmeasured."""
    rows = []
    own = summary.get("envoy-trellis-grpc", {}).get("parts_2k", {}).get("trellis authz")
    rounds = summary.get("envoy-trellis-grpc", {}).get("parts_2k_rounds", {}).get("trellis authz", [])
    rounds = [v for v in rounds if v is not None]
    if own is None:
        rows.append((f"`trellis authz`'s own CPU per gRPC check ≤ {AUTHZ_CHECK_TARGET_US:.0f} µs at 2k rps",
                     "not measured", None))
    else:
        verdict = ("met" if max(rounds) <= AUTHZ_CHECK_TARGET_US else
                   "missed" if min(rounds) > AUTHZ_CHECK_TARGET_US else "tie")
        rows.append((f"`trellis authz`'s own CPU per gRPC check ≤ {AUTHZ_CHECK_TARGET_US:.0f} µs at 2k rps",
                     f"{own:.1f} µs (rounds: {', '.join(f'{v:.1f}' for v in rounds)})", verdict))
    for name in ("envoy-trellis-grpc", "envoy-trellis-http"):
        ratios = per_round(summary, name, SERIES)
        value = ratio(summary.get(name, {}).get("cpu_2k"), summary.get(SERIES, {}).get("cpu_2k"))
        what = f"`{name}` CPU/request < `{SERIES}` (Envoy + the sidecar hop in series)"
        if value is None or not ratios:
            rows.append((what, "not measured", None))
        else:
            rows.append((what, f"{value:.2f} × (rounds: {', '.join(f'{x:.2f}' for x in ratios)})",
                         cheaper_verdict(ratios)))
    return rows


def authz_section(summary):
    """CPU per request of each system that pairs a proxy with Trellis, whole and by process."""
    names = [n for base in AUTHZ_SYSTEMS + (SERIES,)
             for n in (base, base + "@baseline") if n in summary]
    if not names:
        return []
    envoy = summary.get("envoy", {}).get("cpu_2k")
    sidecar = summary.get(HEADLINE, {}).get("cpu_2k")
    series = summary.get(SERIES, {}).get("cpu_2k")
    L = ["", "### Proxies asking `trellis authz`, and Envoy in front of the sidecar", "",
         "CPU µs per request at 2k rps, open loop: the whole system (every process on the SUT "
         "core) and each process alone (`/proc/<pid>/stat` of each, same run). For reference: "
         f"`envoy` alone {f(envoy)}, `{HEADLINE}` (the sidecar alone) {f(sidecar)}.", "",
         "| configuration | whole system | by process | × envoy | × trellis-sigv4 | × envoy-trellis-series "
         "| added p50 µs | added p99 µs | failed |",
         "|---|--:|---|--:|--:|--:|--:|--:|--:|"]
    for n in names:
        s = summary[n]
        parts = ", ".join(f"{k} {f(v)}" for k, v in s.get("parts_2k", {}).items()) or "–"
        a = s["added"]
        L.append(f"| {n} | {f(s['cpu_2k'])} | {parts} | {f(ratio(s['cpu_2k'], envoy), '{:.2f}')} "
                 f"| {f(ratio(s['cpu_2k'], sidecar), '{:.2f}')} | {f(ratio(s['cpu_2k'], series), '{:.2f}')} "
                 f"| {f(a.get('2000_p50'), '{:.0f}')} | {f(a.get('2000_p99'), '{:.0f}')} | {s['failed']} |")
    L += ["", "#### Targets of `trellis authz`", "",
          "Per-round figures are shown: the configurations ran interleaved in every round; a "
          "comparison whose rounds disagree is a tie.", "",
          "| target | measured | |", "|---|--:|---|"]
    for what, value, verdict in authz_targets(summary):
        mark = {"met": "met", "missed": "**missed**", "tie": "tie (inside run-to-run noise)",
                None: "not measured"}[verdict]
        L.append(f"| {what} | {value} | {mark} |")
    return L
