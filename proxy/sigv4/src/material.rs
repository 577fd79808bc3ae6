//! Signature material (from the `Authorization` header or a presigned query) in one shape,
//! with the date, token and region set the verifier needs.

use http::header::{AUTHORIZATION, DATE};
use http::{HeaderMap, HeaderName};

use super::amz_date::AmzDate;
use super::error::{printable, AuthError};
use super::parse::{self, Algorithm};
use super::presigned;

// Static names: a lookup by `HeaderName` skips parsing the name on every request.
pub(crate) static X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
pub(crate) static X_AMZ_CONTENT_SHA256: HeaderName =
    HeaderName::from_static("x-amz-content-sha256");
pub(crate) static X_AMZ_SECURITY_TOKEN: HeaderName =
    HeaderName::from_static("x-amz-security-token");
pub(crate) static X_AMZ_REGION_SET: HeaderName = HeaderName::from_static("x-amz-region-set");

/// Signature material, from the header or the query, in one shape.
pub(crate) struct Material<'a> {
    pub(crate) algorithm: Algorithm,
    pub(crate) credential: &'a str,
    pub(crate) signed_headers: &'a str,
    pub(crate) signature: &'a str,
    pub(crate) date: AmzDate,
    /// `Some(X-Amz-Expires)` for a presigned URL.
    pub(crate) expires: Option<u64>,
    /// The session token presented.
    pub(crate) token: Option<&'a [u8]>,
    /// The SigV4A region set presented.
    pub(crate) region_set: Option<&'a str>,
}

/// The `Authorization` value if it uses an AWS scheme (`AWS4-...`, or SigV2's `AWS `, which is
/// refused as unsupported). Other schemes (`Bearer`, `Basic`) belong to the application behind
/// the proxy and are not signature material.
pub(crate) fn aws_authorization(headers: &HeaderMap) -> Result<Option<&str>, AuthError> {
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
pub(crate) fn single<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'h [u8]>, AuthError> {
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

pub(crate) fn header_material<'a>(
    value: &'a str,
    headers: &'a HeaderMap,
) -> Result<Material<'a>, AuthError> {
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

pub(crate) fn presign_material<'a>(
    p: &'a presigned::PresignParams<'_>,
) -> Result<Material<'a>, AuthError> {
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
