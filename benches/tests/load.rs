//! `trellis-load` against a real hyper upstream on loopback: counts, pacing, latency measured
//! from the schedule (coordinated omission), signing verified by Trellis's verifier, statuses,
//! errors and the result files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use crate::load_support;

use std::time::{Duration, Instant};

use load_support::{sts, upstream, Behaviour};
use trellis_benches::load::args::SigningKey;
use trellis_benches::load::sts_token::TokenMaker;
use trellis_benches::load::{self, Config, LoadError, Report};

fn run(args: &[&str]) -> Report {
    let mut argv = vec!["trellis-load", "--quiet"];
    argv.extend_from_slice(args);
    let (config, _) = Config::from_args(argv).unwrap();
    load::run(&config).unwrap()
}

fn status(r: &Report, code: &str) -> u64 {
    r.status.get(code).copied().unwrap_or(0)
}

const KEY_A: &str = "AKIDLOADTESTA:secretA/K7MDENG+bPxRfiCYEXAMPLEKEY";
const KEY_B: &str = "AKIDLOADTESTB:secretB/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn verifying(region: &str) -> Behaviour {
    Behaviour {
        verify_keys: [KEY_A, KEY_B]
            .iter()
            .map(|k| {
                let (id, s) = k.split_once(':').unwrap();
                (id.to_owned(), s.to_owned())
            })
            .collect(),
        region: region.to_owned(),
        ..Behaviour::default()
    }
}

#[test]
fn closed_loop_counts_what_the_server_answered() {
    let up = upstream(Behaviour::default());
    let r = run(&["-c", "4", "-d", "400ms", "--warmup", "0s", &up.url("/x")]);
    let served = up.seen().requests;
    assert!(r.requests > 50, "{r:?}");
    // Requests in flight when the run ends reach the server but are not counted.
    assert!(
        served >= r.requests && served <= r.requests + 4,
        "server {served}, client {}",
        r.requests
    );
    assert_eq!(status(&r, "200"), r.requests);
    assert_eq!((r.errors.connect, r.errors.io, r.errors.timeout), (0, 0, 0));
    assert_eq!(r.mode, "closed");
    assert_eq!(r.rate, None);
    assert_eq!(r.late, 0);
    assert!((r.rps - r.requests as f64 / 0.4).abs() < 1e-6);
}

#[test]
fn closed_loop_cycles_paths_in_send_order_whatever_their_latency() {
    // As many paths as connections: each connection must still alternate between them, so a
    // slow path gets its share of the requests.
    let up = upstream(Behaviour {
        delay: Duration::from_millis(20),
        delay_prefix: Some("/slow".into()),
        not_found_prefix: Some("/slow".into()),
        ..Behaviour::default()
    });
    let r = run(&[
        "-c",
        "2",
        "-d",
        "500ms",
        "--warmup",
        "0s",
        "--paths",
        "/fast,/slow",
        &up.url("/"),
    ]);
    let (fast, slow) = (status(&r, "200"), status(&r, "404"));
    assert!(slow >= 10, "{:?}", r.status);
    assert!(fast.abs_diff(slow) <= 2, "{:?}", r.status);
}

#[test]
fn closed_loop_over_h2c_with_several_streams_on_two_threads() {
    let up = upstream(Behaviour::default());
    let r = run(&[
        "--http2",
        "--threads",
        "2",
        "-c",
        "2",
        "--streams",
        "4",
        "-d",
        "400ms",
        "--warmup",
        "100ms",
        &up.url("/h2"),
    ]);
    let served = up.seen().requests;
    assert!(r.requests > 50, "{r:?}");
    assert!(
        served >= r.requests,
        "server {served}, client {}",
        r.requests
    );
    assert_eq!(status(&r, "200"), r.requests);
    assert!(r.http2);
    assert_eq!((r.errors.connect, r.errors.io, r.errors.timeout), (0, 0, 0));
}

