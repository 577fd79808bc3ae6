"""One SVG with the latency-percentile curve of every configuration at the same rate, so the
hops can be compared at a glance (trellis-load draws one run per plot)."""

import math

COLORS = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a3069",
          "#57606a", "#fb8500", "#2da44e", "#cf222e", "#6639ba", "#0969da", "#953800", "#116329"]
W, H, L, R, T, B = 900, 520, 80, 220, 50, 60


def nines(p):
    """0 % → 0, 90 % → 1, 99 % → 2, 99.9 % → 3 ..."""
    return -math.log10(max(1.0 - p / 100.0, 1e-5))


def percentile_svg(curves, title):
    """`curves`: [(label, [(percentile, latency_us), ...])]; log latency axis."""
    pts = [(p, v) for _, c in curves for p, v in c if v > 0]
    if not pts:
        return None
    xmax = max(3.0, min(5.0, max(nines(p) for p, _ in pts)))
    lo = 10 ** math.floor(math.log10(min(v for _, v in pts)))
    hi = 10 ** math.ceil(math.log10(max(v for _, v in pts)))
    pw, ph = W - L - R, H - T - B

    def x(p):
        return L + pw * min(nines(p), xmax) / xmax

    def y(v):
        return T + ph * (1 - (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="15">{title}</text>']
    v = lo
    while v <= hi * 1.0001:
        label = f"{v / 1000:g} ms" if v >= 1000 else f"{v:g} µs"
        out.append(f'<line x1="{L}" y1="{y(v):.1f}" x2="{L + pw}" y2="{y(v):.1f}" stroke="#ddd"/>'
                   f'<text x="{L - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{label}</text>')
        v *= 10
    for n in range(int(xmax) + 1):
        p = 100 * (1 - 10 ** -n)
        xx = L + pw * n / xmax
        out.append(f'<line x1="{xx:.1f}" y1="{T}" x2="{xx:.1f}" y2="{T + ph}" stroke="#ddd"/>'
                   f'<text x="{xx:.1f}" y="{T + ph + 18}" text-anchor="middle">{p:g}%</text>')
    out.append(f'<rect x="{L}" y="{T}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
    out.append(f'<text x="{L + pw / 2}" y="{H - 16}" text-anchor="middle">percentile</text>')
    for i, (label, c) in enumerate(curves):
        color = COLORS[i % len(COLORS)]
        line = " ".join(f"{x(p):.1f},{y(v):.1f}" for p, v in c if v > 0)
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{line}"/>')
        ly = T + 14 + i * 18
        out.append(f'<line x1="{L + pw + 12}" y1="{ly - 4}" x2="{L + pw + 32}" y2="{ly - 4}" '
                   f'stroke="{color}" stroke-width="3"/><text x="{L + pw + 38}" y="{ly}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
