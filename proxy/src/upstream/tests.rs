use super::*;

type Body = http_body_util::Empty<bytes::Bytes>;

fn upstream(url: &str, protocol: UpstreamProtocol) -> Upstream<Body> {
    let mut config = UpstreamConfig::new(url.parse().unwrap());
    config.protocol = protocol;
    Upstream::new(&config).unwrap()
}

#[test]
fn requests_go_over_http1_unless_told_otherwise() {
    assert_eq!(UpstreamProtocol::default(), UpstreamProtocol::Http1);
    let config = UpstreamConfig::new("http://127.0.0.1:1".parse().unwrap());
    assert_eq!(config.protocol, UpstreamProtocol::Http1);
    let up = upstream("http://127.0.0.1:1", UpstreamProtocol::Http1);
    assert_eq!(up.version, Version::HTTP_11);
    assert!(up.upgrades);
}

#[test]
fn an_http2_upstream_gets_http2_and_no_upgrades() {
    for url in ["http://127.0.0.1:1", "https://localhost:1"] {
        let up = upstream(url, UpstreamProtocol::Http2);
        assert_eq!(up.version, Version::HTTP_2, "{url}");
        assert!(!up.upgrades, "{url}");
    }
}

#[test]
fn auto_lets_alpn_decide_and_keeps_upgrades_on_http1() {
    for url in ["http://127.0.0.1:1", "https://localhost:1"] {
        let up = upstream(url, UpstreamProtocol::Auto);
        // Sent as HTTP/1.1; hyper speaks HTTP/2 on a connection where ALPN chose `h2`.
        assert_eq!(up.version, Version::HTTP_11, "{url}");
        assert!(up.upgrades, "{url}");
    }
}

#[test]
fn a_ca_file_error_names_the_flag_and_the_file() {
    let mut config = UpstreamConfig::new("https://localhost:1".parse().unwrap());
    config.roots = UpstreamRoots::CaFile("/nonexistent/ca.pem".into());
    let err = Upstream::<Body>::new(&config).unwrap_err().to_string();
    assert!(err.starts_with("`--upstream-ca`: "), "{err}");
    assert!(err.contains("`/nonexistent/ca.pem`"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    config.roots = UpstreamRoots::CaFile(empty.clone());
    let err = Upstream::<Body>::new(&config).unwrap_err().to_string();
    assert!(err.contains(&format!("`{}`", empty.display())), "{err}");
    assert!(err.contains("no certificate"), "{err}");
}
