use http::{HeaderMap, HeaderValue, Version};

use crate::layers::identity_headers::{is_upgrade, strip_hop_by_hop};

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_static(v));
    }
    h
}

#[test]
fn only_an_http11_websocket_upgrade_is_tunnelled() {
    let ws = headers(&[
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "WebSocket"),
    ]);
    assert!(is_upgrade(Version::HTTP_11, &ws));
    assert!(!is_upgrade(Version::HTTP_10, &ws));
    assert!(!is_upgrade(Version::HTTP_2, &ws));
}

#[test]
fn an_h2c_upgrade_is_not_an_upgrade() {
    let h2c = headers(&[
        ("connection", "Upgrade, HTTP2-Settings"),
        ("upgrade", "h2c"),
        ("http2-settings", "AAMAAABkAAQAAP__"),
    ]);
    assert!(!is_upgrade(Version::HTTP_11, &h2c));
}

#[test]
fn an_upgrade_offering_more_than_websocket_is_not_an_upgrade() {
    // The upstream would pick among the offers, h2c included.
    let list = headers(&[("connection", "upgrade"), ("upgrade", "websocket, h2c")]);
    assert!(!is_upgrade(Version::HTTP_11, &list));
    let two_lines = headers(&[
        ("connection", "upgrade"),
        ("upgrade", "websocket"),
        ("upgrade", "h2c"),
    ]);
    assert!(!is_upgrade(Version::HTTP_11, &two_lines));
}

#[test]
fn an_upgrade_without_a_connection_upgrade_token_is_not_an_upgrade() {
    let ws = headers(&[("upgrade", "websocket")]);
    assert!(!is_upgrade(Version::HTTP_11, &ws));
    let ws = headers(&[("connection", "keep-alive"), ("upgrade", "websocket")]);
    assert!(!is_upgrade(Version::HTTP_11, &ws));
}

#[test]
fn a_refused_upgrade_is_removed_with_its_connection_tokens() {
    let mut h2c = headers(&[
        ("connection", "Upgrade, HTTP2-Settings"),
        ("upgrade", "h2c"),
        ("http2-settings", "AAMAAABkAAQAAP__"),
        ("accept", "*/*"),
    ]);
    let upgrade = is_upgrade(Version::HTTP_11, &h2c);
    strip_hop_by_hop(&mut h2c, upgrade);
    assert!(!h2c.contains_key("upgrade"));
    assert!(!h2c.contains_key("connection"));
    assert!(!h2c.contains_key("http2-settings"));
    assert_eq!(h2c["accept"], "*/*");

    let mut ws = headers(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
    let upgrade = is_upgrade(Version::HTTP_11, &ws);
    strip_hop_by_hop(&mut ws, upgrade);
    assert_eq!(ws["upgrade"], "websocket");
    assert_eq!(ws["connection"], "upgrade");
}
