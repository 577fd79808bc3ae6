//! Property: whatever aws-sigv4 (the reference signer) signs for Lattice — random methods,
//! paths with odd characters and dot segments, queries with repeated keys and `+`, extra
//! headers, session tokens, header or presigned form, SigV4 or SigV4A — verifies; and any
//! single change to a signed part afterwards makes it fail.
// Test helpers outside `#[test]` fns may unwrap: a failure is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use std::time::Duration;

use http::{HeaderName, HeaderValue};
use proptest::prelude::*;
use trellis_sigv4::test_util::{
    lattice_request, sign, time, Mode, WireRequest, AKID, SECRET, TOKEN,
};
use trellis_sigv4::{verify, Authenticated, StaticCredentials, StoredKey, VerifierConfig};

const SIGNED_AT: &str = "20261123T120000Z";

fn encode_bytes(s: &str, keep: &[u8]) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || keep.contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A path segment as a client would put it on the wire: raw sub-delimiters, escapes for the
/// rest (including `%` itself, spaces and non-ASCII), or a dot segment.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(".".to_owned()),
        1 => Just("..".to_owned()),
        1 => Just(String::new()),
        8 => "[a-zA-Z0-9 ._~:@!$'()*+,;=%é-]{1,8}".prop_map(|s| encode_bytes(&s, b"-._~:@!$'()*+,;=")),
    ]
}

fn path() -> impl Strategy<Value = String> {
    (prop::collection::vec(segment(), 0..5), any::<bool>()).prop_map(|(segs, trailing)| {
        let mut p = format!("/{}", segs.join("/"));
        if trailing && !p.ends_with('/') {
            p.push('/');
        }
        p
    })
}

/// Query pairs from a small key set (so keys repeat), values with escapes and raw `+`.
fn query() -> impl Strategy<Value = String> {
    let pair = (
        prop::sample::select(vec!["a", "b", "B", "list", "x-y", "z~"]),
        "[a-zA-Z0-9 /:+é.~-]{0,6}",
        any::<bool>(),
    )
        .prop_map(|(k, v, raw_plus)| {
            let v = encode_bytes(&v, if raw_plus { b"-._~+" } else { b"-._~" });
            format!("{k}={v}")
        });
    prop::collection::vec(pair, 0..5).prop_map(|pairs| pairs.join("&"))
}

#[derive(Debug, Clone)]
struct Case {
    method: &'static str,
    path: String,
    query: String,
    extra: Vec<(String, String)>,
    token: bool,
    mode: Mode,
    v4a: bool,
    mutation: usize,
}

fn case(v4a: bool) -> impl Strategy<Value = Case> {
    (
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]),
        path(),
        query(),
        prop::collection::vec(
            ("x-c[a-z]{1,3}", "[a-zA-Z0-9]{1,3}( {1,3}[a-z]{1,3}){0,2}"),
            0..3,
        ),
        any::<bool>(),
        prop_oneof![Just(Mode::Header), Just(Mode::Presigned)],
        0..MUTATIONS,
    )
        .prop_map(
            move |(method, path, query, extra, token, mode, mutation)| Case {
                method,
                path,
                query,
                extra,
                token,
                mode,
                v4a,
                mutation,
            },
        )
}

