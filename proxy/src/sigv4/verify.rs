//! The verification procedure shared by header and presigned authentication: scope, time,
//! required signed headers, key and token, then the canonical request and the signature.

use std::cell::RefCell;
use std::time::SystemTime;

use hmac::Mac;
use http::header::{AUTHORIZATION, DATE};
use http::{HeaderMap, HeaderName};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::amz_date::AmzDate;
use super::canonical::{self, PlusMode, Scratch};
use super::error::{printable, AuthError};
use super::key::HmacSha256;
use super::parse::{self, Algorithm, SignedSet};
use super::{presigned, sigv4a};
use super::{Authenticated, CredentialStore, PayloadHash, RequestParts, VerifierConfig};

// Static names: a lookup by `HeaderName` skips parsing the name on every request.
pub(crate) static X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
pub(crate) static X_AMZ_CONTENT_SHA256: HeaderName =
    HeaderName::from_static("x-amz-content-sha256");
pub(crate) static X_AMZ_SECURITY_TOKEN: HeaderName =
    HeaderName::from_static("x-amz-security-token");
pub(crate) static X_AMZ_REGION_SET: HeaderName = HeaderName::from_static("x-amz-region-set");
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Signature material, from the header or the query, in one shape.
struct Material<'a> {
    algorithm: Algorithm,
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
    date: AmzDate,
    /// `Some(X-Amz-Expires)` for a presigned URL.
    expires: Option<u64>,
    /// The session token presented.
    token: Option<&'a [u8]>,
    /// The SigV4A region set presented.
    region_set: Option<&'a str>,
}

pub(crate) fn verify<'s>(
    cfg: &VerifierConfig,
    req: &RequestParts<'_>,
    now: SystemTime,
    store: &'s dyn CredentialStore,
    payload: PayloadHash<'_>,
) -> Result<Authenticated<'s>, AuthError> {
    let (path, query) = canonical::split_target(req.target);
    let header = aws_authorization(req.headers)?;
    let presign = query.filter(|q| presigned::has_material(q));
    match (header, presign) {
        (None, None) => Ok(Authenticated::Anonymous),
        (Some(_), Some(_)) => Err(AuthError::malformed(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.",
        )),
        (Some(value), None) => {
            let m = header_material(value, req.headers)?;
            check(cfg, req, path, query, now, store, payload, &m)
        }
        (None, Some(q)) => {
            let p = presigned::parse(q)?;
            let m = presign_material(&p)?;
            check(cfg, req, path, query, now, store, payload, &m)
        }
    }
}

/// The `Authorization` value if it uses an AWS scheme (`AWS4-...`, or SigV2's `AWS `, which is
/// refused as unsupported). Other schemes (`Bearer`, `Basic`) belong to the application behind
/// the proxy and are not signature material.
fn aws_authorization(headers: &HeaderMap) -> Result<Option<&str>, AuthError> {
    let mut found = None;
    for v in headers.get_all(AUTHORIZATION) {
        // HTTP parsers strip leading whitespace, but a map built another way may keep it.
        let b = v.as_bytes().trim_ascii_start();
        let aws = b
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"AWS4") || p.eq_ignore_ascii_case(b"AWS "));
        if aws {
            if found.is_some() {
                return Err(AuthError::malformed(
                    "The request has more than one AWS Authorization header: send exactly one.",
                ));
            }
            found = Some(v.to_str().map_err(|_| {
                AuthError::malformed("The Authorization header is not valid ASCII.")
            })?);
        }
    }
    Ok(found)
}

/// The single value of a header, if present; repeated values are refused where the verifier
/// needs one value (dates, tokens, region sets).
fn single<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<Option<&'h [u8]>, AuthError> {
    let mut it = headers.get_all(name).iter();
    let first = it.next();
    if it.next().is_some() {
        return Err(AuthError::malformed(format!(
            "The request has more than one '{name}' header: send it once."
        )));
    }
    // HTTP parsers strip surrounding whitespace; a map built another way may keep it.
    Ok(first.map(|v| v.as_bytes().trim_ascii()))
}

fn bad_date(v: &[u8]) -> AuthError {
    AuthError::malformed(format!(
        "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
        printable(&String::from_utf8_lossy(v))
    ))
}

fn header_material<'a>(value: &'a str, headers: &'a HeaderMap) -> Result<Material<'a>, AuthError> {
    let a = parse::parse_authorization(value)?;
    let date = if let Some(v) = single(headers, &X_AMZ_DATE)? {
        AmzDate::parse_iso(v).ok_or_else(|| bad_date(v))?
    } else if let Some(v) = single(headers, &DATE)? {
        AmzDate::parse_http_date(v).ok_or_else(|| bad_date(v))?
    } else {
        return Err(AuthError::incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ));
    };
    let token = single(headers, &X_AMZ_SECURITY_TOKEN)?;
    let region_set = match a.algorithm {
        Algorithm::HmacSha256 => None,
        Algorithm::EcdsaP256Sha256 => match single(headers, &X_AMZ_REGION_SET)? {
            Some(v) => Some(std::str::from_utf8(v).map_err(|_| {
                AuthError::malformed("The 'x-amz-region-set' header is not valid UTF-8.")
            })?),
            None => None,
        },
    };
    Ok(Material {
        algorithm: a.algorithm,
        credential: a.credential,
        signed_headers: a.signed_headers,
        signature: a.signature,
        date,
        expires: None,
        token,
        region_set,
    })
}

