//! Requests real clients signed for `vpc-lattice-svcs` (copied from the research captures, see
//! `testdata/sigv4-client-captures/README.md`), verified with a pinned clock. Each capture has
//! the outcome the research write-up (`reference/sigv4.md` §5, §7, appendix) gives for a
//! correct Lattice verifier: clients following Lattice's recipe verify; requests without a
//! signed `x-amz-content-sha256`, with curl 7.88's duplicate SignedHeaders, awscurl's
//! double-encoded query, pure-python botocore's raw query or a wrong scope fail, each with
//! the error type asserted.
// Test helpers outside `#[test]` fns may unwrap: a failure is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use std::path::Path;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use trellis_sigv4::test_util::{time, WireRequest, AKID, SECRET, TOKEN};
use trellis_sigv4::{
    verify, Algorithm, AuthErrorKind, AuthFailure, Authenticated, StaticCredentials, StoredKey,
    VerifierConfig,
};

fn capture(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/sigv4-client-captures")
            .join(rel),
    )
    .unwrap()
}

/// Requests printed in the text captures: a `METHOD https://host/target` line (optionally
/// after `== v4 `/`== v4a `) followed by `Name: value` header lines (`(input) ` marks headers
/// the caller set) and, for the aws-sigv4 presign probe, `?Name=value` query lines.
fn text_requests(rel: &str) -> Vec<WireRequest> {
    let text = String::from_utf8(capture(rel)).unwrap();
    let mut out = Vec::new();
    let mut current: Option<WireRequest> = None;
    for line in text.lines() {
        let start = line
            .strip_prefix("== v4a ")
            .or_else(|| line.strip_prefix("== v4 "))
            .unwrap_or(line);
        if let Some((method, url)) = start.split_once(" https://") {
            if matches!(method, "GET" | "POST") {
                out.extend(current.take());
                let (host, target) = url.split_at(url.find('/').unwrap());
                let mut headers = HeaderMap::new();
                headers.insert("host", HeaderValue::from_str(host).unwrap());
                current = Some(WireRequest {
                    method: method.to_owned(),
                    target: target.to_owned(),
                    headers,
                    body: Vec::new(),
                });
                continue;
            }
        }
        let Some(req) = current.as_mut() else {
            continue;
        };
        let l = line.trim_start();
        let l = l.strip_prefix("(input) ").unwrap_or(l);
        if let Some(param) = l.strip_prefix('?') {
            let (k, v) = param.split_once('=').unwrap();
            let sep = if req.target.contains('?') { '&' } else { '?' };
            req.target = format!("{}{sep}{k}={}", req.target, encode(v));
            continue;
        }
        let header = l.split_once(": ").filter(|(k, _)| {
            !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        match header {
            Some((k, v)) if !line.starts_with('#') => {
                let name = HeaderName::from_bytes(k.as_bytes()).unwrap();
                let value = HeaderValue::from_str(v).unwrap();
                if name == "host" {
                    req.headers.insert(name, value);
                } else {
                    req.headers.append(name, value);
                }
            }
            _ => out.extend(current.take()),
        }
    }
    out.extend(current);
    out
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ok(Algorithm),
    Fail(AuthErrorKind, AuthFailure),
}

const V4: Expect = Expect::Ok(Algorithm::HmacSha256);
const V4A: Expect = Expect::Ok(Algorithm::EcdsaP256Sha256);
const NO_CONTENT_SHA: Expect =
    Expect::Fail(AuthErrorKind::IncompleteSignature, AuthFailure::Incomplete);
const MISMATCH: Expect = Expect::Fail(AuthErrorKind::InvalidSignature, AuthFailure::BadSignature);
const WRONG_SCOPE: Expect = Expect::Fail(AuthErrorKind::InvalidSignature, AuthFailure::WrongScope);

/// Verifies `req` at its own signing time + 1 min, with the example key stored with the
/// session token if the request presents one (as a principals file would hold it).
fn check(label: &str, req: &WireRequest, expect: Expect) {
    let date = req
        .headers
        .get("x-amz-date")
        .map(|v| v.to_str().unwrap().to_owned())
        .or_else(|| {
            req.target
                .split("X-Amz-Date=")
                .nth(1)
                .map(|s| s[..16].to_owned())
        })
        .unwrap_or_else(|| "20150830T123600Z".to_owned());
    let now = time(&date) + Duration::from_secs(60);
    let uses_token = req.headers.contains_key("x-amz-security-token")
        || req.target.contains("X-Amz-Security-Token=");
    let store: StaticCredentials = [StoredKey::new(
        AKID,
        SECRET,
        uses_token.then(|| TOKEN.to_owned()),
        None,
        1,
    )]
    .into_iter()
    .collect();
    let cfg = VerifierConfig::new("us-west-2");
    let got = match verify(&cfg, &req.parts(), now, &store) {
        Ok(Authenticated::Signed { algorithm, .. }) => Expect::Ok(algorithm),
        Ok(Authenticated::Anonymous) => panic!("{label}: signed capture seen as anonymous"),
        Err(e) => {
            assert!(!e.message().contains(SECRET), "{label}: secret in message");
            Expect::Fail(e.kind, e.reason)
        }
    };
    assert_eq!(got, expect, "{label}: {} {}", req.method, req.target);
}

#[test]
fn curl_captures_fail_where_curl_breaks_the_spec_or_omits_the_payload_header() {
    let cases = [
        ("req01", NO_CONTENT_SHA), // also an unsorted query (curl#9717)
        ("req02", V4),             // -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD'
        ("req03", NO_CONTENT_SHA), // POST body hash, no header
        ("req04", V4),             // with a session token header
        ("req05", NO_CONTENT_SHA), // awkward path and raw query
        // `x-multi;x-multi`: SignedHeaders lists a name twice (fixed in curl PR #16743).
        (
            "req06",
            Expect::Fail(AuthErrorKind::IncompleteSignature, AuthFailure::Malformed),
        ),
        ("req07", WRONG_SCOPE), // `aws:amz` alone: region/service guessed from the host name
    ];
    for (name, expect) in cases {
        let req = WireRequest::parse(&capture(&format!("curl-7.88.1/{name}.bin"))).unwrap();
        check(&format!("curl {name}"), &req, expect);
    }
}

#[test]
fn awscurl_captures_verify_except_its_double_encoded_query() {
    for (name, expect) in [("req01", V4), ("req02", V4), ("req03", MISMATCH)] {
        let req = WireRequest::parse(&capture(&format!("awscurl-0.44/{name}.bin"))).unwrap();
        check(&format!("awscurl {name}"), &req, expect);
    }
}

#[test]
fn requests_aws4auth_captures_verify() {
    // req03: path `/a%20b` (double-encoded canonical) and `r=x+y` (`+` read as a space).
    for name in ["req01", "req02", "req03"] {
        let req =
            WireRequest::parse(&capture(&format!("requests-aws4auth-1.4.0/{name}.bin"))).unwrap();
        check(&format!("requests-aws4auth {name}"), &req, V4);
    }
}

#[test]
fn botocore_and_crt_signers_verify_when_they_follow_the_lattice_recipe() {
    let reqs = text_requests("botocore-1.44.5-awscrt-0.38.1.txt");
    let expected = [
        V4,             // SigV4Auth, Lattice recipe, POST with query
        NO_CONTENT_SHA, // SigV4Auth plain GET: body hash, no header
        V4,             // SigV4Auth with session token
        NO_CONTENT_SHA, // SigV4Auth POST, payload signed, no header
        NO_CONTENT_SHA, // SigV4QueryAuth presigned: X-Amz-SignedHeaders=host only
        V4,             // CrtSigV4Auth, Lattice recipe
        V4,             // CrtS3SigV4Auth (older recipe): as-sent path, real body hash
        V4,             // CrtSigV4Auth, awkward path: standard URI, `+` literal
        V4,             // CrtS3SigV4Auth, awkward path: as-sent URI
        MISMATCH,       // pure-python SigV4Auth signs the raw query (`q=+`), unlike AWS
        V4A,            // CrtSigV4AsymAuth, region set `*`
        V4A,            // CrtSigV4AsymAuth, `us-west-2,us-east-1`, token
    ];
    assert_eq!(reqs.len(), expected.len());
    for (i, (req, expect)) in reqs.iter().zip(expected).enumerate() {
        check(&format!("botocore #{i}"), req, expect);
    }
}

#[test]
fn crt_lattice_presigned_url_verifies_with_or_without_the_payload_header() {
    let reqs = text_requests("botocore-crt-presign.txt");
    assert_eq!(reqs.len(), 2);
    check("CRT presign (lattice)", &reqs[0], V4);
    // A browser following the URL does not send `x-amz-content-sha256`.
    let mut bare = reqs[0].clone();
    bare.headers.remove("x-amz-content-sha256");
    check("CRT presign (lattice, header absent)", &bare, V4);
    check("CRT presign (execute-api)", &reqs[1], WRONG_SCOPE);
}

#[test]
fn aws_sigv4_crate_captures_verify_when_token_and_payload_header_are_signed() {
    let reqs = text_requests("aws-sigv4-1.6.4-probe.txt");
    let expected = [
        V4, // POST, XAmzSha256 + UnsignedPayload
        V4, // session token
        V4, // awkward URL, default (standard) mode, `+` as space
        V4, // awkward URL, Single + Disabled (as-sent) mode
        V4, // unsigned user-agent, spaced custom header
        // session token sent but excluded from signing
        Expect::Fail(AuthErrorKind::IncompleteSignature, AuthFailure::Incomplete),
        NO_CONTENT_SHA, // presigned with X-Amz-SignedHeaders=host only
        V4A,            // SigV4A, region set `*`
    ];
    assert_eq!(reqs.len(), expected.len());
    for (i, (req, expect)) in reqs.iter().zip(expected).enumerate() {
        check(&format!("aws-sigv4 #{i}"), req, expect);
    }
}

#[test]
fn botocore_date_header_instead_of_x_amz_date_verifies() {
    let reqs = text_requests("botocore-date-header-instead-of-x-amz-date.txt");
    let req = reqs.last().unwrap();
    assert!(req.headers.contains_key("date") && !req.headers.contains_key("x-amz-date"));
    check("botocore Date header", req, V4);
}
