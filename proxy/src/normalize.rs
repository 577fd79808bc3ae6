//! The one normalized request path (CONTRACT §3 "Paths") and the query-string view used by
//! policy conditions.
//!
//! The same string is the policy resource suffix, `vpc-lattice-svcs:RequestPath` and the path
//! the upstream receives, so a caller cannot make the policy see one path and the service
//! another (`/admin` vs `/public/../admin` vs `/%61dmin`). Everything here is a pure function.

use std::fmt;

/// Why a request target cannot be normalized; every variant is answered with `400`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Only origin-form targets (`/...`) name a resource behind the proxy.
    #[error("request target `{0}` is not an absolute path; send a path starting with `/`")]
    NotAbsolute(String),
    /// `%2F` or `%5C` would let `a%2Fb` be one segment to us and two to the service.
    #[error("request path contains an encoded slash or backslash (`%2F`, `%5C`); send the path without it")]
    EncodedSeparator,
    /// A raw backslash is a separator to some services and a character to others.
    #[error("request path contains a backslash; send the path without it")]
    Backslash,
    /// A NUL byte truncates paths in C-based services.
    #[error("request path contains a NUL byte (raw or `%00`); send the path without it")]
    Nul,
    /// `%` must be followed by two hex digits.
    #[error("request path contains a malformed percent-encoding; encode `%` as `%25`")]
    BadPercentEncoding,
    /// `..` segments that would climb above `/`.
    #[error(
        "request path climbs above the root with `..` segments; send a path that stays under `/`"
    )]
    AboveRoot,
}

/// The normalized path of a request, placed in the request extensions by `Normalize`.
///
/// `raw_query` is kept byte for byte: the upstream receives exactly the query the caller sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedPath {
    path: String,
    raw_query: Option<String>,
}

impl NormalizedPath {
    /// Normalizes `raw_path` (the path part of the request target) and keeps `raw_query`.
    pub fn new(raw_path: &str, raw_query: Option<&str>) -> Result<Self, PathError> {
        Ok(Self {
            path: normalize_path(raw_path)?,
            raw_query: raw_query.map(str::to_owned),
        })
    }

    /// The normalized path, always starting with `/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query string exactly as received, without the `?`.
    pub fn raw_query(&self) -> Option<&str> {
        self.raw_query.as_deref()
    }

    /// The decoded query pairs (see [`query_pairs`]).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.raw_query
            .as_deref()
            .map(query_pairs)
            .unwrap_or_default()
    }

    /// Path and query as the upstream request target: `/a/b?x=1`.
    pub fn path_and_query(&self) -> String {
        match &self.raw_query {
            Some(q) => {
                let mut s = String::with_capacity(self.path.len() + 1 + q.len());
                s.push_str(&self.path);
                s.push('?');
                s.push_str(q);
                s
            }
            None => self.path.clone(),
        }
    }
}

impl fmt::Display for NormalizedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Characters that may stay raw in a path segment (RFC 3986 `pchar` minus `%`).
fn is_raw_pchar(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn push_encoded(out: &mut String, b: u8) {
    out.push('%');
    out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
    out.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
}

/// Normalizes a request path: percent-encoding in uppercase hex, unreserved characters
/// decoded, other bytes outside `pchar` encoded, repeated slashes merged, dot segments removed
/// (RFC 3986 §5.2.4; decoded `%2E` counts as a dot). The result is idempotent and never
/// contains `//`, `/./` or `/../`.
///
/// Rejected: an encoded slash or backslash, a raw backslash, a NUL (raw or `%00`), a malformed
/// `%` escape and `..` above the root.
pub fn normalize_path(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    if bytes.first() != Some(&b'/') {
        if raw.is_empty() {
            return Ok("/".to_owned());
        }
        return Err(PathError::NotAbsolute(raw.chars().take(64).collect()));
    }
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        // bytes[i] is '/'. Merge runs of slashes.
        while i < bytes.len() && bytes[i] == b'/' {
            i += 1;
        }
        let seg_start = out.len() + 1;
        out.push('/');
        while i < bytes.len() && bytes[i] != b'/' {
            let b = bytes[i];
            match b {
                b'%' => {
                    let hi = bytes.get(i + 1).copied().and_then(hex_val);
                    let lo = bytes.get(i + 2).copied().and_then(hex_val);
                    let (Some(hi), Some(lo)) = (hi, lo) else {
                        return Err(PathError::BadPercentEncoding);
                    };
                    let decoded = (hi << 4) | lo;
                    match decoded {
                        b'/' | b'\\' => return Err(PathError::EncodedSeparator),
                        0 => return Err(PathError::Nul),
                        d if is_unreserved(d) => out.push(char::from(d)),
                        d => push_encoded(&mut out, d),
                    }
                    i += 3;
                }
                0 => return Err(PathError::Nul),
                b'\\' => return Err(PathError::Backslash),
                b if is_raw_pchar(b) => {
                    out.push(char::from(b));
                    i += 1;
                }
                b => {
                    push_encoded(&mut out, b);
                    i += 1;
                }
            }
        }
        let segment = &out[seg_start..];
        let at_end = i >= bytes.len();
        match segment {
            "." => {
                // Drop the segment, keep the slash before it: `/a/.` -> `/a/`, `/a/./b` -> `/a/b`.
                out.truncate(seg_start);
                if !at_end {
                    out.truncate(seg_start - 1);
                }
            }
            ".." => {
                // The parent is the kept segment before this one's slash; none at the root.
                let before = &out[..seg_start - 1];
                let Some(parent) = before.rfind('/').map(|i| i + 1) else {
                    return Err(PathError::AboveRoot);
                };
                // Remove the parent segment and this one, keep the slash before the parent.
                out.truncate(parent);
                if !at_end {
                    out.truncate(parent - 1);
                }
            }
            // A kept segment, or (only at the end, as slash runs are skipped above) the empty
            // segment of a trailing slash.
            _ => {}
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// Splits a raw query string into decoded `(key, value)` pairs, in order and with repeats:
/// `?tag=a&tag=b` gives `RequestQueryString/tag` the values `[a, b]`.
///
/// `+` is a literal plus, not a space: RFC 3986 and SigV4's canonical query string both treat it
/// so, and only HTML form encoding maps it to a space. A pair without `=` has the empty value;
/// empty pairs (`a=1&&b=2`) are skipped; a malformed `%` escape is kept as written and bytes that
/// are not UTF-8 after decoding become U+FFFD, so parsing never fails.
pub fn query_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(pair), String::new()),
        })
        .collect()
}

/// Decodes `%XX` escapes; malformed escapes stay as written.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    if !bytes.contains(&b'%') {
        return s.to_owned();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_val);
            let lo = bytes.get(i + 2).copied().and_then(hex_val);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push((hi << 4) | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
