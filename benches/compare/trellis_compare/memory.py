"""Memory readings of a system under test, and the cost of an idle connection derived from
them (`benches/compare/idle-memory`, the idle-connection figures of `benches/compare/run`)."""

import statistics

from . import procs


def reading(pids):
    """`VmRSS` and its anonymous part (`RssAnon`: heap and stacks, what connections grow),
    in KiB, summed over `pids` and their children, and their open sockets: a proxy that
    closed idle connections before the reading would otherwise look cheap."""
    return {"rss_kib": procs.status_kib(pids, "VmRSS"), "anon_kib": procs.status_kib(pids, "RssAnon"),
            "sockets": procs.socket_count(pids)}


def per_connection_kib(idle_kib, loaded_kib, connections):
    """KiB one idle connection adds: the growth over the idle reading, divided by the count."""
    if idle_kib is None or loaded_kib is None or not connections:
        return None
    return (loaded_kib - idle_kib) / connections


def _med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(rounds):
    """Per configuration, medians over rounds: idle RSS, RSS at each step, KiB per connection
    (at the last step, over idle; and between the first and the last step, which leaves out
    what the first connections cost once, such as a worker's buffers) and RSS after closing."""
    out = {}
    for name, rs in rounds.items():
        s = {"idle_rss_kib": _med([r["idle"]["rss_kib"] for r in rs]),
             "idle_anon_kib": _med([r["idle"]["anon_kib"] for r in rs]),
             "after_close_rss_kib": _med([r.get("after_close", {}).get("rss_kib") for r in rs]),
             "steps": []}
        counts = [st["connections"] for st in rs[0]["steps"]] if rs else []
        for i, n in enumerate(counts):
            s["steps"].append({"connections": n,
                               "rss_kib": _med([r["steps"][i]["rss_kib"] for r in rs]),
                               "anon_kib": _med([r["steps"][i]["anon_kib"] for r in rs]),
                               "open": _med([r["steps"][i].get("sockets", 0) - r["idle"].get("sockets", 0)
                                             for r in rs])})
        if counts:
            last, first = counts[-1], counts[0]
            s["per_conn_kib"] = _med([per_connection_kib(r["idle"]["rss_kib"], r["steps"][-1]["rss_kib"], last)
                                      for r in rs])
            s["marginal_per_conn_kib"] = _med([
                per_connection_kib(r["steps"][0]["rss_kib"], r["steps"][-1]["rss_kib"], last - first)
                for r in rs]) if last > first else None
        out[name] = s
    return out


def mib(kib):
    return f"{kib / 1024:.1f}" if kib is not None else "–"


def markdown(summary, meta):
    counts = next((([st["connections"] for st in s["steps"]]) for s in summary.values()), [])
    L = [f"Run {meta['date']}: `{meta['command']}` at {meta['commit']}, binary {meta['trellis']}"
         + (f", environment {meta['env']}" if meta.get("env") else "")
         + f"; {meta['rounds']} fresh process(es) per configuration, medians; load average "
         f"{meta['loadavg']}.", "",
         "| configuration | idle RSS MiB | " + " | ".join(f"{n:,} conns MiB" for n in counts)
         + " | open at the last reading | KiB/conn | KiB/conn marginal | after closing MiB |",
         "|---|--:|" + "--:|" * len(counts) + "--:|--:|--:|--:|"]
    for name, s in summary.items():
        per, marginal = s.get("per_conn_kib"), s.get("marginal_per_conn_kib")
        last_open = s["steps"][-1]["open"] if s["steps"] else None
        cells = [mib(s["idle_rss_kib"]), *(mib(st["rss_kib"]) for st in s["steps"]),
                 f"{last_open:.0f}" if last_open is not None else "–",
                 f"{per:.2f}" if per is not None else "–",
                 f"{marginal:.2f}" if marginal is not None else "–", mib(s["after_close_rss_kib"])]
        L.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(L) + "\n"
