//! How the request target is read (CONTRACT §3 "Paths" and "One request, one reading"): the one
//! normalized path, the query the upstream receives and the query-string view of policy
//! conditions.
//!
//! The same path string is the policy resource suffix, `vpc-lattice-svcs:RequestPath` and the
//! path the upstream receives, so a caller cannot make the policy see one path and the service
//! another (`/admin` vs `/public/../admin` vs `/%61dmin` vs `/p1%3Adelete`). Likewise the
//! policy's `RequestQueryString` keys are read from exactly the query the upstream receives.
//! Everything here is a pure function.

// Every byte here comes from the caller: a slice out of range must be a refusal, not a panic.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod query;

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

pub use query::{
    form_decode, forwarded_query, is_presign_param, query_key_in_two_cases, query_pairs,
};

/// How paths are read, from the flags; what a path may hold beyond the fixed rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PathRules {
    /// `--allow-path-semicolons`: keep `;` (matrix parameters). Off, a path holding `;` is
    /// refused: servlet containers (Tomcat, Jetty, Spring) cut `;…` from each segment after the
    /// policy has decided on the whole one, so `/public/..;/secret` is `/secret` to them.
    pub allow_semicolons: bool,
}

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
    /// `%2541` is `%41` to a service that decodes once and `A` to one that decodes twice.
    #[error("request path is percent-encoded twice (`%25` followed by two hex digits); encode the path once")]
    DoubleEncoding,
    /// `;` starts a path parameter that servlet containers cut off after the policy decided.
    #[error("request path contains `;` (raw or `%3B`), which servlet containers read as a path parameter; send the path without it, or start the proxy with `--allow-path-semicolons`")]
    Semicolon,
    /// `..;x` is a dot segment to servlet containers and a plain name to other servers.
    #[error("request path has a dot segment with a `;` parameter (`.;` or `..;`); send the path without it")]
    DotSegmentParameter,
    /// `..` segments that would climb above `/`.
    #[error(
        "request path climbs above the root with `..` segments; send a path that stays under `/`"
    )]
    AboveRoot,
}

/// The target of a request as the policy and the upstream read it, placed in the request
/// extensions by `Normalize`.
///
/// Path and query are kept in one shared buffer, `path` or `path?query`, which is also the
/// upstream's request target: one allocation per request, whether or not presign parameters are
/// removed, and the access log shares it ([`Self::shared_path`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedPath {
    target: Arc<str>,
    path_len: usize,
}

thread_local! {
    /// Where a target is normalized, before it is copied at its final length into the shared
    /// buffer of its `NormalizedPath` (no larger than the longest request head read).
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A request's path as the access log records it: the normalized path shared with its
/// [`NormalizedPath`], or a copy of the raw one when normalization failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedPath {
    text: Arc<str>,
    len: usize,
}

impl SharedPath {
    /// The path.
    pub fn as_str(&self) -> &str {
        self.text.get(..self.len).unwrap_or_default()
    }
}

impl From<&str> for SharedPath {
    fn from(path: &str) -> Self {
        Self {
            text: Arc::from(path),
            len: path.len(),
        }
    }
}

impl std::ops::Deref for SharedPath {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl NormalizedPath {
    /// [`Self::with_rules`] under the default [`PathRules`] (no `;`).
    pub fn new(raw_path: &str, raw_query: Option<&str>) -> Result<Self, PathError> {
        Self::with_rules(raw_path, raw_query, PathRules::default())
    }

    /// Normalizes `raw_path` (the path part of the request target) under `rules` and keeps
    /// `raw_query` as the upstream will receive it (see [`forwarded_query`]).
    pub fn with_rules(
        raw_path: &str,
        raw_query: Option<&str>,
        rules: PathRules,
    ) -> Result<Self, PathError> {
        SCRATCH.with_borrow_mut(|target| {
            target.clear();
            normalize_path_into(raw_path, rules, target)?;
            let path_len = target.len();
            if let Some(q) = raw_query {
                forwarded_query(q, target);
            }
            Ok(Self {
                target: Arc::from(target.as_str()),
                path_len,
            })
        })
    }

    /// A path already normalized and a query already as forwarded, as a decision log records
    /// them: `policy replay` must decide on exactly what the proxy decided on, so nothing is
    /// normalized a second time.
    pub fn from_recorded(path: &str, query: Option<&str>) -> Self {
        let mut target = String::with_capacity(path.len() + query.map_or(0, |q| q.len() + 1));
        target.push_str(path);
        if let Some(q) = query {
            target.push('?');
            target.push_str(q);
        }
        Self {
            target: target.into(),
            path_len: path.len(),
        }
    }

    /// The path, sharing this target's buffer.
    pub fn shared_path(&self) -> SharedPath {
        SharedPath {
            text: Arc::clone(&self.target),
            len: self.path_len,
        }
    }

    /// The normalized path, always starting with `/`.
    pub fn path(&self) -> &str {
        &self.target[..self.path_len]
    }