#[test]
fn open_loop_sends_at_the_rate_for_the_duration() {
    let up = upstream(Behaviour::default());
    let started = Instant::now();
    let r = run(&[
        "--rate",
        "400",
        "-c",
        "8",
        "-d",
        "1s",
        "--warmup",
        "200ms",
        &up.url("/"),
    ]);
    let took = started.elapsed();
    // The schedule holds exactly rate x duration measured requests; each one is answered or
    // counted as an error.
    let accounted = r.requests + r.errors.connect + r.errors.io + r.errors.timeout;
    assert_eq!(accounted, 400, "{r:?}");
    assert!(r.requests >= 396, "{r:?}");
    assert_eq!(up.seen().requests, 480);
    // Paced, not bursted: the run lasts its schedule and the arrivals spread over it.
    assert!(took >= Duration::from_millis(1190), "took {took:?}");
    let arrivals = up.seen().arrivals;
    let first = arrivals[0];
    let mid = arrivals
        .iter()
        .filter(|t| t.duration_since(first) < Duration::from_millis(600))
        .count();
    assert!((160..=320).contains(&mid), "{mid} of 480 in the first half");
    assert_eq!(r.mode, "open");
    assert_eq!(r.rate, Some(400.0));
}

#[test]
fn open_loop_latency_counts_from_the_scheduled_time() {
    let up = upstream(Behaviour {
        delay: Duration::from_millis(20),
        ..Behaviour::default()
    });
    let r = run(&[
        "--rate",
        "100",
        "-c",
        "4",
        "-d",
        "600ms",
        "--warmup",
        "100ms",
        &up.url("/"),
    ]);
    assert!(r.requests >= 55, "{r:?}");
    assert!(r.latency_us.min >= 20_000.0, "{:?}", r.latency_us);
    assert!(r.latency_us.p50 >= 20_000.0, "{:?}", r.latency_us);
}

#[test]
fn a_stall_shows_in_the_tail_of_every_request_scheduled_during_it() {
    // 200 rps over 2 connections; the server stops answering for 300 ms at request 100. The
    // ~60 requests due during the stall wait for a connection: measured from their due time
    // they are slow, although each is answered quickly once sent.
    let up = upstream(Behaviour {
        stall: Some((100, Duration::from_millis(300))),
        ..Behaviour::default()
    });
    let r = run(&[
        "--rate",
        "200",
        "-c",
        "2",
        "-d",
        "1500ms",
        "--warmup",
        "100ms",
        &up.url("/"),
    ]);
    assert_eq!(r.requests, 300, "{r:?}");
    assert!(r.latency_us.max >= 250_000.0, "{:?}", r.latency_us);
    assert!(r.latency_us.p99 >= 150_000.0, "{:?}", r.latency_us);
    assert!(r.latency_us.p90 >= 10_000.0, "{:?}", r.latency_us);
    assert!(r.late >= 30, "late {}", r.late);
    // Without a stall the median stays small.
    assert!(r.latency_us.p50 < 50_000.0, "{:?}", r.latency_us);
}

#[test]
fn pool_signed_requests_verify_with_every_key_and_path() {
    let up = upstream(verifying("us-west-2"));
    let r = run(&[
        "--sign",
        "pool",
        "--key",
        KEY_A,
        "--key",
        KEY_B,
        "--region",
        "us-west-2",
        "--paths",
        "/a,/b?x=1&y=%20z",
        "--pool-size",
        "8",
        "-c",
        "2",
        "-d",
        "300ms",
        "--warmup",
        "0s",
        &up.url("/"),
    ]);
    assert!(r.requests > 20, "{r:?}");
    assert_eq!(status(&r, "200"), r.requests, "{:?}", r.status);
    assert_eq!(up.seen().rejected, 0);
    let signed = up.seen().signed;
    for id in ["AKIDLOADTESTA", "AKIDLOADTESTB"] {
        for path in ["/a", "/b?x=1&y=%20z"] {
            assert!(
                signed.contains(&(id.to_owned(), path.to_owned())),
                "{signed:?}"
            );
        }
    }
    assert_eq!(r.sign, "pool");
}

#[test]
fn per_request_signing_verifies_over_h2c_too() {
    let up = upstream(verifying("eu-west-1"));
    let r = run(&[
        "--sign",
        "per-request",
        "--key",
        KEY_A,
        "--key",
        KEY_B,
        "--region",
        "eu-west-1",
        "--paths",
        "/p,/q",
        "--http2",
        "-c",
        "1",
        "--rate",
        "200",
        "-d",
        "300ms",
        "--warmup",
        "0s",
        &up.url("/"),
    ]);
    assert_eq!(r.requests, 60, "{r:?}");
    assert_eq!(status(&r, "200"), 60, "{:?}", r.status);
    assert_eq!(up.seen().signed.len(), 4);
    assert_eq!(r.sign, "per-request");
}

