use crate::outcome::matched_list;
use std::net::SocketAddr;
use std::time::Duration;

use http::HeaderMap;
use trellis_policy::{Context, Effect, Key, Values};

use super::*;
use trellis_sigv4::VerifierConfig;

fn settings() -> AuthSettings {
    AuthSettings {
        verifier: VerifierConfig::new("us-west-2"),
        service_arn: "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0"
            .into(),
        service_network_arn: None,
        source_vpc: Some("vpc-1".into()),
        source_vpc_owner: None,
        identity_policies: IdentityPolicies::Enforce,
        mode: Mode::Enforce,
        xff: Default::default(),
        sts: None,
        enabled: true,
    }
}

fn one(v: Option<Values<'_>>) -> Option<String> {
    match v {
        Some(Values::One(s)) => Some(s.to_owned()),
        Some(Values::Many(_)) => panic!("expected one value"),
        None => None,
    }
}

fn many(v: Option<Values<'_>>) -> Vec<String> {
    match v {
        Some(Values::Many(l)) => (0..l.len()).map(|i| l.get(i).to_owned()).collect(),
        other => panic!("expected many values, got {other:?}"),
    }
}

fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

#[test]
fn request_keys_come_from_the_request_connection_and_settings() {
    let s = settings();
    let conn = ConnectionInfo::new(
        "10.0.0.7:50000".parse::<SocketAddr>().unwrap(),
        "10.0.0.1:8443".parse::<SocketAddr>().unwrap(),
        true,
    );
    let path = NormalizedPath::new("/a/b", Some("Tag=x&tag=y%20z&other")).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("x-team", "a, b".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let ctx = RequestContext::new(&s, Some(&conn), "PUT", &path, &headers, None, now);
    let get = |name: &str| {
        let lower = key(name);
        one(ctx.get(&Key::parse(&lower)))
    };
    assert_eq!(get("aws:SourceIp").as_deref(), Some("10.0.0.7"));
    assert_eq!(get("aws:SecureTransport").as_deref(), Some("true"));
    assert_eq!(get("aws:EpochTime").as_deref(), Some("1700000000"));
    assert_eq!(
        get("aws:CurrentTime").as_deref(),
        Some("2023-11-14T22:13:20Z")
    );
    assert_eq!(get("vpc-lattice-svcs:Port").as_deref(), Some("8443"));
    assert_eq!(
        get("vpc-lattice-svcs:RequestMethod").as_deref(),
        Some("PUT")
    );
    assert_eq!(get("vpc-lattice-svcs:RequestPath").as_deref(), Some("/a/b"));
    assert_eq!(
        get("vpc-lattice-svcs:ServiceArn").as_deref(),
        Some(&*s.service_arn)
    );
    assert_eq!(get("vpc-lattice-svcs:ServiceNetworkArn"), None);
    assert_eq!(get("vpc-lattice-svcs:SourceVpc").as_deref(), Some("vpc-1"));
    assert_eq!(get("vpc-lattice-svcs:SourceVpcOwnerAccount"), None);
    assert_eq!(
        get("vpc-lattice-svcs:RequestHeader/X-Team").as_deref(),
        Some("a, b")
    );
    assert_eq!(
        get("vpc-lattice-svcs:RequestHeader/content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(get("vpc-lattice-svcs:RequestHeader/absent"), None);
    let lower = key("vpc-lattice-svcs:RequestQueryString/TAG");
    assert_eq!(many(ctx.get(&Key::parse(&lower))), ["x", "y z"]);
    let lower = key("vpc-lattice-svcs:RequestQueryString/other");
    assert_eq!(many(ctx.get(&Key::parse(&lower))), [""]);
    let lower = key("vpc-lattice-svcs:RequestQueryString/none");
    assert!(ctx.get(&Key::parse(&lower)).is_none());
}

#[test]
fn anonymous_callers_have_a_principal_type_and_no_other_principal_key() {
    let s = settings();
    let path = NormalizedPath::new("/", None).unwrap();
    let headers = HeaderMap::new();
    let ctx = RequestContext::new(&s, None, "GET", &path, &headers, None, SystemTime::now());
    let get = |name: &str| {
        let lower = key(name);
        one(ctx.get(&Key::parse(&lower)))
    };
    assert_eq!(get("aws:PrincipalType").as_deref(), Some("Anonymous"));
    for absent in [
        "aws:PrincipalArn",
        "aws:PrincipalAccount",
        "aws:PrincipalOrgID",
        "aws:PrincipalTag/team",
        "aws:username",
        "aws:SourceIp",
    ] {
        assert_eq!(get(absent), None, "{absent}");
    }
}

#[test]
fn deny_messages_follow_the_contract() {
    let r = "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/";
    assert_eq!(
        denied_message("anonymous", r, PolicyLayer::Network, false),
        format!("User: anonymous is not authorized to perform: vpc-lattice-svcs:Invoke on resource: {r} because no network-based policy allows the vpc-lattice-svcs:Invoke action")
    );
    assert_eq!(
        denied_message("arn:aws:iam::111122223333:user/a", r, PolicyLayer::Identity, true),
        format!("User: arn:aws:iam::111122223333:user/a is not authorized to perform: vpc-lattice-svcs:Invoke on resource: {r} with an explicit deny in a identity-based policy")
    );
}

#[test]
fn matched_statements_are_listed_with_layer_index_and_sid() {
    let m = [
        Matched {
            layer: trellis_policy::Layer::Service,
            index: 0,
            sid: Some("AllowCheckout".into()),
            effect: Effect::Allow,
        },
        Matched {
            layer: trellis_policy::Layer::Identity,
            index: 2,
            sid: None,
            effect: Effect::Allow,
        },
    ];
    assert_eq!(matched_list(&m), "service#0(AllowCheckout),identity#2");
    assert_eq!(matched_list(&[]), "");
    for index in [9, 10, 305, 4_000_000_000, u32::MAX] {
        let one = [Matched {
            layer: trellis_policy::Layer::Network,
            index,
            sid: None,
            effect: Effect::Deny,
        }];
        assert_eq!(matched_list(&one), format!("network#{index}"));
    }
}

/// A snapshot whose service policy allows everything except `x-debug: true`, and whose
/// network level (off) still reads `x-tenant`.
fn debug_deny_snapshot() -> (tempfile::TempDir, Arc<crate::snapshot::Snapshot>) {
    let dir = tempfile::tempdir().unwrap();
    let svc = settings().service_arn;
    std::fs::write(
        dir.path().join("service.json"),
        format!(
            r#"{{"Version":"2012-10-17","Statement":[
              {{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"{svc}/*"}},
              {{"Effect":"Deny","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"{svc}/*",
                "Condition":{{"StringEquals":{{"vpc-lattice-svcs:RequestHeader/x-debug":"true"}}}}}}]}}"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("network.json"),
        format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"{svc}/*",
                "Condition":{{"StringEquals":{{"vpc-lattice-svcs:RequestHeader/x-tenant":"public"}}}}}}}}"#
        ),
    )
    .unwrap();
    let config = crate::snapshot::SnapshotConfig {
        network_auth: crate::snapshot::AuthType::None,
        network_policy: Some(dir.path().join("network.json")),
        service_auth: crate::snapshot::AuthType::AwsIam,
        service_policy: Some(dir.path().join("service.json")),
        principals: None,
    };
    let metrics = crate::metrics::Metrics::new("t").unwrap();
    let snapshot =
        crate::snapshot::load(&config, &metrics, &crate::snapshot::Reporter::stderr()).unwrap();
    (dir, Arc::new(snapshot))
}

fn decided(
    snapshot: &Arc<crate::snapshot::Snapshot>,
    lines: &[(&str, &str)],
) -> Result<(), ProxyError> {
    let mut b = Request::get("/x");
    for (name, value) in lines {
        b = b.header(*name, *value);
    }
    let mut req = b.body(()).unwrap();
    req.extensions_mut()
        .insert(NormalizedPath::new("/x", None).unwrap());
    Outcome::of(&mut req).set_caller(AuthenticatedCaller {
        snapshot: Arc::clone(snapshot),
        principal: None,
        token: None,
    });
    authorize(&req, &settings(), SystemTime::now())
}

#[test]
fn a_header_a_loaded_policy_reads_on_two_lines_is_refused_before_deciding() {
    let (_dir, snapshot) = debug_deny_snapshot();
    assert!(decided(&snapshot, &[]).is_ok());
    assert!(matches!(
        decided(&snapshot, &[("x-debug", "true")]),
        Err(ProxyError::Denied(_))
    ));
    // Two lines: `true, true` would match no `StringEquals "true"`, while most servers read
    // `true`; refused instead.
    let twice = decided(&snapshot, &[("x-debug", "true"), ("x-debug", "true")]);
    match twice {
        Err(ProxyError::BadRequest(BadRequest::Header(HeaderError::RepeatedReadHeader(n)))) => {
            assert_eq!(n, "x-debug");
        }
        other => panic!("{other:?}"),
    }
    // A level that is off still counts: its policy is loaded and reads the header.
    assert!(matches!(
        decided(&snapshot, &[("x-tenant", "a"), ("x-tenant", "b")]),
        Err(ProxyError::BadRequest(_))
    ));
    // Headers no policy reads may repeat.
    assert!(decided(&snapshot, &[("x-other", "1"), ("x-other", "2")]).is_ok());
}

#[test]
fn a_header_a_loaded_policy_reads_with_bytes_outside_ascii_is_refused() {
    let (_dir, snapshot) = debug_deny_snapshot();
    let mut req = Request::get("/x").body(()).unwrap();
    req.headers_mut().insert(
        "x-debug",
        http::HeaderValue::from_bytes(b"tru\xe9").unwrap(),
    );
    req.headers_mut().insert(
        "x-other",
        http::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
    );
    req.extensions_mut()
        .insert(NormalizedPath::new("/x", None).unwrap());
    Outcome::of(&mut req).set_caller(AuthenticatedCaller {
        snapshot: Arc::clone(&snapshot),
        principal: None,
        token: None,
    });
    match authorize(&req, &settings(), SystemTime::now()) {
        Err(ProxyError::BadRequest(BadRequest::Header(HeaderError::ReadHeaderNotText(n)))) => {
            assert_eq!(n, "x-debug");
        }
        other => panic!("{other:?}"),
    }
    // A header no policy reads may hold such bytes.
    req.headers_mut().remove("x-debug");
    assert!(authorize(&req, &settings(), SystemTime::now()).is_ok());
}

#[test]
fn a_query_key_a_loaded_policy_reads_in_two_letter_cases_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let svc = settings().service_arn;
    std::fs::write(
        dir.path().join("service.json"),
        format!(
            r#"{{"Version":"2012-10-17","Statement":[
              {{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"{svc}/*"}},
              {{"Effect":"Deny","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"{svc}/*",
                "Condition":{{"ForAnyValue:StringEquals":{{"vpc-lattice-svcs:RequestQueryString/Action":"drop"}}}}}}]}}"#
        ),
    )
    .unwrap();
    let config = crate::snapshot::SnapshotConfig {
        network_auth: crate::snapshot::AuthType::None,
        network_policy: None,
        service_auth: crate::snapshot::AuthType::AwsIam,
        service_policy: Some(dir.path().join("service.json")),
        principals: None,
    };
    let metrics = crate::metrics::Metrics::new("t").unwrap();
    let snapshot = Arc::new(
        crate::snapshot::load(&config, &metrics, &crate::snapshot::Reporter::stderr()).unwrap(),
    );
    let decide = |query: &str| {
        let mut req = Request::get("/x").body(()).unwrap();
        req.extensions_mut()
            .insert(NormalizedPath::new("/x", Some(query)).unwrap());
        Outcome::of(&mut req).set_caller(AuthenticatedCaller {
            snapshot: Arc::clone(&snapshot),
            principal: None,
            token: None,
        });
        authorize(&req, &settings(), SystemTime::now())
    };
    assert!(decide("action=keep&ACTION=keep").is_err());
    match decide("action=keep&Action=drop") {
        Err(ProxyError::BadRequest(BadRequest::Header(HeaderError::QueryKeyInTwoCases(a, b)))) => {
            assert_eq!((a.as_str(), b.as_str()), ("action", "Action"));
        }
        other => panic!("{other:?}"),
    }
    // One spelling, repeated, is one key to everyone; keys no policy reads may differ in case.
    assert!(decide("action=keep&action=keep2&x=1&X=2").is_ok());
    assert!(matches!(decide("Action=drop"), Err(ProxyError::Denied(_))));
}

#[test]
fn headers_the_proxy_writes_are_read_as_the_upstream_gets_them() {
    let mut s = settings();
    s.xff = crate::request_head::Xff::Replace;
    let conn = ConnectionInfo::new(
        "10.0.0.7:50000".parse::<SocketAddr>().unwrap(),
        "10.0.0.1:8443".parse::<SocketAddr>().unwrap(),
        false,
    );
    let path = NormalizedPath::new("/", None).unwrap();
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("authorization", "AWS4-HMAC-SHA256 Credential=..."),
        ("x-amz-security-token", "token"),
        (
            "x-amzn-lattice-identity",
            "Principal=arn:aws:iam::1:role/admin",
        ),
        ("x-amzn-lattice-network", "forged"),
        ("x-amzn-source-vpc", "vpc-forged"),
        ("x-amzn-lattice-target", "forged"),
        ("x-forwarded-for", "192.0.2.1"),
        ("x-forwarded-port", "1"),
        ("x-forwarded-proto", "https"),
    ] {
        headers.insert(name, value.parse().unwrap());
    }
    let ctx = RequestContext::new(
        &s,
        Some(&conn),
        "GET",
        &path,
        &headers,
        None,
        SystemTime::now(),
    );
    let get = |name: &str| {
        one(ctx.get(&Key::parse(&key(&format!(
            "vpc-lattice-svcs:RequestHeader/{name}"
        )))))
    };
    for never in [
        "authorization",
        "x-amz-security-token",
        "x-amzn-lattice-identity",
        "x-amzn-lattice-identity-tags",
        "x-amzn-lattice-network",
        "x-amzn-source-vpc",
    ] {
        assert_eq!(get(never), None, "{never}");
    }
    assert_eq!(get("x-forwarded-for").as_deref(), Some("10.0.0.7"));
    assert_eq!(get("x-forwarded-port").as_deref(), Some("8443"));
    assert_eq!(get("x-forwarded-proto").as_deref(), Some("http"));
    let target = get("x-amzn-lattice-target").unwrap();
    assert!(
        target.starts_with(&format!("ServiceArn={}; ", s.service_arn)),
        "{target}"
    );
    let caller = crate::caller_identity::CallerIdentity {
        identity: "Principal=arn:aws:iam::111122223333:user/u; Type=AWS_IAM"
            .parse()
            .unwrap(),
        tags: "principal=arn:aws:iam::111122223333:user/u"
            .parse()
            .unwrap(),
    };
    s.xff = crate::request_head::Xff::Append;
    let ctx = RequestContext::new(
        &s,
        Some(&conn),
        "GET",
        &path,
        &headers,
        None,
        SystemTime::now(),
    )
    .with_caller(Some(&caller));
    let get = |name: &str| {
        one(ctx.get(&Key::parse(&key(&format!(
            "vpc-lattice-svcs:RequestHeader/{name}"
        )))))
    };
    assert_eq!(
        get("x-amzn-lattice-identity").as_deref(),
        caller.identity.to_str().ok()
    );
    assert_eq!(
        get("x-amzn-lattice-identity-tags").as_deref(),
        caller.tags.to_str().ok()
    );
    assert_eq!(
        get("x-forwarded-for").as_deref(),
        Some("192.0.2.1, 10.0.0.7")
    );
}
