use http::{HeaderName, Request, Version};

use super::*;

const SIGNED: &str = "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-west-2/vpc-lattice-svcs/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-tenant, Signature=00";

fn rules(underscores: Underscores) -> HeaderRules {
    HeaderRules {
        underscores,
        xff: Xff::Replace,
    }
}

fn req(target: &str, lines: &[(&str, &str)]) -> Request<()> {
    let mut b = Request::get(target);
    for (name, value) in lines {
        b = b.header(*name, *value);
    }
    b.body(()).unwrap()
}

fn settled(mut r: Request<()>, underscores: Underscores) -> Result<Request<()>, HeaderError> {
    settle(&mut r, &rules(underscores)).map(|()| r)
}

fn names(r: &Request<()>) -> Vec<&str> {
    let mut n: Vec<&str> = r.headers().keys().map(HeaderName::as_str).collect();
    n.sort_unstable();
    n
}

// Host

#[test]
fn the_authority_of_an_absolute_form_target_is_written_into_host() {
    let r = settled(req("http://admin.example.com/x", &[]), Underscores::Drop).unwrap();
    assert_eq!(r.headers()["host"], "admin.example.com");
    let all: Vec<_> = r.headers().get_all("host").iter().collect();
    assert_eq!(all.len(), 1);
}

#[test]
fn an_http2_authority_is_written_into_host() {
    let mut r = req("https://svc.example:8443/x", &[]);
    *r.version_mut() = Version::HTTP_2;
    let r = settled(r, Underscores::Drop).unwrap();
    assert_eq!(r.headers()["host"], "svc.example:8443");
}

#[test]
fn an_origin_form_request_keeps_its_host_as_sent() {
    let r = settled(req("/x", &[("host", "Svc.Example")]), Underscores::Drop).unwrap();
    assert_eq!(r.headers()["host"], "Svc.Example");
}

#[test]
fn two_host_lines_are_refused() {
    let r = req("/x", &[("host", "svc.example"), ("host", "admin.example")]);
    assert_eq!(
        settled(r, Underscores::Drop).unwrap_err(),
        HeaderError::HostRepeated
    );
    let same = req("/x", &[("host", "svc.example"), ("host", "svc.example")]);
    assert_eq!(
        settled(same, Underscores::Drop).unwrap_err(),
        HeaderError::HostRepeated
    );
}

#[test]
fn an_authority_that_differs_from_host_is_refused() {
    let absolute = req(
        "http://admin.example.com/x",
        &[("host", "public.example.com")],
    );
    assert_eq!(
        settled(absolute, Underscores::Drop).unwrap_err(),
        HeaderError::HostMismatch {
            authority: "admin.example.com".into(),
            host: "public.example.com".into()
        }
    );
    let mut h2 = req(
        "https://admin.example.com/x",
        &[("host", "public.example.com")],
    );
    *h2.version_mut() = Version::HTTP_2;
    assert!(matches!(
        settled(h2, Underscores::Drop),
        Err(HeaderError::HostMismatch { .. })
    ));
    let port = req("http://svc.example:80/x", &[("host", "svc.example")]);
    assert!(matches!(
        settled(port, Underscores::Drop),
        Err(HeaderError::HostMismatch { .. })
    ));
    // The same host in another case is one host; `Host` is forwarded as sent.
    let case = req("http://SVC.example/x", &[("host", "svc.example")]);
    let r = settled(case, Underscores::Drop).unwrap();
    assert_eq!(r.headers()["host"], "svc.example");
}

#[test]
fn a_request_naming_no_host_is_refused() {
    let mut r = req("/x", &[]);
    *r.version_mut() = Version::HTTP_10;
    assert_eq!(
        settled(r, Underscores::Drop).unwrap_err(),
        HeaderError::HostMissing
    );
}

