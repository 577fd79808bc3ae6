//! STS identity tokens through the real binary (CONTRACT §4b): tokens made as `aws eks
//! get-token` makes them, verified against a local STS that really checks their SigV4
//! signature; and every security regression, named after what it stops, with how many
//! STS calls it cost.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use std::net::SocketAddr;

use std::time::{Duration, SystemTime};

use trellis_e2e::net::*;
use trellis_e2e::sts::*;

const SERVICE_ARN: &str =
    "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";
const AUDIENCE: &str = "svc-0123456789abcdef0";
const HOST: &str = "sts.us-west-2.amazonaws.com";

const SERVICE_POLICY: &str = r#"{"Version": "2012-10-17", "Statement": [
  {"Sid": "CallersOfTheOrg", "Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke",
   "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}]}"#;

const PRINCIPALS: &str = r#"{
  "roles": [{"arn": "arn:aws:iam::111122223333:role/checkout", "tags": {"team": "payments"},
             "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}]}]}],
  "accounts": [{"id": "111122223333", "org_id": "o-a1b2c3d4e5"}]
}"#;

struct Proxy {
    proc: Running,
    addr: SocketAddr,
    admin: SocketAddr,
    sts: StsDouble,
    _dir: tempfile::TempDir,
}

fn start_with(audience: Option<&str>) -> Proxy {
    let sts = StsDouble::start(&[CHECKOUT_ROLE]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("service.json"), SERVICE_POLICY).unwrap();
    std::fs::write(dir.path().join("principals.json"), PRINCIPALS).unwrap();
    let file = |n: &str| dir.path().join(n).display().to_string();
    let (service, principals) = (file("service.json"), file("principals.json"));
    let (addr, admin) = (free_addr(), free_addr());
    let (addr_s, admin_s) = (addr.to_string(), admin.to_string());
    let upstream = format!("http://{}", Upstream::echo().addr);
    let endpoint = format!("http://{}", sts.addr);
    let mut args = vec![
        "run",
        "--listen",
        &addr_s,
        "--admin",
        &admin_s,
        "--upstream",
        &upstream,
        "--service-arn",
        SERVICE_ARN,
        "--service-policy",
        &service,
        "--principals",
        &principals,
        "--access-log",
        "stdout",
    ];
    if let Some(audience) = audience {
        args.extend_from_slice(&["--sts-audience", audience, "--sts-endpoint", &endpoint]);
    }
    let mut proc = Running::start(&args);
    proc.wait_ready(admin);
    Proxy {
        proc,
        addr,
        admin,
        sts,
        _dir: dir,
    }
}

fn start() -> Proxy {
    start_with(Some(AUDIENCE))
}

fn with_token(addr: SocketAddr, token: &str) -> Answer {
    request(
        addr,
        "GET",
        "/orders",
        &[("authorization".to_owned(), format!("Bearer {token}"))],
    )
    .unwrap()
}

fn assert_refused(a: &Answer, status: u16, error_type: &str, body_has: &str) {
    assert_eq!(a.status, status, "{a:?}");
    assert_eq!(a.header("x-amzn-errortype"), Some(error_type), "{a:?}");
    assert!(a.body.starts_with(&format!("{error_type}: ")), "{a:?}");
    assert!(a.body.contains(body_has), "{a:?}");
}

fn sts_tokens(p: &Proxy, result: &str) -> u64 {
    metric(
        p.admin,
        &format!("trellis_sts_tokens_total{{result=\"{result}\"}}"),
    )
}

#[test]
fn an_assumed_role_token_is_verified_by_sts_and_forwarded_as_its_session() {
    let p = start();
    let token = token(&CHECKOUT_ROLE, AUDIENCE);
    let a = with_token(p.addr, &token);
    assert_eq!(a.status, 200, "{a:?}\n{}", p.proc.stderr());
    assert!(a.body.contains("x-amzn-lattice-identity: Principal=arn:aws:sts::111122223333:assumed-role/checkout/checkout-pod-1; PrincipalOrgID=o-a1b2c3d4e5; SessionName=checkout-pod-1; Type=AWS_IAM"), "{}", a.body);
    assert!(a.body.contains("principal-team=payments"), "{}", a.body);
    assert!(
        !a.body.to_ascii_lowercase().contains("authorization:"),
        "{}",
        a.body
    );
    assert_eq!(p.sts.calls(), 1);
    assert_eq!(p.sts.hosts.lock().unwrap().as_slice(), [HOST]);
    assert_eq!(sts_tokens(&p, "verified"), 1);
    let log = eventually(Duration::from_secs(5), || {
        p.proc
            .stdout()
            .lines()
            .find(|l| l.contains("\"authnResult\":\"token\""))
            .map(str::to_owned)
    })
    .expect("an access-log line with authnResult token");
    assert!(log.contains("\"callerPrincipal\":\"arn:aws:sts::111122223333:assumed-role/checkout/checkout-pod-1\""), "{log}");
}

#[test]
fn a_second_request_within_the_cache_makes_no_sts_call() {
    let p = start();
    let token = token(&CHECKOUT_ROLE, AUDIENCE);
    assert_eq!(with_token(p.addr, &token).status, 200);
    assert_eq!(with_token(p.addr, &token).status, 200);
    assert_eq!(p.sts.calls(), 1);
    assert_eq!(sts_tokens(&p, "cache_hit"), 1);
}

#[test]
fn concurrent_requests_with_one_new_token_make_one_sts_call() {
    let p = start();
    let token = token(&CHECKOUT_ROLE, AUDIENCE);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (addr, token) = (p.addr, token.clone());
            std::thread::spawn(move || with_token(addr, &token).status)
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 200);
    }
    assert_eq!(p.sts.calls(), 1);
}