    /// The query the upstream receives, without the `?`: the caller's byte for byte, less the
    /// presigned-URL authentication parameters. `None` when there is none to send.
    pub fn query(&self) -> Option<&str> {
        self.target.get(self.path_len + 1..)
    }

    /// The decoded pairs of [`Self::query`] (see [`query_pairs`]).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query().map(query_pairs).unwrap_or_default()
    }

    /// Path and query as the upstream request target: `/a/b?x=1`.
    pub fn path_and_query(&self) -> &str {
        &self.target
    }
}

impl fmt::Display for NormalizedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
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

fn push_encoded(out: &mut String, b: u8) {
    out.push_str(percent_encoding::percent_encode_byte(b));
}

/// Normalizes a request path under `rules`: every escape of a `pchar` (unreserved, sub-delims,
/// `:`, `@`) decoded, other escapes in uppercase hex, other bytes outside `pchar` encoded,
/// repeated slashes merged, dot segments removed (RFC 3986 §5.2.4; decoded `%2E` counts as a
/// dot). The result is idempotent and never contains `//`, `/./` or `/../`.
///
/// Decoding every `pchar` leaves one spelling per path: `/p1%3Adelete` is `/p1:delete` for the
/// policy and for the service, which would decode it anyway.
///
/// Rejected: an encoded slash or backslash, a raw backslash, a NUL (raw or `%00`), a malformed
/// `%` escape, a double encoding (`%25` followed by two hex digits, after decoding), `;` (raw or
/// `%3B`) unless `rules` allow it, then a dot segment carrying a `;` parameter, and `..` above
/// the root.
pub fn normalize_path(raw: &str, rules: PathRules) -> Result<String, PathError> {
    let mut out = String::with_capacity(raw.len());
    normalize_path_into(raw, rules, &mut out)?;
    Ok(out)
}

/// [`normalize_path`] appending to `out`, which must be empty.
fn normalize_path_into(raw: &str, rules: PathRules, out: &mut String) -> Result<(), PathError> {
    let bytes = raw.as_bytes();
    if bytes.first() != Some(&b'/') {
        if raw.is_empty() {
            out.push('/');
            return Ok(());
        }
        return Err(PathError::NotAbsolute(raw.chars().take(64).collect()));
    }
    let mut i = 0;
    while i < bytes.len() {
        // bytes[i] is '/'. Merge runs of slashes.
        while bytes.get(i) == Some(&b'/') {
            i += 1;
        }
        let seg_start = out.len() + 1;
        out.push('/');
        // Only an escaped `%` can start a double encoding; the segment is scanned only then.
        let mut escaped_percent = false;
        while let Some(&b) = bytes.get(i).filter(|&&b| b != b'/') {
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
                        b';' if !rules.allow_semicolons => return Err(PathError::Semicolon),
                        b'%' => {
                            escaped_percent = true;
                            push_encoded(out, b'%');
                        }
                        d if is_raw_pchar(d) => out.push(char::from(d)),
                        d => push_encoded(out, d),
                    }
                    i += 3;
                }
                0 => return Err(PathError::Nul),
                b'\\' => return Err(PathError::Backslash),
                b';' if !rules.allow_semicolons => return Err(PathError::Semicolon),
                b if is_raw_pchar(b) => {
                    out.push(char::from(b));
                    i += 1;
                }
                b => {
                    push_encoded(out, b);
                    i += 1;
                }
            }
        }
        let segment = &out[seg_start..];
        if escaped_percent && has_double_encoding(segment) {
            return Err(PathError::DoubleEncoding);
        }
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
            // A servlet container reads `..;x` as `..` and climbs; every other server reads a
            // name. Removing it would guess for one of them, keeping it lets the policy see a
            // path the servlet does not serve: refused. (`;` only gets here when allowed.)
            s if rules.allow_semicolons && is_dot_segment_with_parameter(s) => {
                return Err(PathError::DotSegmentParameter);
            }
            // A kept segment, or (only at the end, as slash runs are skipped above) the empty
            // segment of a trailing slash.
            _ => {}
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(())
}

/// `.;x` or `..;x`: a dot segment once a servlet container has cut its parameter.
fn is_dot_segment_with_parameter(segment: &str) -> bool {
    segment
        .split_once(';')
        .is_some_and(|(name, _)| matches!(name, "." | ".."))
}

/// Whether normalized `path` (or segment) holds `%25` followed by two hex digits. Every `%` in
/// a normalized path starts an escape, and the hex digits following one may have been decoded
/// from escapes themselves (`%25%34%31`), so the normalized form is the one to look at.
fn has_double_encoding(path: &str) -> bool {
    path.match_indices("%25").any(|(i, _)| {
        let b = path.as_bytes();
        matches!(
            (
                b.get(i + 3).copied().and_then(hex_val),
                b.get(i + 4).copied().and_then(hex_val)
            ),
            (Some(_), Some(_))
        )
    })
}

#[cfg(test)]
mod tests;
