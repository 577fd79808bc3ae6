//! The official AWS signing test suite (aws-c-auth `aws-signing-test-suite`, v4 and v4a, plus
//! smithy-rs's additions), run through the public verifier. Each case supplies its own region,
//! service, time and credentials. The suite's requests do not sign `x-amz-content-sha256`
//! (Lattice's rule), so the cases run with `PayloadHash::BodySha256` — plain SigV4.
//!
//! Not applicable, and why:
//! - `get-header-value-multiline` (v4, v4a): obs-folded header lines. HTTP/1.1 servers (httparse,
//!   hence hyper) refuse them, so no such request reaches the verifier; a `HeaderValue` cannot
//!   even hold one.
//! - `v4a/get-vanilla-query-order-key`, `-value`: input-only folders, no signed request.
//! - `smithy-rs-additions/v4/double-encode-path`: its request and canonical request carry
//!   different dates (known defect, see NOTICE.md), so its signature cannot verify.
//! - `post-sts-header-after` (v4, v4a): the token is added after signing. Lattice requires a key's
//!   session token to be signed, so the case is asserted to FAIL (header: incomplete signature;
//!   query: the token is part of the canonical query, so the signature does not match).

// Test helpers outside `#[test]` fns may unwrap: a failure is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use trellis_sigv4::test_util::{sha256_hex, time, WireRequest};
use trellis_sigv4::{
    verify_with, Algorithm, AuthErrorKind, Authenticated, PayloadHash, StaticCredentials,
    StoredKey, VerifierConfig,
};

fn suite_dir(group: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/sigv4-test-suite")
        .join(group)
}

struct Case {
    name: String,
    cfg: VerifierConfig,
    store: StaticCredentials,
    now: std::time::SystemTime,
    omit_token: bool,
}

fn load_case(dir: &Path) -> Case {
    let ctx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("context.json")).unwrap()).unwrap();
    let creds = &ctx["credentials"];
    let token = creds["token"].as_str().map(str::to_owned);
    let key = StoredKey::new(
        creds["access_key_id"].as_str().unwrap(),
        creds["secret_access_key"].as_str().unwrap(),
        token,
        None,
        7,
    );
    Case {
        name: dir.file_name().unwrap().to_string_lossy().into_owned(),
        cfg: VerifierConfig {
            region: ctx["region"].as_str().unwrap().to_owned(),
            service: ctx["service"].as_str().unwrap().to_owned(),
            max_clock_skew: Duration::from_secs(300),
        },
        store: [key].into_iter().collect(),
        now: time(ctx["timestamp"].as_str().unwrap()),
        omit_token: ctx["omit_session_token"].as_bool().unwrap_or(false),
    }
}

const NOT_APPLICABLE: &[&str] = &[
    "get-header-value-multiline",
    "get-vanilla-query-order-key",
    "get-vanilla-query-order-value",
];

/// Replaces the signature inside a signed request (header or query form).
fn with_signature(req: &WireRequest, sig: &str) -> WireRequest {
    let mut r = req.clone();
    if let Some(v) = r.headers.get("authorization") {
        let v = v.to_str().unwrap();
        let i = v.find("Signature=").unwrap() + "Signature=".len();
        let new = format!("{}{sig}", &v[..i]);
        r.headers.insert("authorization", new.parse().unwrap());
    } else {
        let i = r.target.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
        let end = r.target[i..].find('&').map_or(r.target.len(), |e| i + e);
        r.target = format!("{}{sig}{}", &r.target[..i], &r.target[end..]);
    }
    r
}

fn run_group(group: &str, algorithm: Algorithm) -> usize {
    let mut verified = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(suite_dir(group))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let case = load_case(&dir);
        if NOT_APPLICABLE.contains(&case.name.as_str()) {
            continue;
        }
        for mode in ["header", "query"] {
            let text = std::fs::read(dir.join(format!("{mode}-signed-request.txt"))).unwrap();
            let req = WireRequest::parse(&text).unwrap();
            let body_hash = sha256_hex(&req.body);
            let payload = PayloadHash::BodySha256(&body_hash);
            let label = format!("{group}/{} ({mode})", case.name);
            let result = verify_with(&case.cfg, &req.parts(), case.now, &case.store, payload);
            if case.omit_token {
                let want = if mode == "header" {
                    AuthErrorKind::IncompleteSignature
                } else {
                    AuthErrorKind::InvalidSignature
                };
                assert_eq!(result.unwrap_err().kind, want, "{label}");
                continue;
            }
            match result {
                Ok(Authenticated::Signed {
                    key, algorithm: a, ..
                }) => {
                    assert_eq!(a, algorithm, "{label}");
                    assert_eq!(key.principal(), 7, "{label}");
                }
                other => panic!("{label}: expected a verified signature, got {other:?}"),
            }
            verified += 1;
            if algorithm == Algorithm::EcdsaP256Sha256 {
                // The suite's separate signature file holds another (randomised) signature over
                // the same string to sign: it must verify too.
                let sig =
                    std::fs::read_to_string(dir.join(format!("{mode}-signature.txt"))).unwrap();
                let other = with_signature(&req, sig.trim());
                assert!(
                    verify_with(&case.cfg, &other.parts(), case.now, &case.store, payload).is_ok(),
                    "{label}: {mode}-signature.txt"
                );
            }
            // Any signature other than the right one fails.
            let sig_hex = if algorithm == Algorithm::HmacSha256 {
                "0".repeat(64)
            } else {
                "3006020101020101".to_owned()
            };
            let forged = with_signature(&req, &sig_hex);
            let e = verify_with(&case.cfg, &forged.parts(), case.now, &case.store, payload)
                .unwrap_err();
            assert_eq!(e.kind, AuthErrorKind::InvalidSignature, "{label}");
        }
    }
    verified
}

#[test]
fn every_applicable_sigv4_suite_case_verifies_in_header_and_query_form() {
    // 38 cases − 1 not applicable − 1 expected failure, × 2 forms.
    assert_eq!(
        run_group("aws-signing-test-suite/v4", Algorithm::HmacSha256),
        72
    );
}

#[test]
fn every_applicable_sigv4a_suite_case_verifies_in_header_and_query_form() {
    // 40 folders − 3 not applicable − 1 expected failure, × 2 forms.
    assert_eq!(
        run_group("aws-signing-test-suite/v4a", Algorithm::EcdsaP256Sha256),
        72
    );
}

#[test]
fn smithy_rs_double_url_encode_case_verifies() {
    // No context.json: scope and time come from the signed request itself.
    let dir = suite_dir("smithy-rs-additions/v4/double-url-encode");
    let req =
        WireRequest::parse(&std::fs::read(dir.join("header-signed-request.txt")).unwrap()).unwrap();
    let auth = req.headers["authorization"].to_str().unwrap();
    let scope: Vec<&str> = auth
        .split("Credential=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .split('/')
        .collect();
    let cfg = VerifierConfig {
        region: scope[2].to_owned(),
        service: scope[3].to_owned(),
        max_clock_skew: Duration::from_secs(300),
    };
    let now = time(req.headers["x-amz-date"].to_str().unwrap());
    let store: StaticCredentials = [StoredKey::new(
        trellis_sigv4::test_util::AKID,
        trellis_sigv4::test_util::SECRET,
        None,
        None,
        0,
    )]
    .into_iter()
    .collect();
    let body = sha256_hex(&req.body);
    let r = verify_with(
        &cfg,
        &req.parts(),
        now,
        &store,
        PayloadHash::BodySha256(&body),
    );
    assert!(matches!(r, Ok(Authenticated::Signed { .. })), "{r:?}");
}