#[test]
fn a_token_made_for_service_a_replayed_at_service_b_fails_at_sts() {
    let p = start();
    let token = token(&CHECKOUT_ROLE, "svc-aaaaaaaaaaaaaaaaa");
    let a = with_token(p.addr, &token);
    assert_refused(
        &a,
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    );
    assert_eq!(p.sts.calls(), 1);
    assert_eq!(sts_tokens(&p, "rejected"), 1);
}

#[test]
fn a_token_sts_rejected_is_refused_for_10_seconds_without_asking_again() {
    let p = start();
    let token = token(&CHECKOUT_ROLE, "svc-aaaaaaaaaaaaaaaaa");
    for _ in 0..3 {
        assert_refused(
            &with_token(p.addr, &token),
            403,
            "UnrecognizedClientException",
            "invalid",
        );
    }
    assert_eq!(p.sts.calls(), 1);
}

fn url_now(audience: &str) -> String {
    presigned_url(
        &CHECKOUT_ROLE,
        audience,
        HOST,
        SystemTime::now(),
        Duration::from_secs(60),
    )
}

/// Each token is refused by the local checks: the right answer, and no STS call at all.
fn refused_locally(p: &Proxy, token: &str, error_type: &str, body_has: &str) {
    assert_refused(&with_token(p.addr, token), 403, error_type, body_has);
    assert_eq!(p.sts.calls(), 0, "the token cost an STS call");
}

#[test]
fn query_keys_repeated_in_another_case_are_refused_without_an_sts_call_cve_2022_2385() {
    let p = start();
    let url = url_now(AUDIENCE).replacen(
        "Action=GetCallerIdentity",
        "Action=GetCallerIdentity&action=AssumeRole",
        1,
    );
    refused_locally(
        &p,
        &token_of(&url),
        "IncompleteSignatureException",
        "more than once",
    );
}

#[test]
fn hosts_outside_the_sts_allow_list_are_refused_without_an_sts_call() {
    let p = start();
    let url = url_now(AUDIENCE);
    for (host, says) in [
        ("sts.evil.example", "not an STS endpoint"),
        ("sts.amazonaws.com.evil.example", "not an STS endpoint"),
        ("sts.amazonaws.com@evil.example", "user information"),
        ("sts.amazonaws.com:444", "port"),
    ] {
        let bad = url.replacen(HOST, host, 1);
        refused_locally(&p, &token_of(&bad), "IncompleteSignatureException", says);
    }
}