#[test]
fn a_host_that_is_not_host_and_port_is_refused() {
    for good in [
        "svc.example",
        "svc.example:8080",
        "10.0.0.1:80",
        "[::1]:8080",
        "[2001:db8::1]",
        "svc_1.internal",
    ] {
        assert!(
            settled(req("/", &[("host", good)]), Underscores::Drop).is_ok(),
            "{good}"
        );
    }
    for bad in [
        "",
        "a.example, admin.example",
        "admin.example x",
        "svc.example:",
        "svc.example:http",
        "svc.example:123456",
        "[::1",
        "[zz]:80",
        "a%2eb",
        "svc.example:80:80",
    ] {
        assert!(
            matches!(
                settled(req("/", &[("host", bad)]), Underscores::Drop),
                Err(HeaderError::HostInvalid(_))
            ),
            "{bad}"
        );
    }
    let userinfo = req("http://user@admin.example.com/x", &[]);
    assert!(matches!(
        settled(userinfo, Underscores::Drop),
        Err(HeaderError::HostInvalid(_))
    ));
}

// Connection and hop-by-hop headers

#[test]
fn a_header_named_in_connection_is_removed_before_the_decision() {
    let r = req(
        "/x",
        &[
            ("host", "svc"),
            ("x-tenant", "public"),
            ("connection", "keep-alive, x-tenant"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("te", "trailers, deflate"),
            ("x-kept", "1"),
        ],
    );
    let r = settled(r, Underscores::Drop).unwrap();
    assert_eq!(names(&r), ["host", "te", "x-kept"]);
    assert_eq!(r.headers()["te"], "trailers");
}

#[test]
fn connection_naming_the_host_the_credentials_or_an_x_amz_header_is_refused() {
    for (token, why) in [
        ("Host", "the request's host"),
        ("authorization", "the request's credentials"),
        ("X-Amz-Date", "an `x-amz-*` header"),
        ("x-amz-content-sha256", "an `x-amz-*` header"),
    ] {
        let r = req("/x", &[("host", "svc"), ("connection", token)]);
        assert_eq!(
            settled(r, Underscores::Drop).unwrap_err(),
            HeaderError::ConnectionNamesProtected {
                name: token.into(),
                why
            },
            "{token}"
        );
    }
}

#[test]
fn connection_naming_a_signed_header_is_refused() {
    let header = req(
        "/x",
        &[
            ("host", "svc"),
            ("authorization", SIGNED),
            ("x-tenant", "public"),
            ("connection", "close, X-Tenant"),
        ],
    );
    let e = settled(header, Underscores::Drop).unwrap_err();
    assert_eq!(
        e,
        HeaderError::ConnectionNamesProtected {
            name: "X-Tenant".into(),
            why: "a header the request signed"
        }
    );
    assert!(e.to_string().contains("remove it from `Connection`"), "{e}");
    let presigned = req(
        "/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=host%3Bx-tenant&X-Amz-Signature=00",
        &[("host", "svc"), ("x-tenant", "public"), ("connection", "x-tenant")],
    );
    assert!(matches!(
        settled(presigned, Underscores::Drop),
        Err(HeaderError::ConnectionNamesProtected { .. })
    ));
    // Unsigned, the same header is simply removed.
    let unsigned = req(
        "/x",
        &[
            ("host", "svc"),
            ("x-tenant", "public"),
            ("connection", "x-tenant"),
        ],
    );
    assert_eq!(
        names(&settled(unsigned, Underscores::Drop).unwrap()),
        ["host"]
    );
}

#[test]
fn a_signed_hop_by_hop_header_is_refused_rather_than_removed() {
    let auth = SIGNED.replace("x-tenant", "keep-alive");
    let r = req(
        "/x",
        &[
            ("host", "svc"),
            ("authorization", &auth),
            ("keep-alive", "timeout=5"),
        ],
    );
    assert_eq!(
        settled(r, Underscores::Drop).unwrap_err(),
        HeaderError::SignedRemoved {
            name: HeaderName::from_static("keep-alive"),
            why: Removal::HopByHop
        }
    );
    // `te: trailers` is forwarded as sent, so signing it is fine; `te: trailers, deflate`
    // is rewritten, so it is not.
    let auth = SIGNED.replace("x-tenant", "te");
    let kept = req(
        "/x",
        &[
            ("host", "svc"),
            ("authorization", &auth),
            ("te", "trailers"),
        ],
    );
    assert!(settled(kept, Underscores::Drop).is_ok());
    let rewritten = req(
        "/x",
        &[
            ("host", "svc"),
            ("authorization", &auth),
            ("te", "trailers, deflate"),
        ],
    );
    assert!(matches!(
        settled(rewritten, Underscores::Drop),
        Err(HeaderError::SignedRemoved { .. })
    ));
}

#[test]
fn an_upgrade_request_keeps_connection_upgrade_and_upgrade() {
    let r = req(
        "/ws",
        &[
            ("host", "svc"),
            ("connection", "Upgrade, x-other"),
            ("upgrade", "websocket"),
            ("x-other", "1"),
        ],
    );
    let r = settled(r, Underscores::Drop).unwrap();
    assert_eq!(r.headers()["connection"], "upgrade");
    assert_eq!(r.headers()["upgrade"], "websocket");
    assert!(!r.headers().contains_key("x-other"));
}

#[test]
fn connection_naming_the_request_id_keeps_it() {
    let r = req(
        "/x",
        &[
            ("host", "svc"),
            ("x-amzn-requestid", "id-1"),
            ("connection", "x-amzn-requestid"),
        ],
    );
    let r = settled(r, Underscores::Drop).unwrap();
    assert_eq!(r.headers()["x-amzn-requestid"], "id-1");
    assert!(!r.headers().contains_key("connection"));
}

// Underscores

#[test]
fn underscore_headers_are_dropped_under_drop() {
    let r = req(
        "/x",
        &[
            ("host", "svc"),
            (
                "x_amzn_lattice_identity",
                "Principal=arn:aws:iam::111122223333:role/admin",
            ),
            ("x_debug", "true"),
            ("x-debug", "false"),
        ],
    );
    let r = settled(r, Underscores::Drop).unwrap();
    assert_eq!(names(&r), ["host", "x-debug"]);
}

#[test]
fn underscore_headers_are_refused_under_reject() {
    let r = req("/x", &[("host", "svc"), ("x_debug", "true")]);
    let e = settled(r, Underscores::Reject).unwrap_err();
    assert_eq!(e, HeaderError::Underscore("x_debug".into()));
    assert!(e.to_string().contains("spell it with `-`"), "{e}");
}

#[test]
fn underscore_headers_are_forwarded_under_allow_but_never_spellings_of_owned_headers() {
    let r = req(
        "/x",
        &[
            ("host", "svc"),
            ("x_debug", "true"),
            (
                "x_amzn_lattice_identity",
                "Principal=arn:aws:iam::111122223333:role/admin",
            ),
            ("x-amzn_lattice-identity-tags", "principal=evil"),
            ("x_amzn_source_vpc", "vpc-1"),
            ("x_forwarded_for", "192.0.2.1"),
            ("x_amz_security_token", "t"),
        ],
    );
    let r = settled(r, Underscores::Allow).unwrap();
    assert_eq!(names(&r), ["host", "x_debug"]);
}

#[test]
fn a_signed_underscore_header_is_refused_not_dropped() {
    let auth = SIGNED.replace("x-tenant", "x_tenant");
    let r = req(
        "/x",
        &[
            ("host", "svc"),
            ("authorization", &auth),
            ("x_tenant", "public"),
        ],
    );
    let e = settled(r, Underscores::Drop).unwrap_err();
    assert_eq!(
        e,
        HeaderError::SignedRemoved {
            name: HeaderName::from_static("x_tenant"),
            why: Removal::Underscore
        }
    );
    assert!(e.to_string().contains("spell it with `-`"), "{e}");
    // Under `allow` it is forwarded as signed.
    let r = req(
        "/x",
        &[
            ("host", "svc"),
            ("authorization", &auth),
            ("x_tenant", "public"),
        ],
    );
    assert!(settled(r, Underscores::Allow).is_ok());
}

// Repeated lines

#[test]
fn a_header_read_by_a_policy_on_two_lines_is_found_and_others_are_not() {
    let read = [
        HeaderName::from_static("x-debug"),
        HeaderName::from_static("x-tenant"),
    ];
    let r = req(
        "/x",
        &[
            ("x-debug", "true"),
            ("x-other", "1"),
            ("x-other", "2"),
            ("x-tenant", "a"),
            ("x-tenant", "b"),
        ],
    );
    assert_eq!(repeated_read_header(r.headers(), &read), Some(&read[1]));
    let once = req("/x", &[("x-debug", "true"), ("x-tenant", "a")]);
    assert_eq!(repeated_read_header(once.headers(), &read), None);
    assert_eq!(repeated_read_header(r.headers(), &[]), None);
}
