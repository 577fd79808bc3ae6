//! Values from the Prometheus text exposition `/metrics` serves.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The value of the sample `series` (name with its labels exactly as exported, e.g.
/// `trellis_requests_total{outcome="allowed"}`), `None` when no such line exists.
pub fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
        .map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|e| panic!("`{series}` is not a number ({e}): {v}"))
        })
}

/// The integer value of `series`, 0 when absent (a labelled counter appears only once
/// counted).
pub fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
        .map_or(0, |v| {
            v.trim()
                .parse()
                .unwrap_or_else(|e| panic!("`{series}` is not an integer ({e}): {v}"))
        })
}

/// `GET /metrics` from the admin listener at `admin` (blocking; for tests without a runtime).
pub fn scrape(admin: SocketAddr) -> String {
    let mut s = TcpStream::connect(admin).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nhost: {admin}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 3\na_total{x=\"10\"} 7\nb 1.5\n";

    #[test]
    fn finds_the_series_with_exactly_these_labels() {
        assert_eq!(sample(TEXT, "a_total{x=\"1\"}"), 3);
        assert_eq!(sample(TEXT, "a_total{x=\"10\"}"), 7);
        assert_eq!(sample(TEXT, "a_total{x=\"2\"}"), 0);
        assert_eq!(value(TEXT, "b"), Some(1.5));
        assert_eq!(value(TEXT, "c"), None);
    }
}