#[test]
fn an_action_other_than_get_caller_identity_is_refused_without_an_sts_call() {
    let p = start();
    let url = url_now(AUDIENCE).replacen("GetCallerIdentity", "AssumeRole", 1);
    refused_locally(
        &p,
        &token_of(&url),
        "IncompleteSignatureException",
        "GetCallerIdentity",
    );
}

#[test]
fn a_token_without_a_signed_audience_is_refused_without_an_sts_call() {
    let p = start();
    let url = presigned_url(
        &CHECKOUT_ROLE,
        AUDIENCE,
        HOST,
        SystemTime::now(),
        Duration::from_secs(60),
    )
    .replacen("host%3Bx-k8s-aws-id", "host", 1);
    refused_locally(
        &p,
        &token_of(&url),
        "IncompleteSignatureException",
        "x-k8s-aws-id",
    );
}

#[test]
fn x_amz_expires_over_900_is_refused_without_an_sts_call() {
    let p = start();
    let url = presigned_url(
        &CHECKOUT_ROLE,
        AUDIENCE,
        HOST,
        SystemTime::now(),
        Duration::from_secs(901),
    );
    refused_locally(
        &p,
        &token_of(&url),
        "IncompleteSignatureException",
        "up to 900",
    );
}

#[test]
fn a_token_older_than_15_minutes_is_expired_without_an_sts_call() {
    let p = start();
    let old = SystemTime::now() - Duration::from_secs(16 * 60);
    let url = presigned_url(
        &CHECKOUT_ROLE,
        AUDIENCE,
        HOST,
        old,
        Duration::from_secs(900),
    );
    refused_locally(&p, &token_of(&url), "ExpiredTokenException", "expired");
    assert_eq!(sts_tokens(&p, "expired"), 1);
}

#[test]
fn a_token_over_4096_bytes_is_refused_without_an_sts_call() {
    let p = start();
    let token = format!("k8s-aws-v1.{}", "A".repeat(4096));
    refused_locally(
        &p,
        &token,
        "IncompleteSignatureException",
        "at most 4096 bytes",
    );
}

#[test]
fn a_flood_of_junk_tokens_makes_no_sts_call() {
    let p = start();
    for i in 0..50 {
        let token = format!("k8s-aws-v1.junk{i}");
        assert_eq!(with_token(p.addr, &token).status, 403);
    }
    assert_eq!(p.sts.calls(), 0);
    assert_eq!(sts_tokens(&p, "malformed"), 50);
}

#[test]
fn an_xml_answer_is_not_believed_cve_2020_16250() {
    let p = start();
    p.sts.behave(Behaviour::Xml);
    let a = with_token(p.addr, &token(&CHECKOUT_ROLE, AUDIENCE));
    assert_refused(&a, 503, "ServiceUnavailableException", "retry");
    assert_eq!(p.sts.calls(), 1);
}

#[test]
fn a_redirect_from_sts_is_not_followed() {
    let p = start();
    p.sts.behave(Behaviour::Redirect);
    let a = with_token(p.addr, &token(&CHECKOUT_ROLE, AUDIENCE));
    assert_refused(&a, 503, "ServiceUnavailableException", "retry");
    assert_eq!(p.sts.calls(), 1);
}

#[test]
fn sts_down_throttling_or_stalling_fails_closed_with_503() {
    let p = start();
    for b in [
        Behaviour::ServerError,
        Behaviour::Throttle,
        Behaviour::Stall,
    ] {
        p.sts.behave(b);
        let a = with_token(p.addr, &token(&CHECKOUT_ROLE, AUDIENCE));
        assert_refused(&a, 503, "ServiceUnavailableException", "retry");
    }
    assert_eq!(sts_tokens(&p, "unavailable"), 3);
    // Nothing was remembered: once STS answers, the same kind of token verifies.
    p.sts.behave(Behaviour::Honest);
    assert_eq!(
        with_token(p.addr, &token(&CHECKOUT_ROLE, AUDIENCE)).status,
        200
    );
}