const AUDIENCE: &str = "svc-0123456789abcdef0";

fn verifying_tokens(region: &str, audience: &str) -> Behaviour {
    Behaviour {
        sts_audience: Some(audience.to_owned()),
        ..verifying(region)
    }
}

fn key_parts(k: &str) -> SigningKey {
    let (id, secret) = k.split_once(':').unwrap();
    SigningKey {
        access_key_id: id.to_owned(),
        secret: secret.to_owned(),
    }
}

#[test]
fn sts_tokens_are_one_per_key_reused_by_every_request_and_verify_for_the_audience() {
    let up = upstream(verifying_tokens("us-west-2", AUDIENCE));
    let r = run(&[
        "--sign",
        "sts-token",
        "--sts-audience",
        AUDIENCE,
        "--key",
        KEY_A,
        "--key",
        KEY_B,
        "--region",
        "us-west-2",
        "--paths",
        "/a,/b?x=1",
        "-c",
        "2",
        "-d",
        "300ms",
        "--warmup",
        "0s",
        &up.url("/"),
    ]);
    assert!(r.requests > 20, "{r:?}");
    assert_eq!(status(&r, "200"), r.requests, "{:?}", r.status);
    assert_eq!(up.seen().rejected, 0);
    // Two keys, two tokens: the server sees each token again and again (its cache's steady
    // state), with every path.
    assert_eq!(up.seen().tokens.len(), 2);
    let signed = up.seen().signed;
    for id in ["AKIDLOADTESTA", "AKIDLOADTESTB"] {
        for path in ["/a", "/b?x=1"] {
            assert!(
                signed.contains(&(id.to_owned(), path.to_owned())),
                "{signed:?}"
            );
        }
    }
    assert_eq!(r.sign, "sts-token");
}

#[test]
fn sts_tokens_for_another_audience_fail_the_signature() {
    let up = upstream(verifying_tokens("us-west-2", "svc-another"));
    let r = run(&[
        "--sign",
        "sts-token",
        "--sts-audience",
        AUDIENCE,
        "--key",
        KEY_A,
        "--region",
        "us-west-2",
        "-c",
        "1",
        "-d",
        "200ms",
        "--warmup",
        "0s",
        &up.url("/"),
    ]);
    assert!(r.requests > 0);
    assert_eq!(status(&r, "403"), r.requests, "{:?}", r.status);
}

#[test]
fn sts_tokens_are_renewed_every_resign_period() {
    let up = upstream(verifying_tokens("eu-west-1", AUDIENCE));
    let r = run(&[
        "--sign",
        "sts-token",
        "--sts-audience",
        AUDIENCE,
        "--key",
        KEY_A,
        "--region",
        "eu-west-1",
        "--resign-every",
        "1s",
        "-c",
        "1",
        "--rate",
        "100",
        "-d",
        "2300ms",
        "--warmup",
        "0s",
        &up.url("/"),
    ]);
    assert_eq!(status(&r, "200"), r.requests, "{:?}", r.status);
    // Made at the start, then after 1 s and 2 s: X-Amz-Date has a resolution of a second.
    let tokens = up.seen().tokens.len();
    assert!((2..=3).contains(&tokens), "{tokens} tokens");
}

#[test]
fn many_keys_give_every_request_a_token_the_server_has_not_seen() {
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<String> = (0..50)
        .map(|i| format!("AKIDCOLD{i:04} cold/secret/{i:04}\n"))
        .collect();
    let path = dir.path().join("keys");
    std::fs::write(&path, keys.concat()).unwrap();
    let mut b = verifying_tokens("us-west-2", AUDIENCE);
    b.verify_keys = (0..50)
        .map(|i| (format!("AKIDCOLD{i:04}"), format!("cold/secret/{i:04}")))
        .collect();
    let up = upstream(b);
    let r = run(&[
        "--sign",
        "sts-token",
        "--sts-audience",
        AUDIENCE,
        "--keys-file",
        path.to_str().unwrap(),
        "--region",
        "us-west-2",
        "-c",
        "1",
        "--rate",
        "100",
        "-d",
        "400ms",
        "--warmup",
        "0s",
        &up.url("/"),
    ]);
    assert_eq!(r.requests, 40, "{r:?}");
    assert_eq!(status(&r, "200"), 40, "{:?}", r.status);
    assert_eq!(up.seen().tokens.len(), 40);
}

