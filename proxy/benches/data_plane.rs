//! Hot-path pieces of the data plane, without sockets:
//! `cargo bench -p trellis --bench data_plane -- --warm-up-time 1 --measurement-time 3`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "benchmark setup: a broken fixture is a bug best reported by a panic"
)]

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderValue, Method, Request};
use trellis::access_log::AccessRecord;
use trellis::caller_identity::{CallerIdentity, IdentityFields};
use trellis::layers::identity_headers::{rewrite, target_header};
use trellis::layers::normalize::{check_headers, HeaderLimits};
use trellis::layers::request_id::generate;
use trellis::layers::ConnectionInfo;
use trellis::metrics::{AuthnResult, Metrics};
use trellis::normalize::{normalize_path, query_pairs, PathRules};
use trellis::request_head::{settle, HeaderRules, Xff};
use trellis_sigv4::test_util::{sign_request, Signing};

fn normalize(c: &mut Criterion) {
    c.bench_function("normalize_path/plain", |b| {
        b.iter(|| {
            normalize_path(
                black_box("/api/v1/orders/1234567/items"),
                PathRules::default(),
            )
        })
    });
    c.bench_function("normalize_path/dots_and_escapes", |b| {
        b.iter(|| {
            normalize_path(
                black_box("/api//v1/./orders/%2e%2e/%61dmin/x%3ab/../items"),
                PathRules::default(),
            )
        })
    });
    c.bench_function("query_pairs/4", |b| {
        b.iter(|| query_pairs(black_box("tag=a&tag=b&limit=10&q=caf%C3%A9")))
    });
}

