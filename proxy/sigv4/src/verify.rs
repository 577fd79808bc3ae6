//! The verification procedure shared by header and presigned authentication: scope, time,
//! required signed headers, key and token, then the canonical request and the signature.

use std::cell::RefCell;
use std::time::SystemTime;

use hmac::Mac;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::amz_date::AmzDate;
use super::canonical::{self, PlusMode, Scratch};
use super::derive::HmacSha256;
use super::error::{printable, AuthError};
use super::material::{self, single, Material, X_AMZ_CONTENT_SHA256};
use super::parse::{self, Algorithm, SignedSet};
use super::scope::{check_scope, check_time};
use super::{presigned, sigv4a};
use super::{Authenticated, CredentialStore, PayloadHash, RequestParts, VerifierConfig};

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

pub(crate) fn verify<'s>(
    cfg: &VerifierConfig,
    req: &RequestParts<'_>,
    now: SystemTime,
    store: &'s dyn CredentialStore,
    payload: PayloadHash<'_>,
) -> Result<Authenticated<'s>, AuthError> {
    let (path, query) = canonical::split_target(req.target);
    let header = material::aws_authorization(req.headers)?;
    let presign = query.filter(|q| presigned::has_material(q));
    match (header, presign) {
        (None, None) => Ok(Authenticated::Anonymous),
        (Some(_), Some(_)) => Err(AuthError::malformed(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.",
        )),
        (Some(value), None) => {
            let m = material::header_material(value, req.headers)?;
            check(cfg, req, path, query, now, store, payload, &m)
        }
        (None, Some(q)) => {
            let p = presigned::parse(q)?;
            let m = material::presign_material(&p)?;
            check(cfg, req, path, query, now, store, payload, &m)
        }
    }
}

/// The payload line: the signed `x-amz-content-sha256` (or `UNSIGNED-PAYLOAD` when a presigned
/// URL names it without sending it), validated, or the caller's body digest; with the line as
/// a digest (`None` for `UNSIGNED-PAYLOAD` or a line that is not 64 lowercase hex digits),
/// decoded while validating.
fn payload_line<'a>(
    req: &RequestParts<'a>,
    m: &Material<'_>,
    signed: &SignedSet,
    payload: PayloadHash<'a>,
) -> Result<(&'a str, Option<[u8; 32]>), AuthError> {
    if !signed.content_sha256 {
        return match payload {
            PayloadHash::SignedHeader => {
                Err(AuthError::unsigned_required_header("x-amz-content-sha256"))
            }
            PayloadHash::BodySha256(digest) => Ok((digest, payload_digest(digest))),
        };
    }
    let value = match single(req.headers, &X_AMZ_CONTENT_SHA256)? {
        Some(v) => std::str::from_utf8(v).unwrap_or_default(),
        None if m.expires.is_some() => UNSIGNED_PAYLOAD,
        None => return Err(AuthError::missing_signed_header("x-amz-content-sha256")),
    };
    if value == UNSIGNED_PAYLOAD {
        return Ok((value, None));
    }
    match payload_digest(value) {
        Some(digest) => Ok((value, Some(digest))),
        None => Err(AuthError::malformed(format!(
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a lowercase hex SHA-256 digest, not '{}': VPC Lattice does not support payload signing.",
            printable(value)
        ))),
    }
}

/// What the signature is checked with.
enum Check<'k> {
    Mac(HmacSha256, [u8; 32]),
    Ecdsa(&'k p256::ecdsa::VerifyingKey, p256::ecdsa::Signature),
}