#[test]
fn an_sts_token_is_the_presigned_get_caller_identity_url_that_aws_sigv4_signs() {
    use aws_sigv4::http_request::{
        sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    };
    let at = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let maker = TokenMaker::new(&[key_parts(KEY_A)], "ap-southeast-2", AUDIENCE);
    let authorization = maker.authorization(0, at).unwrap();
    let authorization = authorization.to_str().unwrap();

    // Decoded, the token is the GetCallerIdentity URL with exactly the presigning parameters.
    let url = sts::decode_authorization(authorization).unwrap();
    assert!(
        url.starts_with("https://sts.ap-southeast-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"),
        "{url}"
    );
    let params = sts::query_params(&url);
    let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "Action",
            "Version",
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-Expires",
            "X-Amz-SignedHeaders",
            "X-Amz-Signature"
        ]
    );
    let value = |k: &str| params.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(value("X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
    assert_eq!(
        value("X-Amz-Credential"),
        "AKIDLOADTESTA/20260101/ap-southeast-2/sts/aws4_request"
    );
    assert_eq!(value("X-Amz-Date"), "20260101T000000Z");
    assert_eq!(value("X-Amz-Expires"), "60");
    assert_eq!(value("X-Amz-SignedHeaders"), "host;x-k8s-aws-id");

    // aws-sigv4, given the same inputs, computes the same signature.
    let identity: aws_smithy_runtime_api::client::identity::Identity =
        aws_credential_types::Credentials::new(
            "AKIDLOADTESTA",
            "secretA/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test",
        )
        .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(60));
    let params_v4: aws_sigv4::http_request::SigningParams<'_> =
        aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region("ap-southeast-2")
            .name("sts")
            .time(at)
            .settings(settings)
            .build()
            .unwrap()
            .into();
    let request = SignableRequest::new(
        "GET",
        "https://sts.ap-southeast-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
        [("x-k8s-aws-id", AUDIENCE)].into_iter(),
        SignableBody::UnsignedPayload,
    )
    .unwrap();
    let (_, signature) = sign(request, &params_v4).unwrap().into_parts();
    assert_eq!(value("X-Amz-Signature"), signature);

    // And the independent verifier agrees, for this audience only and this key only.
    let secret =
        |id: &str| (id == "AKIDLOADTESTA").then(|| "secretA/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned());
    let t = sts::verify_token(authorization, "ap-southeast-2", AUDIENCE, secret).unwrap();
    assert_eq!(t.access_key_id, "AKIDLOADTESTA");
    assert!(sts::verify_token(authorization, "ap-southeast-2", "svc-other", secret).is_err());
    assert!(sts::verify_token(authorization, "us-east-1", AUDIENCE, secret).is_err());
    let wrong = |_: &str| Some("not-the-secret".to_owned());
    assert!(sts::verify_token(authorization, "ap-southeast-2", AUDIENCE, wrong).is_err());
}

#[test]
fn a_wrong_secret_is_rejected_by_the_verifier() {
    let up = upstream(verifying("us-east-1"));
    let r = run(&[
        "--sign",
        "pool",
        "--key",
        "AKIDLOADTESTA:not-the-secret",
        "-c",
        "1",
        "-d",
        "200ms",
        "--warmup",
        "0s",
        &up.url("/"),
    ]);
    assert!(r.requests > 0);
    assert_eq!(status(&r, "403"), r.requests, "{:?}", r.status);
    assert_eq!(up.seen().verified, 0);
}

#[test]
fn statuses_are_counted_and_unexpected_ones_reported() {
    let up = upstream(Behaviour {
        not_found_prefix: Some("/missing".into()),
        ..Behaviour::default()
    });
    let r = run(&[
        "--paths",
        "/ok,/missing",
        "--expect-status",
        "200",
        "--rate",
        "200",
        "-c",
        "2",
        "-d",
        "500ms",
        "--warmup",
        "0s",
        &up.url("/"),
    ]);
    assert_eq!(r.requests, 100, "{r:?}");
    assert_eq!(status(&r, "200"), 50);
    assert_eq!(status(&r, "404"), 50);
    assert_eq!(r.unexpected_status, 50);
}

#[test]
fn a_refused_port_counts_connect_errors_and_fails_the_run() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let (config, _) = Config::from_args([
        "trellis-load",
        "-q",
        "-c",
        "2",
        "-d",
        "200ms",
        "--warmup",
        "0s",
        &url,
    ])
    .unwrap();
    let r = load::run(&config).unwrap();
    assert_eq!(r.requests, 0);
    assert!(r.errors.connect >= 2, "{:?}", r.errors);
    let err = load::main_with([
        "trellis-load",
        "-q",
        "-c",
        "1",
        "-d",
        "100ms",
        "--warmup",
        "0s",
        &url,
    ])
    .unwrap_err();
    assert!(matches!(err, LoadError::NoResponse { .. }), "{err}");
    assert!(
        err.to_string().contains("check that the server is up"),
        "{err}"
    );
}

