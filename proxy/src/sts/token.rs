//! The identity token as `aws eks get-token` prints it (aws-iam-authenticator's format):
//! `k8s-aws-v1.` + base64url (no padding) of a presigned STS `GetCallerIdentity` URL.
//!
//! Every check that needs no network is made here, before STS is asked anything, so a token
//! that could never verify costs no STS call (CONTRACT §4b). The checks follow
//! aws-iam-authenticator's `Verify` and are stricter where it was bypassed: query keys are
//! compared case-insensitively and may appear once each (CVE-2022-2385), the host is an exact
//! member of STS's host list with no userinfo and no port.

use std::borrow::Cow;
use std::ops::Range;
use std::time::{Duration, SystemTime};

use base64::Engine as _;

/// What a token starts with.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The longest token accepted, prefix included (aws-iam-authenticator's `maxTokenLenBytes`).
pub const MAX_TOKEN_BYTES: usize = 4096;
/// A token lives this long from its `X-Amz-Date`, whatever its `X-Amz-Expires`: STS treats
/// presigned `GetCallerIdentity` URLs so, and aws-iam-authenticator too.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// The largest `X-Amz-Expires` accepted.
pub const MAX_EXPIRES_SECS: u32 = 900;
/// The signed header that names the audience.
pub const AUDIENCE_HEADER: &str = "x-k8s-aws-id";

/// The query keys a token's URL may carry, lower-cased; each at most once, in any case.
const ALLOWED_KEYS: [&str; 9] = [
    "action",
    "version",
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-security-token",
    "x-amz-signature",
    "x-amz-signedheaders",
];
/// Those a token must carry.
const REQUIRED_KEYS: [&str; 8] = [
    "action",
    "version",
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-signature",
    "x-amz-signedheaders",
];

/// Why a token was refused before any network call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    /// Malformed or expired.
    pub kind: TokenErrorKind,
    /// What is wrong and what to do; never echoes the token.
    pub message: Cow<'static, str>,
}

/// The two local refusals, which answer differently (CONTRACT §4b "Answers").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenErrorKind {
    /// `403 IncompleteSignatureException`, `trellis_sts_tokens_total{result="malformed"}`.
    Malformed,
    /// `403 ExpiredTokenException`, `trellis_sts_tokens_total{result="expired"}`.
    Expired,
}

impl TokenError {
    fn malformed(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind: TokenErrorKind::Malformed,
            message: message.into(),
        }
    }
}

/// A token that passed every local check: the decoded URL and where its parts are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedToken {
    url: String,
    host: Range<usize>,
    path_and_query: Range<usize>,
    /// `X-Amz-Date` + [`TOKEN_LIFETIME`]: when the token stops verifying at STS.
    pub expires_at: SystemTime,
}

impl ParsedToken {
    /// The host the URL was signed for (`sts.us-west-2.amazonaws.com`): the `Host` STS must get.
    pub fn host(&self) -> &str {
        &self.url[self.host.clone()]
    }

    /// `/?Action=GetCallerIdentity&...`, exactly as signed.
    pub fn path_and_query(&self) -> &str {
        &self.url[self.path_and_query.clone()]
    }
}

/// The STS host names a token may be signed for: the global endpoint and every regional,
/// FIPS and dual-stack endpoint of the `aws`, `aws-cn` and `aws-us-gov` partitions.
pub fn is_sts_host(host: &str) -> bool {
    if host == "sts.amazonaws.com" {
        return true;
    }
    let Some(rest) = host
        .strip_prefix("sts.")
        .or_else(|| host.strip_prefix("sts-fips."))
    else {
        return false;
    };
    let Some((region, domain)) = rest.split_once('.') else {
        return false;
    };
    let china = region.starts_with("cn-");
    is_region(region)
        && match domain {
            "amazonaws.com" | "api.aws" => !china,
            "amazonaws.com.cn" | "api.amazonwebservices.com.cn" => china,
            _ => false,
        }
}