fn build(c: &Case) -> WireRequest {
    let target = if c.query.is_empty() {
        c.path.clone()
    } else {
        format!("{}?{}", c.path, c.query)
    };
    let mut req = lattice_request(c.method, &target);
    for (k, v) in &c.extra {
        req.headers.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    sign(
        &mut req,
        c.mode,
        "us-west-2",
        c.v4a.then_some("*"),
        c.token.then_some(TOKEN),
        time(SIGNED_AT),
    );
    req
}

const MUTATIONS: usize = 7;

/// Changes one signed part of the request; `None` if the case has no such part.
fn mutate(req: &WireRequest, which: usize, c: &Case) -> Option<WireRequest> {
    let mut r = req.clone();
    let (path, query) = r
        .target
        .split_once('?')
        .map_or((r.target.as_str(), None), |(p, q)| (p, Some(q)));
    match which {
        0 => r.method = if c.method == "GET" { "HEAD" } else { "GET" }.to_owned(),
        1 => {
            r.target = format!(
                "{path}x{}",
                query.map_or(String::new(), |q| format!("?{q}"))
            )
        }
        2 => {
            r.target = format!(
                "{path}?{}zz=1",
                query.map_or(String::new(), |q| format!("{q}&"))
            )
        }
        3 => {
            // A signed header value: a custom header if any, else the payload header.
            let name = c
                .extra
                .first()
                .map_or("x-amz-content-sha256", |(k, _)| k.as_str());
            r.headers.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_static("changed"),
            );
        }
        4 => {
            let later = "20261123T120001Z";
            if c.mode == Mode::Header {
                r.headers
                    .insert("x-amz-date", HeaderValue::from_static(later));
            } else {
                r.target = r.target.replace(
                    &format!("X-Amz-Date={SIGNED_AT}"),
                    &format!("X-Amz-Date={later}"),
                );
            }
        }
        5 => {
            // Flip one hex digit of the signature (after the DER header for SigV4A).
            let flip = |sig: &str| {
                let i = sig.len() - 3;
                let d = sig.as_bytes()[i];
                let nd = if d == b'0' { '1' } else { '0' };
                format!("{}{nd}{}", &sig[..i], &sig[i + 1..])
            };
            if c.mode == Mode::Header {
                let v = r.headers["authorization"].to_str().unwrap().to_owned();
                let (head, sig) = v.split_once("Signature=").unwrap();
                r.headers.insert(
                    "authorization",
                    format!("{head}Signature={}", flip(sig)).parse().unwrap(),
                );
            } else {
                let (head, sig) = r.target.split_once("X-Amz-Signature=").unwrap();
                let (sig, tail) = sig.split_once('&').map_or((sig, ""), |(s, t)| (s, t));
                let tail = if tail.is_empty() {
                    String::new()
                } else {
                    format!("&{tail}")
                };
                r.target = format!("{head}X-Amz-Signature={}{tail}", flip(sig));
            }
        }
        _ => {
            if !c.token {
                return None;
            }
            let other = "FQoGZXIvYXdzEXAMPLETOKEN//+/X";
            if c.mode == Mode::Header {
                r.headers
                    .insert("x-amz-security-token", HeaderValue::from_static(other));
            } else {
                r.target = r
                    .target
                    .replace("EXAMPLETOKEN%2F%2F%2B%2F%3D", "EXAMPLETOKEN%2F%2F%2B%2FX");
            }
        }
    }
    Some(r)
}

fn stores() -> (StaticCredentials, StaticCredentials) {
    let plain = [StoredKey::new(AKID, SECRET, None, None, 5)]
        .into_iter()
        .collect();
    let temp = [StoredKey::new(
        AKID,
        SECRET,
        Some(TOKEN.to_owned()),
        None,
        6,
    )]
    .into_iter()
    .collect();
    (plain, temp)
}

fn check(
    c: &Case,
    plain: &StaticCredentials,
    temp: &StaticCredentials,
) -> Result<(), TestCaseError> {
    let cfg = VerifierConfig::new("us-west-2");
    let now = time(SIGNED_AT) + Duration::from_secs(10);
    let store = if c.token { temp } else { plain };
    let req = build(c);
    match verify(&cfg, &req.parts(), now, store) {
        Ok(Authenticated::Signed { key, .. }) => {
            prop_assert_eq!(key.principal(), if c.token { 6 } else { 5 })
        }
        other => prop_assert!(
            false,
            "{} {} did not verify: {:?}",
            req.method,
            req.target,
            other
        ),
    }
    if let Some(m) = mutate(&req, c.mutation, c) {
        let r = verify(&cfg, &m.parts(), now, store);
        prop_assert!(
            r.is_err(),
            "mutation {} still verified: {} {}",
            c.mutation,
            m.method,
            m.target
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sigv4_signed_by_aws_sigv4_verifies_and_any_change_fails(c in case(false)) {
        let (plain, temp) = stores();
        check(&c, &plain, &temp)?;
    }
}

proptest! {
    // SigV4A verification is two orders of magnitude slower (and slower still unoptimised).
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn sigv4a_signed_by_aws_sigv4_verifies_and_any_change_fails(c in case(true)) {
        let (plain, temp) = stores();
        check(&c, &plain, &temp)?;
    }
}