#[test]
fn slow_answers_count_as_timeouts() {
    let up = upstream(Behaviour {
        delay: Duration::from_millis(400),
        ..Behaviour::default()
    });
    let r = run(&[
        "--timeout",
        "50ms",
        "--rate",
        "40",
        "-c",
        "2",
        "-d",
        "500ms",
        "--warmup",
        "0s",
        &up.url("/"),
    ]);
    assert_eq!(r.requests, 0, "{r:?}");
    assert_eq!(r.errors.timeout, 20, "{:?}", r.errors);
}

#[test]
fn bad_arguments_name_the_option_and_the_fix() {
    let cases: [(&[&str], &str); 9] = [
        (
            &["--sign", "sts-token", "--key", KEY_A, "http://127.0.0.1:1/"],
            "--sts-audience svc-",
        ),
        (
            &["--sts-audience", "svc-1", "http://127.0.0.1:1/"],
            "only to `--sign sts-token`",
        ),
        (
            &[
                "--sign",
                "sts-token",
                "--key",
                KEY_A,
                "--sts-audience",
                "svc-1",
                "--region",
                "US_WEST",
                "http://127.0.0.1:1/",
            ],
            "`--region`",
        ),
        (&["-d", "ten", "http://127.0.0.1:1/"], "--duration"),
        (
            &["--sign", "pool", "http://127.0.0.1:1/"],
            "--key ACCESS_KEY_ID:SECRET",
        ),
        (&["https://127.0.0.1:1/"], "only `http`"),
        (&["--rate", "0", "http://127.0.0.1:1/"], "`--rate`"),
        (&["-H", "no colon", "http://127.0.0.1:1/"], "`--header`"),
        (
            &["--paths", "a,b", "http://127.0.0.1:1/"],
            "starts with `/`",
        ),
    ];
    for (args, want) in cases {
        let mut argv = vec!["trellis-load"];
        argv.extend_from_slice(args);
        let err = Config::from_args(argv).unwrap_err();
        assert!(err.to_string().contains(want), "{args:?}: {err}");
    }
    let err = Config::from_args([
        "trellis-load",
        "--sign",
        "pool",
        "--key",
        "AKID-no-secret",
        "http://127.0.0.1:1/",
    ])
    .unwrap_err();
    assert!(err.to_string().contains("--key"), "{err}");
    assert!(
        !err.to_string().contains("AKID-no-secret"),
        "a key is never echoed: {err}"
    );
}

#[test]
fn the_binary_prints_a_summary_and_exits_by_the_agreed_codes() {
    let bin = env!("CARGO_BIN_EXE_trellis-load");
    let up = upstream(Behaviour::default());
    let out = std::process::Command::new(bin)
        .args([
            "-q",
            "-c",
            "2",
            "-d",
            "200ms",
            "--warmup",
            "0s",
            &up.url("/bin"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("closed loop") && stdout.contains("p99.9"),
        "{stdout}"
    );
    assert!(out.stderr.is_empty(), "--quiet draws nothing on stderr");

    let out = std::process::Command::new(bin)
        .args(["--rate=-5", &up.url("/")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("trellis-load: "), "{stderr}");
    assert!(stderr.contains("--rate"), "{stderr}");

    let out = std::process::Command::new(bin)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("--keys-file"), "{help}");
    assert!(
        help.contains("sts-token") && help.contains("--sts-audience"),
        "{help}"
    );
}