#[expect(
    clippy::too_many_arguments,
    reason = "the parts of one verification, borrowed from the caller; bundling them would copy or re-borrow on the hot path"
)]
fn check<'s>(
    cfg: &VerifierConfig,
    req: &RequestParts<'_>,
    path: &str,
    query: Option<&str>,
    now: SystemTime,
    store: &'s dyn CredentialStore,
    payload: PayloadHash<'_>,
    m: &Material<'_>,
) -> Result<Authenticated<'s>, AuthError> {
    let c = parse::parse_credential(m.credential, m.algorithm)?;
    let signed = parse::check_signed_headers(m.signed_headers)?;
    let presigned = m.expires.is_some();
    if m.algorithm == Algorithm::EcdsaP256Sha256 {
        // Presigned: every query parameter but the signature is in the canonical query.
        if !presigned && !signed.region_set {
            return Err(AuthError::unsigned_required_header("x-amz-region-set"));
        }
        if m.region_set.is_none() {
            return Err(if presigned {
                AuthError::incomplete(
                    "Query-string authentication with AWS4-ECDSA-P256-SHA256 requires the X-Amz-Region-Set parameter.",
                )
            } else {
                AuthError::missing_signed_header("x-amz-region-set")
            });
        }
    }
    check_scope(cfg, m, &c)?;
    check_time(cfg, m, now)?;
    if !signed.host {
        return Err(AuthError::incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    if m.token.is_some() && !presigned && !signed.security_token {
        return Err(AuthError::unsigned_required_header("x-amz-security-token"));
    }
    let (payload_line, payload_sha256) = payload_line(req, m, &signed, payload)?;

    let key = store
        .key(c.access_key_id)
        .ok_or_else(AuthError::unknown_key)?;
    if key.is_expired(now) {
        return Err(AuthError::expired_token());
    }
    if !key.token_matches(m.token) {
        return Err(AuthError::unknown_key());
    }

    let check = match m.algorithm {
        Algorithm::HmacSha256 => {
            let mut sig = [0u8; 32];
            if parse::decode_hex_lower(m.signature, &mut sig).map(<[u8]>::len) != Some(32) {
                return Err(bad_signature_encoding());
            }
            let mac = key
                .signing_mac(m.date.day(), &cfg.region, &cfg.service)
                .ok_or_else(AuthError::mismatch)?;
            Check::Mac(mac, sig)
        }
        Algorithm::EcdsaP256Sha256 => {
            let sig = sigv4a::parse_signature(m.signature).ok_or_else(bad_signature_encoding)?;
            let vk = key.v4a_key().ok_or_else(AuthError::mismatch)?;
            Check::Ecdsa(vk, sig)
        }
    };
    let sts = StringToSign {
        algorithm: m.algorithm,
        date: &m.date,
        scope: c.scope,
    };
    let ok = SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => {
            let r = try_forms(req, path, query, m, payload_line, &sts, &check, &mut s);
            s.trim();
            r
        }
        Err(_) => try_forms(
            req,
            path,
            query,
            m,
            payload_line,
            &sts,
            &check,
            &mut Scratch::default(),
        ),
    })?;
    if ok {
        Ok(Authenticated::Signed {
            key,
            algorithm: m.algorithm,
            payload_sha256,
        })
    } else {
        Err(AuthError::mismatch())
    }
}

/// A payload line as a digest: `None` for anything but 64 lowercase hex digits.
fn payload_digest(line: &str) -> Option<[u8; 32]> {
    if line.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    parse::decode_hex_lower(line, &mut digest)?;
    Some(digest)
}

fn bad_signature_encoding() -> AuthError {
    let mut e = AuthError::mismatch();
    e.reason = super::AuthFailure::Malformed;
    e
}

struct StringToSign<'a> {
    algorithm: Algorithm,
    date: &'a AmzDate,
    scope: &'a str,
}

/// Builds the canonical request forms in turn, cheapest and most common first, and stops at the
/// first that verifies: at most one SHA-256 + HMAC (or ECDSA verify) per distinct form.
#[expect(
    clippy::too_many_arguments,
    reason = "the parts of one verification, borrowed from the caller; bundling them would copy or re-borrow on the hot path"
)]
fn try_forms(
    req: &RequestParts<'_>,
    path: &str,
    query: Option<&str>,
    m: &Material<'_>,
    payload_line: &str,
    sts: &StringToSign<'_>,
    check: &Check<'_>,
    s: &mut Scratch,
) -> Result<bool, AuthError> {
    let presigned = m.expires.is_some();
    canonical::canonical_headers(req.headers, req.authority, m.signed_headers, presigned, s)?;
    s.tail.extend_from_slice(payload_line.as_bytes());
    canonical::standard_uri(path, s);
    let raw_differs = s.uri != path.as_bytes();
    let query = query.unwrap_or("");
    for plus in [PlusMode::Literal, PlusMode::Space] {
        if plus == PlusMode::Space && !query.contains('+') {
            break;
        }
        canonical::canonical_query(query, plus, presigned, s);
        if attempt(req.method, &s.uri, &s.query, &s.tail, sts, check)
            || (raw_differs && attempt(req.method, path.as_bytes(), &s.query, &s.tail, sts, check))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

fn attempt(
    method: &str,
    uri: &[u8],
    query: &[u8],
    tail: &[u8],
    sts: &StringToSign<'_>,
    check: &Check<'_>,
) -> bool {
    let creq_hash = Sha256::new()
        .chain_update(method.as_bytes())
        .chain_update(b"\n")
        .chain_update(uri)
        .chain_update(b"\n")
        .chain_update(query)
        .chain_update(b"\n")
        .chain_update(tail)
        .finalize();
    let mut hex = [0u8; 64];
    parse::encode_hex_lower(&creq_hash.into(), &mut hex);
    let parts: [&[u8]; 7] = [
        sts.algorithm.as_str().as_bytes(),
        b"\n",
        &sts.date.iso,
        b"\n",
        sts.scope.as_bytes(),
        b"\n",
        &hex,
    ];
    match check {
        Check::Mac(mac, expected) => {
            let mut mac = mac.clone();
            for p in parts {
                mac.update(p);
            }
            bool::from(mac.finalize().into_bytes().as_slice().ct_eq(expected))
        }
        Check::Ecdsa(vk, sig) => {
            let mut h = Sha256::new();
            for p in parts {
                h.update(p);
            }
            let digest: [u8; 32] = h.finalize().into();
            sigv4a::verify_prehash(vk, &digest, sig)
        }
    }
}
