//! An SVG latency-by-percentile plot, drawn by hand: the x axis is `log10(1 / (1 - p))` like
//! HdrHistogram's plots (so 90%, 99%, 99.9% are evenly spaced and the tail gets the room), the
//! y axis is linear latency. A few hundred bytes of markup do not justify a plotting crate.

use std::fmt::Write as _;

use super::report::Report;

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 480.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;

/// The plot of `report`'s percentile distribution as a standalone SVG document.
pub fn svg(report: &Report) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let count = report.requests.max(10) as f64;
    let x_max = count.log10().ceil().max(1.0);
    let x_of = |p: f64| {
        let v = if p >= 100.0 {
            x_max
        } else {
            (1.0 / (1.0 - p / 100.0)).log10().min(x_max)
        };
        LEFT + v / x_max * plot_w
    };
    let top_latency = report
        .percentiles
        .iter()
        .map(|&(_, l)| l)
        .fold(report.latency_us.max, f64::max);
    let (y_step, y_max) = nice_axis(top_latency);
    let y_of = |l: f64| TOP + plot_h - l / y_max * plot_h;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
        WIDTH / 2.0,
        escape(&format!(
            "{} — {} loop{}, {} conns, sign {}: {} requests, {:.0} rps",
            report.label,
            report.mode,
            report
                .rate
                .map_or(String::new(), |r| format!(" at {r} rps")),
            report.connections,
            report.sign,
            report.requests,
            report.rps
        ))
    );
    // Horizontal grid and latency labels.
    let mut l = 0.0;
    while l <= y_max + y_step / 2.0 {
        let y = y_of(l);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            format_latency(l)
        );
        l += y_step;
    }
    // Vertical grid at 0%, 90%, 99%, ...
    for k in 0..=(x_max as u32) {
        let p = 100.0 * (1.0 - 10f64.powi(-(k as i32)));
        let x = x_of(p);
        let label = if k == 0 {
            "0%".to_owned()
        } else {
            format!("{}%", trim_float(p, k as usize))
        };
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 18.0
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#444"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 16.0
    );
    let _ = writeln!(
        s,
        r#"<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">latency</text>"#,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0
    );
    if !report.percentiles.is_empty() {
        let mut points = String::new();
        for &(p, l) in &report.percentiles {
            let _ = write!(points, "{:.1},{:.1} ", x_of(p), y_of(l));
        }
        let _ = writeln!(
            s,
            r##"<polyline fill="none" stroke="#1f6feb" stroke-width="2" points="{}"/>"##,
            points.trim_end()
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A step of 1, 2 or 5 × 10^k giving 4 to 10 grid lines up to at least `max`.
fn nice_axis(max: f64) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| max / s <= 8.0)
        .unwrap_or(10.0 * mag);
    (step, (max / step).ceil() * step)
}

fn format_latency(us: f64) -> String {
    if us >= 1000.0 {
        format!("{} ms", trim_float(us / 1000.0, 3))
    } else {
        format!("{} µs", trim_float(us, 1))
    }
}

fn trim_float(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
