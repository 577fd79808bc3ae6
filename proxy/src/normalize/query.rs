//! The query: what the upstream receives, and how `RequestQueryString/<key>` reads it.
//!
//! Both read the same string: the caller's query less the presigned-URL authentication
//! parameters. The SigV4 verifier keeps reading the original target from the request URI.

use super::hex_val;

/// The SigV4 query-authentication parameters of presigned URLs, lower-case. With them a URL is
/// a bearer credential for up to 7 days, so they must not reach the service's URL logs.
const PRESIGN_PARAMS: [&str; 8] = [
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-signedheaders",
    "x-amz-signature",
    "x-amz-security-token",
    "x-amz-region-set",
];

/// The longest name in [`PRESIGN_PARAMS`].
const LONGEST_PRESIGN_PARAM: usize = "x-amz-security-token".len();

/// The bytes of a query key or value as a form decoder reads them: `%XX` escapes decoded, `+`
/// a space, a malformed escape as written.
#[derive(Debug, Clone)]
struct Decoded<'a> {
    rest: &'a [u8],
}

impl Iterator for Decoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        if b == b'%' {
            let hi = rest.first().copied().and_then(hex_val);
            let lo = rest.get(1).copied().and_then(hex_val);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                self.rest = rest.get(2..).unwrap_or_default();
                return Some((hi << 4) | lo);
            }
        }
        self.rest = rest;
        Some(if b == b'+' { b' ' } else { b })
    }
}

/// Decodes a query key or value as an HTML form decoder does (what upstream frameworks read):
/// `+` is a space, `%XX` escapes are decoded, a malformed escape is kept as written and bytes
/// that are not UTF-8 after decoding become U+FFFD, so decoding never fails.
pub fn form_decode(s: &str) -> String {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return s.to_owned();
    }
    let bytes: Vec<u8> = Decoded { rest: s.as_bytes() }.collect();
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Splits a query string into form-decoded `(key, value)` pairs, in order and with repeats:
/// `?tag=a&tag=b` gives `RequestQueryString/tag` the values `[a, b]`.
///
/// `+` is a space, as in the form decoders of the frameworks behind the proxy: a policy that
/// denies `drop all` must also stop `drop+all` and `drop%20all`, which the service reads as
/// `drop all`. (The SigV4 canonical query, which treats `+` as a plus, is computed separately
/// from the original target.) A pair without `=` has the empty value; empty pairs (`a=1&&b=2`)
/// are skipped. Presign parameters are not removed here: pass the forwarded query.
pub fn query_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (form_decode(k), form_decode(v)),
            None => (form_decode(pair), String::new()),
        })
        .collect()
}

/// Whether the raw `key` of a query item names a presign parameter (`X-Amz-Signature`, ...),
/// compared as a lenient service would read it: decoded, ignoring ASCII case. No allocation.
pub fn is_presign_param(key: &str) -> bool {
    // Every name starts with `x`; an escape may spell it.
    if !matches!(key.as_bytes().first(), Some(b'x' | b'X' | b'%')) {
        return false;
    }
    let mut name = [0u8; LONGEST_PRESIGN_PARAM];
    let mut len = 0;
    for b in (Decoded {
        rest: key.as_bytes(),
    }) {
        let Some(slot) = name.get_mut(len) else {
            return false;
        };
        *slot = b.to_ascii_lowercase();
        len += 1;
    }
    let name = name.get(..len).unwrap_or_default();
    PRESIGN_PARAMS.iter().any(|p| p.as_bytes() == name)
}

/// The key of a raw query item: up to the first `=`.
fn key_of(item: &str) -> &str {
    item.split_once('=').map_or(item, |(k, _)| k)
}

/// The first key of `read` (lower-case) that `query` carries in two different letter cases,
/// as `(one spelling, another)`, after form decoding.
///
/// A policy matches `RequestQueryString/<key>` case-insensitively (IAM key names are), so it
/// reads `?a=1&A=2` as one key with two values, while services read two keys: no single value
/// is the one the policy decides on. Runs only when a loaded policy reads a query key.
pub fn query_key_in_two_cases(query: &str, read: &[String]) -> Option<(String, String)> {
    if read.is_empty() {
        return None;
    }
    let mut seen: Vec<String> = Vec::new();
    for item in query.split('&').filter(|i| !i.is_empty()) {
        let key = form_decode(key_of(item));
        if !read.iter().any(|r| r.eq_ignore_ascii_case(&key)) {
            continue;
        }
        if let Some(other) = seen
            .iter()
            .find(|s| s.eq_ignore_ascii_case(&key) && **s != key)
        {
            return Some((other.clone(), key));
        }
        if !seen.contains(&key) {
            seen.push(key);
        }
    }
    None
}

/// Appends `?` and the query the upstream receives to `out`: `raw` byte for byte, less every
/// item whose key [`is_presign_param`] (and the `&` that joined it). Nothing is appended when
/// nothing is left of a query that held such items; an empty query stays an empty query.
pub fn forwarded_query(raw: &str, out: &mut String) {
    let start = out.len();
    out.push('?');
    let mut removed = false;
    let mut first = true;
    for item in raw.split('&') {
        if is_presign_param(key_of(item)) {
            removed = true;
            continue;
        }
        if !first {
            out.push('&');
        }
        out.push_str(item);
        first = false;
    }
    if removed && out.len() == start + 1 {
        out.truncate(start);
    }
}
