//! The result files of `trellis-load` (JSON schema, markdown table, SVG plot) and the signed
//! pool it keeps fresh.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use crate::load_support;

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use load_support::{upstream, Behaviour};
use serde_json::Value;
use trellis_benches::load::requests::Requests;
use trellis_benches::load::{self, Config};
use trellis_sigv4::{
    verify, Authenticated, RequestParts, StaticCredentials, StoredKey, VerifierConfig,
};

fn number(v: &Value, field: &str) -> f64 {
    v[field]
        .as_f64()
        .unwrap_or_else(|| panic!("`{field}` is not a number: {v}"))
}

fn integer(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("`{field}` is not an unsigned integer: {v}"))
}

#[test]
fn json_markdown_and_svg_are_written_with_the_agreed_shape() {
    let up = upstream(Behaviour {
        not_found_prefix: Some("/nope".into()),
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let (json, md, svg) = (
        dir.path().join("r.json"),
        dir.path().join("r.md"),
        dir.path().join("r.svg"),
    );
    load::main_with([
        "trellis-load",
        "-q",
        "--rate",
        "300",
        "-c",
        "4",
        "-d",
        "500ms",
        "--warmup",
        "0s",
        "--paths",
        "/yes,/nope",
        "--label",
        "a|b <run>",
        "--expect-status",
        "200",
        "--json",
        json.to_str().unwrap(),
        "--markdown",
        md.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
        &up.url("/"),
    ])
    .unwrap();

    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["label"], "a|b <run>");
    assert_eq!(v["url"], up.url("/"));
    assert_eq!(v["mode"], "open");
    assert_eq!(number(&v, "rate"), 300.0);
    assert_eq!(integer(&v, "connections"), 4);
    assert_eq!(v["http2"], false);
    assert_eq!(v["sign"], "none");
    assert_eq!(number(&v, "duration_s"), 0.5);
    let requests = integer(&v, "requests");
    assert_eq!(requests, 150);
    assert!((number(&v, "rps") - 300.0).abs() < 1e-9);
    let status = v["status"].as_object().unwrap();
    assert_eq!(status["200"].as_u64(), Some(75));
    assert_eq!(status["404"].as_u64(), Some(75));
    assert_eq!(integer(&v, "unexpected_status"), 75);
    for kind in ["connect", "io", "timeout"] {
        assert_eq!(integer(&v["errors"], kind), 0);
    }
    integer(&v, "late");
    assert!(number(&v, "generator_cpu_us_per_request") >= 0.0);
    let l = &v["latency_us"];
    let order: Vec<f64> = ["min", "p50", "p90", "p99", "p999", "max"]
        .iter()
        .map(|f| number(l, f))
        .collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "{l}");
    assert!(order[0] > 0.0);
    assert!(number(l, "mean") >= order[0] && number(l, "mean") <= order[5]);
    let percentiles: Vec<(f64, f64)> = v["percentiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let p = p.as_array().unwrap();
            assert_eq!(p.len(), 2);
            (p[0].as_f64().unwrap(), p[1].as_f64().unwrap())
        })
        .collect();
    assert!(percentiles.len() >= 10);
    assert_eq!(percentiles.first().unwrap().0, 0.0);
    assert_eq!(percentiles.last().unwrap(), &(100.0, order[5]));
    assert!(percentiles
        .windows(2)
        .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
    assert!(percentiles.iter().any(|&(p, l)| p == 50.0 && l == order[1]));

    let md = std::fs::read_to_string(&md).unwrap();
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(lines.len(), 3, "{md}");
    let cells = |l: &str| l.matches('|').count() - l.matches("\\|").count();
    assert!(lines.iter().all(|l| cells(l) == cells(lines[0])), "{md}");
    assert!(lines[1].starts_with("|---"));
    assert!(
        lines[2].contains("a\\|b <run>") && lines[2].contains("| 150 |"),
        "{md}"
    );

    let svg = std::fs::read_to_string(&svg).unwrap();
    check_well_formed(&svg);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains("a|b &lt;run&gt;"));
    let points = svg
        .split("points=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(points.split(' ').count(), percentiles.len());
    for xy in points.split(' ') {
        let (x, y) = xy.split_once(',').unwrap();
        let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
        assert!(
            (0.0..=800.0).contains(&x) && (0.0..=480.0).contains(&y),
            "{xy}"
        );
    }
    for axis in ["99%", "percentile", "latency"] {
        assert!(svg.contains(&format!(">{axis}<")), "no `{axis}` label");
    }
}

