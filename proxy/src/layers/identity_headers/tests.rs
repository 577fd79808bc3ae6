use super::*;
use crate::caller_identity::{CallerIdentity, IdentityFields};

fn target() -> HeaderValue {
    target_header(
        "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0",
        Some("arn:aws:vpc-lattice:us-west-2:111122223333:servicenetwork/sn-0123456789abcdef0"),
    )
    .unwrap()
}

fn conn(tls: bool) -> ConnectionInfo {
    ConnectionInfo::new(
        "10.1.2.3:5555".parse().unwrap(),
        "127.0.0.1:8080".parse().unwrap(),
        tls,
    )
}

#[test]
fn spoofable_headers_are_removed_and_target_added() {
    let mut req = Request::get("/")
        .header("x-amzn-lattice-identity", "Principal=evil")
        .header("x-amzn-lattice-identity-tags", "principal=evil")
        .header("x-amzn-lattice-network", "x")
        .header("x-amzn-lattice-target", "ServiceArn=evil")
        .header("x-amzn-source-vpc", "vpc-1")
        .header("authorization", "AWS4-HMAC-SHA256 ...")
        .header("x-amz-security-token", "tok")
        .header("x-keep", "yes")
        .body(())
        .unwrap();
    rewrite(&mut req, &target(), Xff::Replace);
    let h = req.headers();
    for name in [
        "x-amzn-lattice-identity",
        "x-amzn-lattice-identity-tags",
        "x-amzn-lattice-network",
        "x-amzn-source-vpc",
        "authorization",
        "x-amz-security-token",
    ] {
        assert!(!h.contains_key(name), "{name}");
    }
    assert_eq!(h["x-amzn-lattice-target"], "ServiceArn=arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0; ServiceNetworkArn=arn:aws:vpc-lattice:us-west-2:111122223333:servicenetwork/sn-0123456789abcdef0");
    assert_eq!(h["x-keep"], "yes");
}

#[test]
fn target_without_network_keeps_the_empty_value() {
    assert_eq!(
        target_header("arn:s", None).unwrap(),
        "ServiceArn=arn:s; ServiceNetworkArn="
    );
}

#[test]
fn caller_identity_headers_are_added_when_present() {
    let caller = CallerIdentity::new(&IdentityFields {
        principal: "arn:aws:iam::111122223333:user/alice",
        org_id: "",
        session_name: "",
        tags: &[("team", "a;b")],
    })
    .unwrap();
    let mut req = Request::get("/").body(()).unwrap();
    crate::outcome::Outcome::of(&mut req).set_identity(caller);
    rewrite(&mut req, &target(), Xff::Replace);
    assert_eq!(
        req.headers()["x-amzn-lattice-identity"],
        "Principal=arn:aws:iam::111122223333:user/alice; PrincipalOrgID=; SessionName=; Type=AWS_IAM"
    );
    assert_eq!(
        req.headers()["x-amzn-lattice-identity-tags"],
        "principal=arn:aws:iam::111122223333:user/alice;principalorgid=;principal-team=a\\;b"
    );
}

#[test]
fn xff_replace_forwards_the_peer_alone_whatever_the_caller_claims() {
    let mut req = Request::get("/")
        .header("x-forwarded-for", "192.0.2.1")
        .header("x-forwarded-for", "198.51.100.2")
        .body(())
        .unwrap();
    req.extensions_mut().insert(conn(true));
    rewrite(&mut req, &target(), Xff::Replace);
    let all: Vec<_> = req.headers().get_all("x-forwarded-for").iter().collect();
    assert_eq!(all, ["10.1.2.3"]);
    assert_eq!(req.headers()["x-forwarded-port"], "8080");
    assert_eq!(req.headers()["x-forwarded-proto"], "https");
}

#[test]
fn xff_append_keeps_the_callers_chain_and_appends_the_peer() {
    let mut req = Request::get("/")
        .header("x-forwarded-for", "192.0.2.1")
        .body(())
        .unwrap();
    req.extensions_mut().insert(conn(true));
    rewrite(&mut req, &target(), Xff::Append);
    assert_eq!(req.headers()["x-forwarded-for"], "192.0.2.1, 10.1.2.3");
    let mut plain = Request::get("/").body(()).unwrap();
    plain.extensions_mut().insert(conn(false));
    rewrite(&mut plain, &target(), Xff::Append);
    assert_eq!(plain.headers()["x-forwarded-for"], "10.1.2.3");
    assert_eq!(plain.headers()["x-forwarded-proto"], "http");
}

#[test]
fn hop_by_hop_headers_are_removed_but_te_trailers_stays() {
    let mut req = Request::post("/")
        .header("connection", "keep-alive, x-secret")
        .header("x-secret", "1")
        .header("keep-alive", "timeout=5")
        .header("proxy-connection", "keep-alive")
        .header("transfer-encoding", "chunked")
        .header("upgrade", "websocket")
        .header("te", "trailers, deflate")
        .body(())
        .unwrap();
    let upgrade = is_upgrade(req.version(), req.headers());
    strip_hop_by_hop(req.headers_mut(), upgrade);
    let h = req.headers();
    for name in [
        "connection",
        "x-secret",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
    ] {
        assert!(!h.contains_key(name), "{name}");
    }
    assert_eq!(h["te"], "trailers");
    let mut gzip_only = Request::get("/").header("te", "gzip").body(()).unwrap();
    strip_hop_by_hop(gzip_only.headers_mut(), false);
    assert!(!gzip_only.headers().contains_key("te"));
}

#[test]
fn upgrade_requests_keep_connection_upgrade() {
    let mut req = Request::get("/ws")
        .header("connection", "Upgrade, x-other")
        .header("upgrade", "websocket")
        .header("x-other", "1")
        .body(())
        .unwrap();
    assert!(is_upgrade(req.version(), req.headers()));
    strip_hop_by_hop(req.headers_mut(), true);
    assert_eq!(req.headers()["connection"], "upgrade");
    assert_eq!(req.headers()["upgrade"], "websocket");
    assert!(!req.headers().contains_key("x-other"));
}