/// `us-west-2`, `ap-southeast-1`, `us-gov-west-1`, `cn-north-1`.
fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let letters = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    match parts[..] {
        [area, direction, n] | [area, "gov", direction, n] => {
            area.len() == 2
                && letters(area)
                && letters(direction)
                && (1..=2).contains(&n.len())
                && n.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// Parses `token` (the credential after `Bearer `) and makes every local check at `now`;
/// `max_skew` is how far `X-Amz-Date` may lie in the future.
pub fn parse(token: &str, now: SystemTime, max_skew: Duration) -> Result<ParsedToken, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::malformed(format!(
            "The identity token is {} bytes long; tokens are at most {MAX_TOKEN_BYTES} bytes. Send the token `aws eks get-token` prints.",
            token.len()
        )));
    }
    let Some(encoded) = token.strip_prefix(TOKEN_PREFIX) else {
        return Err(TokenError::malformed(
            "The identity token does not start with `k8s-aws-v1.`.",
        ));
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .map_err(|_| {
            TokenError::malformed("The identity token is not base64url after `k8s-aws-v1.`.")
        })?;
    let url = String::from_utf8(bytes)
        .map_err(|_| TokenError::malformed("The identity token does not hold a URL."))?;
    let parsed = check_url(url)?;
    let query = &parsed.url[parsed.path_and_query.start + 2..];
    let params = check_query(query)?;
    let date = check_time(&params, now, max_skew)?;
    Ok(ParsedToken {
        expires_at: date + TOKEN_LIFETIME,
        ..parsed
    })
}

/// Scheme, host, path: `https://<STS host>/?<query>`, nothing else.
fn check_url(url: String) -> Result<ParsedToken, TokenError> {
    let Some(rest) = url.strip_prefix("https://") else {
        return Err(TokenError::malformed(
            "The identity token's URL is not `https://`: only STS over HTTPS is asked.",
        ));
    };
    if url
        .bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || b == b'#')
    {
        return Err(TokenError::malformed(
            "The identity token's URL holds a space, a control character or a fragment.",
        ));
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if authority.contains('@') {
        return Err(TokenError::malformed(
            "The identity token's URL carries user information (`@`); send a token for an STS host.",
        ));
    }
    if authority.contains(':') {
        return Err(TokenError::malformed(
            "The identity token's URL names a port; STS is asked on its own port only.",
        ));
    }
    if !is_sts_host(authority) {
        return Err(TokenError::malformed(format!(
            "The identity token's URL names the host `{}`, which is not an STS endpoint such as `sts.amazonaws.com` or `sts.us-west-2.amazonaws.com`.",
            printable(authority)
        )));
    }
    let host_start = "https://".len();
    let host = host_start..host_start + authority_end;
    let path_and_query = host.end..url.len();
    if !url[path_and_query.clone()].starts_with("/?") {
        return Err(TokenError::malformed(
            "The identity token's URL must be `https://STS-HOST/?Action=GetCallerIdentity&...`: its path is not `/` or it has no query.",
        ));
    }
    Ok(ParsedToken {
        url,
        host,
        path_and_query,
        expires_at: SystemTime::UNIX_EPOCH,
    })
}

/// The values of the allowed keys, by their position in [`ALLOWED_KEYS`], decoded.
type Params<'a> = [Option<Cow<'a, str>>; ALLOWED_KEYS.len()];

fn param<'p>(params: &'p Params<'_>, key: &str) -> Option<&'p str> {
    ALLOWED_KEYS
        .iter()
        .position(|k| *k == key)
        .and_then(|i| params[i].as_deref())
}