fn headers(c: &mut Criterion) {
    let target = target_header(
        "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0",
        Some("arn:aws:vpc-lattice:us-west-2:111122223333:servicenetwork/sn-0123456789abcdef0"),
    )
    .unwrap();
    let caller = CallerIdentity::new(&IdentityFields {
        principal: "arn:aws:sts::111122223333:assumed-role/checkout/task-1",
        org_id: "o-a1b2c3d4e5",
        session_name: "task-1",
        tags: &[("team", "payments")],
    })
    .unwrap();
    let conn = ConnectionInfo::new(
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:8080".parse().unwrap(),
        false,
    );
    let base = Request::get("/orders/7")
        .header("host", "svc.local")
        .header("user-agent", "curl/8")
        .header("accept", "*/*")
        .header("authorization", "AWS4-HMAC-SHA256 Credential=AKIA/20240101/us-west-2/vpc-lattice-svcs/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
        .header("x-amz-date", "20240101T000000Z")
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        .body(())
        .unwrap();
    c.bench_function("identity_headers/rewrite", |b| {
        b.iter_batched(
            || {
                let mut r = base.clone();
                r.extensions_mut().insert(conn.clone());
                trellis::outcome::Outcome::of(&mut r).set_identity(caller.clone());
                r
            },
            |mut r| {
                rewrite(&mut r, &target, Xff::Replace);
                r
            },
            criterion::BatchSize::SmallInput,
        )
    });
    c.bench_function("request_head/settle", |b| {
        b.iter_batched(
            || base.clone(),
            |mut r| {
                let _ = settle(&mut r, &HeaderRules::default());
                r
            },
            criterion::BatchSize::SmallInput,
        )
    });
    c.bench_function("normalize/check_headers", |b| {
        b.iter(|| check_headers(black_box(base.headers()), HeaderLimits::default()))
    });
    c.bench_function("request_id/generate", |b| b.iter(generate));
}

fn audit(c: &mut Criterion) {
    let metrics = Metrics::new("bench").unwrap();
    c.bench_function("metrics/authn_inc", |b| {
        b.iter(|| metrics.shard(0).authn(black_box(AuthnResult::Signed)).inc())
    });
    let record = AccessRecord {
        start_time: SystemTime::now(),
        request_id: Some(HeaderValue::from_static(
            "a9f2c7a1-6b4f-4c79-9e87-ff5a1234a001",
        )),
        method: Method::GET,
        path: "/orders/7".into(),
        protocol: "HTTP/1.1",
        host: Some(HeaderValue::from_static("svc.local")),
        user_agent: Some(HeaderValue::from_static("curl/8")),
        source: Some("10.0.0.1:40000".parse().unwrap()),
        target: Some("127.0.0.1:8081".parse().unwrap()),
        response_code: 200,
        duration_ms: 3,
        request_to_target_ms: 1,
        response_from_target_ms: 1,
        bytes_received: 300,
        bytes_sent: 900,
        service_arn: "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0"
            .into(),
        service_network_arn: None,
        authn: Some(AuthnResult::Anonymous),
        caller: None,
        denied_layer: None,
        failure_reason: None,
        matched_statements: Some(
            [trellis_policy::Matched {
                layer: trellis_policy::Layer::Service,
                index: 0,
                sid: Some("AllowAll".into()),
                effect: trellis_policy::Effect::Allow,
            }]
            .into_iter()
            .collect(),
        ),
        mode: "enforce",
        authorizer: "-",
        shadow: None,
    };
    let mut buf = Vec::with_capacity(1024);
    c.bench_function("access_log/write_json", |b| {
        b.iter(|| {
            buf.clear();
            record.write_json(&mut buf).unwrap();
        })
    });
}

/// Authentication and the layered decision over the example policies, without sockets.
fn auth(c: &mut Criterion) {
    use std::sync::Arc;
    use trellis::admin::Readiness;
    use trellis::auth::Mode;
    use trellis::auth::{AuthSettings, IdentityPolicies};
    use trellis::layers::authenticate::authenticate;
    use trellis::layers::authorize::authorize;
    use trellis::normalize::NormalizedPath;
    use trellis::outcome::Outcome;
    use trellis::snapshot::{AuthType, SnapshotConfig, SnapshotHandle};
    use trellis_sigv4::VerifierConfig;

    let examples =
        std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/examples"));
    let handle = SnapshotHandle::load_initial(
        SnapshotConfig {
            network_auth: AuthType::AwsIam,
            network_policy: Some(examples.join("network-policy.json")),
            service_auth: AuthType::AwsIam,
            service_policy: Some(examples.join("service-policy.json")),
            principals: Some(examples.join("principals.json")),
        },
        Arc::new(Metrics::new("bench").unwrap()),
        Readiness::new(),
    )
    .unwrap();
    let settings = AuthSettings {
        verifier: VerifierConfig::new("us-west-2"),
        service_arn: "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0"
            .into(),
        service_network_arn: None,
        source_vpc: None,
        source_vpc_owner: None,
        identity_policies: IdentityPolicies::Enforce,
        mode: Mode::Enforce,
        xff: Default::default(),
        sts: None,
        enabled: true,
    };
    let now = SystemTime::now();
    let request = |path: &str, headers: &[(String, String)]| {
        let mut b = Request::get(path).header("host", "svc.local");
        for (k, v) in headers {
            b = b.header(k, v);
        }
        let mut req = b.body(()).unwrap();
        let (p, q) = path
            .split_once('?')
            .map_or((path, None), |(p, q)| (p, Some(q)));
        req.extensions_mut()
            .insert(NormalizedPath::new(p, q).unwrap());
        req.extensions_mut().insert(ConnectionInfo::new(
            "10.0.0.7:50000".parse().unwrap(),
            "10.0.0.1:8080".parse().unwrap(),
            false,
        ));
        req
    };
    let signed = {
        let signing = Signing {
            at: now,
            ..Signing::header((
                "AKIAEXAMPLECHECKOUT1",
                "checkout/EXAMPLE/secret/key/do/not/use/0001",
            ))
        };
        let r = sign_request(
            "GET",
            "https://svc.local/orders/7?x=1",
            &[("host", "svc.local")],
            &signing,
        );
        r.headers()
            .iter()
            .filter(|(k, _)| k.as_str() != "host")
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect::<Vec<_>>()
    };
    for (name, path, headers) in [
        ("anonymous", "/public/index.html", Vec::new()),
        ("signed", "/orders/7?x=1", signed),
    ] {
        let mut req = request(path, &headers);
        c.bench_function(&format!("auth/{name}"), |b| {
            b.iter(|| {
                req.extensions_mut().insert(Outcome::new());
                authenticate(&mut req, handle.current(), &settings, now).unwrap();
                authorize(black_box(&req), &settings, now).unwrap();
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = normalize, headers, audit, auth
}
criterion_main!(benches);