/// Element nesting balanced, attributes quoted, `&` only in entities.
fn check_well_formed(svg: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        check_text(text);
        let close = rest[open..].find('>').expect("unclosed tag") + open;
        let tag = &rest[open + 1..close];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched </{name}>"
            );
        } else {
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name = body.split_whitespace().next().unwrap().to_owned();
            let attrs = &body[name.len()..];
            assert_eq!(
                attrs.matches('"').count() % 2,
                0,
                "unquoted attribute in <{tag}>"
            );
            for part in attrs.split('"').step_by(2) {
                let part = part.trim();
                assert!(
                    part.is_empty() || part.ends_with('='),
                    "bad attribute `{part}` in <{tag}>"
                );
            }
            check_text(attrs);
            if !self_closing {
                stack.push(name);
            }
        }
        rest = &rest[close + 1..];
    }
    check_text(rest);
    assert!(stack.is_empty(), "unclosed {stack:?}");
    assert!(!svg.contains("NaN") && !svg.contains("inf"));
}

fn check_text(text: &str) {
    for (i, _) in text.match_indices('&') {
        let entity = &text[i..];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;"]
                .iter()
                .any(|e| entity.starts_with(e)),
            "raw `&` in {text:?}"
        );
    }
}

#[test]
fn the_signed_pool_is_distinct_valid_and_re_signed_in_the_background() {
    let (config, _) = Config::from_args([
        "trellis-load",
        "-q",
        "--sign",
        "pool",
        "--key",
        "AKIDPOOLA:secret-a",
        "--key",
        "AKIDPOOLB:secret-b",
        "--paths",
        "/x,/y?q=1",
        "--pool-size",
        "16",
        "--resign-every",
        "1s",
        "--region",
        "us-west-2",
        "http://127.0.0.1:9/",
    ])
    .unwrap();
    let (requests, resigner) = Requests::build(&config).unwrap();
    assert!(resigner.is_some());
    let store: StaticCredentials = [
        StoredKey::new("AKIDPOOLA", "secret-a", None, None, 0),
        StoredKey::new("AKIDPOOLB", "secret-b", None, None, 1),
    ]
    .into_iter()
    .collect();
    let cfg = VerifierConfig::new("us-west-2");
    let check = |pool: &[trellis_benches::load::requests::Prepared]| {
        let mut signatures = HashSet::new();
        let mut newest = String::new();
        let mut combos = HashSet::new();
        for p in pool {
            let parts = RequestParts {
                method: "GET",
                target: p.target(),
                headers: p.headers(),
                authority: None,
            };
            let Ok(Authenticated::Signed { key, .. }) =
                verify(&cfg, &parts, SystemTime::now(), &store)
            else {
                panic!("pool entry does not verify: {:?}", p.headers());
            };
            combos.insert((key.access_key_id().to_owned(), p.target().to_owned()));
            signatures.insert(p.headers()["authorization"].clone());
            newest = newest.max(p.headers()["x-amz-date"].to_str().unwrap().to_owned());
            assert_eq!(p.headers()["x-amz-content-sha256"], "UNSIGNED-PAYLOAD");
            assert!(p.headers()["authorization"]
                .to_str()
                .unwrap()
                .contains("x-amz-content-sha256"));
        }
        assert_eq!(signatures.len(), 16, "entries differ");
        assert_eq!(combos.len(), 4, "every key with every path");
        (signatures, newest)
    };
    let before = check(&requests.snapshot());
    std::thread::sleep(Duration::from_millis(2300));
    let after = check(&requests.snapshot());
    assert_ne!(before.0, after.0, "the pool was re-signed");
    assert!(
        after.1 > before.1,
        "with a later date: {} then {}",
        before.1,
        after.1
    );
    drop(resigner);
}