/// Only allowed keys, each once in any letter case; the action, version, algorithm, scope and
/// signed headers STS `GetCallerIdentity` tokens have.
fn check_query(query: &str) -> Result<Params<'_>, TokenError> {
    let mut params: Params<'_> = Default::default();
    for pair in query.split('&') {
        let Some((raw_key, raw_value)) = pair.split_once('=') else {
            return Err(TokenError::malformed(
                "The identity token's query has a parameter without `=`.",
            ));
        };
        let key = decode(raw_key)?;
        let Some(i) = ALLOWED_KEYS
            .iter()
            .position(|k| k.eq_ignore_ascii_case(&key))
        else {
            return Err(TokenError::malformed(format!(
                "The identity token's query carries `{}`, which a GetCallerIdentity token never has.",
                printable(&key)
            )));
        };
        if params[i].is_some() {
            return Err(TokenError::malformed(format!(
                "The identity token's query carries `{}` more than once (letter case ignored).",
                ALLOWED_KEYS[i]
            )));
        }
        params[i] = Some(decode(raw_value)?);
    }
    if let Some(missing) = REQUIRED_KEYS.iter().find(|k| param(&params, k).is_none()) {
        return Err(TokenError::malformed(format!(
            "The identity token's query has no `{missing}`."
        )));
    }
    let expect = |key: &'static str, want: &'static str| {
        match param(&params, key) {
        Some(v) if v == want => Ok(()),
        _ => Err(TokenError::malformed(format!(
            "The identity token's `{key}` is not `{want}`: only STS GetCallerIdentity tokens are accepted."
        ))),
    }
    };
    expect("action", "GetCallerIdentity")?;
    expect("version", "2011-06-15")?;
    expect("x-amz-algorithm", "AWS4-HMAC-SHA256")?;
    let credential = param(&params, "x-amz-credential").unwrap_or("");
    let scope: Vec<&str> = credential.split('/').collect();
    match scope[..] {
        [key, date, region, "sts", "aws4_request"]
            if !key.is_empty() && date.len() == 8 && !region.is_empty() => {}
        _ => {
            return Err(TokenError::malformed(
                "The identity token's X-Amz-Credential is not `KEY/DATE/REGION/sts/aws4_request`.",
            ))
        }
    }
    let signed = param(&params, "x-amz-signedheaders").unwrap_or("");
    for required in ["host", AUDIENCE_HEADER] {
        if !signed.split(';').any(|h| h.eq_ignore_ascii_case(required)) {
            return Err(TokenError::malformed(format!(
                "The identity token does not sign `{required}`; make it with `aws eks get-token --cluster-name <audience>`, which signs `{AUDIENCE_HEADER}`."
            )));
        }
    }
    let signature = param(&params, "x-amz-signature").unwrap_or("");
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TokenError::malformed(
            "The identity token's X-Amz-Signature is not 64 hex digits.",
        ));
    }
    let expires = param(&params, "x-amz-expires").unwrap_or("");
    match expires.parse::<u32>() {
        Ok(n) if n <= MAX_EXPIRES_SECS && expires.bytes().all(|b| b.is_ascii_digit()) => {}
        _ => {
            return Err(TokenError::malformed(format!(
                "The identity token's X-Amz-Expires `{}` is not a number of seconds up to {MAX_EXPIRES_SECS}.",
                printable(expires)
            )))
        }
    }
    let date = param(&params, "x-amz-date").unwrap_or("");
    if !date.starts_with(scope[1]) {
        return Err(TokenError::malformed(
            "The identity token's X-Amz-Date and the date of its X-Amz-Credential differ.",
        ));
    }
    Ok(params)
}

/// The 15-minute rule, and no date further in the future than the clock skew.
fn check_time(
    params: &Params<'_>,
    now: SystemTime,
    max_skew: Duration,
) -> Result<SystemTime, TokenError> {
    let text = param(params, "x-amz-date").unwrap_or("");
    let date = amz_date(text).ok_or_else(|| {
        TokenError::malformed("The identity token's X-Amz-Date is not `YYYYMMDDTHHMMSSZ`.")
    })?;
    if now > date + TOKEN_LIFETIME {
        return Err(TokenError {
            kind: TokenErrorKind::Expired,
            message: Cow::Owned(format!(
                "The identity token was signed at {text} and expired 15 minutes later; get a new one (`aws eks get-token`)."
            )),
        });
    }
    if date > now + max_skew {
        return Err(TokenError::malformed(format!(
            "The identity token's X-Amz-Date {text} is later than now plus the allowed clock skew; check the caller's clock."
        )));
    }
    Ok(date)
}

/// `20240131T235959Z` as a time.
fn amz_date(s: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let t = time::PrimitiveDateTime::parse(s, &format)
        .ok()?
        .assume_utc();
    let secs = u64::try_from(t.unix_timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Percent-decoding of one query component, strict: a `%` must start two hex digits and the
/// result must be UTF-8. `+` stays `+` (STS reads the query as SigV4 does, not as a form).
fn decode(s: &str) -> Result<Cow<'_, str>, TokenError> {
    if !s.contains('%') {
        return Ok(Cow::Borrowed(s));
    }
    let bad = || TokenError::malformed("The identity token's query holds a bad percent-escape.");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
            let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map(Cow::Owned).map_err(|_| bad())
}

/// Caller text in a message: printable, bounded.
fn printable(s: &str) -> String {
    s.chars()
        .take(128)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