#[test]
fn sts_calls_are_rate_limited() {
    let p = start();
    // Well-formed tokens, each new (one second apart in signing time), made for another
    // audience so STS rejects each: every one passes the local checks.
    let now = SystemTime::now();
    let mut unavailable = 0;
    for i in 0..80u64 {
        let url = presigned_url(
            &CHECKOUT_ROLE,
            "svc-other",
            HOST,
            now - Duration::from_secs(i),
            Duration::from_secs(60),
        );
        let a = with_token(p.addr, &token_of(&url));
        if a.status == 503 {
            unavailable += 1;
        }
    }
    assert!(p.sts.calls() < 80, "{} calls", p.sts.calls());
    assert!(unavailable > 0);
    assert_eq!(p.sts.calls() + unavailable, 80);
}

#[test]
fn without_sts_audience_an_identity_token_is_refused_never_anonymous() {
    let p = start_with(None);
    let a = with_token(p.addr, &token(&CHECKOUT_ROLE, AUDIENCE));
    assert_refused(&a, 403, "IncompleteSignatureException", "--sts-audience");
    assert_eq!(p.sts.calls(), 0);
}

#[test]
fn other_bearer_tokens_stay_anonymous() {
    let p = start();
    let a = with_token(p.addr, "eyJhbGciOiJIUzI1NiJ9.e30.x");
    assert_eq!(a.status, 403);
    assert_eq!(a.header("x-amzn-errortype"), Some("AccessDeniedException"));
    assert!(a.body.contains("User: anonymous"), "{a:?}");
}

// Tokens made by the real clients (the venv of `bash .ci/py-clients`): what callers run,
// verified end to end by the binary against the double, which recomputes their signatures.

const REGION: &str = "us-west-2";
const CHECKOUT_IDENTITY: &str = "x-amzn-lattice-identity: Principal=arn:aws:sts::111122223333:assumed-role/checkout/checkout-pod-1; PrincipalOrgID=o-a1b2c3d4e5; SessionName=checkout-pod-1; Type=AWS_IAM";

/// A real client's token for our audience is verified as the assumed-role session; the same
/// client's token for another audience is refused by STS.
fn a_real_clients_tokens_are_verified_for_our_audience_only(make: impl Fn(&str) -> String) {
    let p = start();
    let ours = make(AUDIENCE);
    assert!(ours.starts_with("k8s-aws-v1."), "{ours}");
    let a = with_token(p.addr, &ours);
    assert_eq!(a.status, 200, "{a:?}\n{}", p.proc.stderr());
    assert!(a.body.contains(CHECKOUT_IDENTITY), "{}", a.body);
    assert_eq!(p.sts.calls(), 1);
    assert_eq!(p.sts.hosts.lock().unwrap().as_slice(), [HOST]);
    assert_eq!(with_token(p.addr, &ours).status, 200);
    assert_eq!(
        p.sts.calls(),
        1,
        "the second request was not served from the cache"
    );

    let theirs = make("svc-aaaaaaaaaaaaaaaaa");
    assert_refused(
        &with_token(p.addr, &theirs),
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    );
    assert_eq!(p.sts.calls(), 2);
    assert_eq!(sts_tokens(&p, "rejected"), 1);
}

#[test]
fn a_token_made_by_the_readme_boto3_snippet_is_verified_for_its_audience_only() {
    let clients = trellis_e2e::py_clients::PyClients::find();
    a_real_clients_tokens_are_verified_for_our_audience_only(|audience| {
        clients.boto3_token(&CHECKOUT_ROLE, audience, REGION)
    });
}

#[test]
fn a_token_made_by_aws_eks_get_token_is_verified_for_its_audience_only() {
    let clients = trellis_e2e::py_clients::PyClients::find();
    a_real_clients_tokens_are_verified_for_our_audience_only(|audience| {
        clients.aws_eks_get_token(&CHECKOUT_ROLE, audience, REGION)
    });
}