fn presign_material<'a>(p: &'a presigned::PresignParams<'_>) -> Result<Material<'a>, AuthError> {
    let get = |v: &'a Option<std::borrow::Cow<'_, str>>| v.as_deref().unwrap_or_default();
    let algorithm = Algorithm::from_name(get(&p.algorithm))?;
    let date_s = get(&p.date);
    let date = AmzDate::parse_iso(date_s.as_bytes()).ok_or_else(|| bad_date(date_s.as_bytes()))?;
    let expires = presigned::parse_expires(get(&p.expires))?;
    let region_set = p.region_set.as_deref();
    Ok(Material {
        algorithm,
        credential: get(&p.credential),
        signed_headers: get(&p.signed_headers),
        signature: get(&p.signature),
        date,
        expires: Some(expires),
        token: p.security_token.as_deref().map(str::as_bytes),
        region_set,
    })
}

fn skew_text(secs: u64) -> String {
    if secs % 60 == 0 {
        format!("{} min.", secs / 60)
    } else {
        format!("{secs} sec.")
    }
}

fn check_time(cfg: &VerifierConfig, m: &Material<'_>, now: SystemTime) -> Result<(), AuthError> {
    let now_s = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let skew_secs = cfg.max_clock_skew.as_secs();
    let skew = i64::try_from(skew_secs).unwrap_or(i64::MAX);
    let latest = now_s.saturating_add(skew);
    if m.date.epoch > latest {
        return Err(AuthError::expired(format!(
            "Signature not yet current: {} is still later than {} ({} + {})",
            m.date.iso_str(),
            AmzDate::from_epoch(latest).iso_str(),
            AmzDate::from_epoch(now_s).iso_str(),
            skew_text(skew_secs)
        )));
    }
    match m.expires {
        None => {
            let earliest = now_s.saturating_sub(skew);
            if m.date.epoch < earliest {
                return Err(AuthError::expired(format!(
                    "Signature expired: {} is now earlier than {} ({} - {})",
                    m.date.iso_str(),
                    AmzDate::from_epoch(earliest).iso_str(),
                    AmzDate::from_epoch(now_s).iso_str(),
                    skew_text(skew_secs)
                )));
            }
        }
        Some(expires) => {
            let until = m
                .date
                .epoch
                .saturating_add(i64::try_from(expires).unwrap_or(i64::MAX));
            if now_s > until {
                return Err(AuthError::expired(format!(
                    "Signature expired: {} is now earlier than {} ({} + X-Amz-Expires {} sec.)",
                    AmzDate::from_epoch(until).iso_str(),
                    AmzDate::from_epoch(now_s).iso_str(),
                    m.date.iso_str(),
                    expires
                )));
            }
        }
    }
    Ok(())
}

fn check_scope(
    cfg: &VerifierConfig,
    m: &Material<'_>,
    c: &parse::Credential<'_>,
) -> Result<(), AuthError> {
    if c.day.as_bytes() != m.date.day() {
        return Err(AuthError::wrong_scope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            printable(c.day),
            String::from_utf8_lossy(m.date.day()),
            m.date.iso_str()
        )));
    }
    if let Some(region) = c.region {
        if region != cfg.region {
            return Err(AuthError::wrong_scope(format!(
                "Credential should be scoped to a valid region, not '{}'.",
                printable(region)
            )));
        }
    }
    if c.service != cfg.service {
        return Err(AuthError::wrong_scope(format!(
            "Credential should be scoped to correct service: '{}'.",
            cfg.service
        )));
    }
    if c.terminator != "aws4_request" {
        return Err(AuthError::wrong_scope(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            printable(c.terminator)
        )));
    }
    if let Some(set) = m.region_set {
        if !sigv4a::region_set_covers(set, &cfg.region) {
            return Err(AuthError::wrong_scope(format!(
                "The region set '{}' does not include the region '{}': sign with a region set that covers it (for example '*').",
                printable(set),
                cfg.region
            )));
        }
    }
    Ok(())
}

/// The payload line: the signed `x-amz-content-sha256` (or `UNSIGNED-PAYLOAD` when a presigned
/// URL names it without sending it), validated, or the caller's body digest.
fn payload_line<'a>(
    req: &RequestParts<'a>,
    m: &Material<'_>,
    signed: &SignedSet,
    payload: PayloadHash<'a>,
) -> Result<&'a str, AuthError> {
    if !signed.content_sha256 {
        return match payload {
            PayloadHash::SignedHeader => {
                Err(AuthError::unsigned_required_header("x-amz-content-sha256"))
            }
            PayloadHash::BodySha256(digest) => Ok(digest),
        };
    }
    let value = match single(req.headers, &X_AMZ_CONTENT_SHA256)? {
        Some(v) => std::str::from_utf8(v).unwrap_or_default(),
        None if m.expires.is_some() => UNSIGNED_PAYLOAD,
        None => return Err(AuthError::missing_signed_header("x-amz-content-sha256")),
    };
    let is_digest = value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if value == UNSIGNED_PAYLOAD || is_digest {
        Ok(value)
    } else {
        Err(AuthError::malformed(format!(
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a lowercase hex SHA-256 digest, not '{}': VPC Lattice does not support payload signing.",
            printable(value)
        )))
    }
}

/// What the signature is checked with.
enum Check<'k> {
    Mac(HmacSha256, [u8; 32]),
    Ecdsa(&'k p256::ecdsa::VerifyingKey, p256::ecdsa::Signature),
}

#[allow(clippy::too_many_arguments)]
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
    let payload_line = payload_line(req, m, &signed, payload)?;

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
                .signing_mac(m.date.day(), m.date.epoch, &cfg.region, &cfg.service)
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
        })
    } else {
        Err(AuthError::mismatch())
    }
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
#[allow(clippy::too_many_arguments)]
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
    for (i, b) in creq_hash.iter().enumerate() {
        const H: &[u8; 16] = b"0123456789abcdef";
        hex[2 * i] = H[usize::from(b >> 4)];
        hex[2 * i + 1] = H[usize::from(b & 15)];
    }
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
