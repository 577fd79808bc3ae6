//! The canonical request, built from the bytes on the wire (never from anything an HTTP library
//! decoded) into reused buffers.
//!
//! Two URI forms are in use by documented Lattice clients: "standard" (dot segments and empty
//! segments removed, then every byte outside `A-Za-z0-9-._~/` percent-encoded again, so `%20`
//! becomes `%2520`) and "as sent" (S3 style: the wire path unchanged). The query is decoded and
//! re-encoded per pair, pairs sorted by (key, value); a raw `+` is read as `%2B` (CRT) or as a
//! space (aws-sigv4, Go, requests-aws4auth), so the verifier may build both readings.

use http::HeaderMap;
use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::error::AuthError;
use super::parse::{split_byte, split_once_byte};

/// How a raw `+` in the query is read before re-encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlusMode {
    /// `+` is a literal plus: `%2B` (aws-c-auth / CRT, botocore's CRT signers).
    Literal,
    /// `+` is a form-encoded space: `%20` (aws-sigv4, aws-sdk-go-v2, requests-aws4auth).
    Space,
}

/// Reused buffers: one per thread, so a request allocates only when it is bigger than every
/// request that thread has seen before. Its `Debug` shows sizes only: the contents are
/// canonical-request material, which must never reach a log.
#[derive(Default)]
pub(crate) struct Scratch {
    pub(crate) uri: Vec<u8>,
    pub(crate) query: Vec<u8>,
    pub(crate) tail: Vec<u8>,
    segments: Vec<usize>,
    encoded: Vec<u8>,
    pairs: Vec<[u32; 3]>,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scratch")
            .field("uri_capacity", &self.uri.capacity())
            .field("query_capacity", &self.query.capacity())
            .field("tail_capacity", &self.tail.capacity())
            .finish_non_exhaustive()
    }
}

impl Scratch {
    /// Releases buffers a very large request grew, so one outlier does not pin memory per
    /// thread for the life of the process.
    pub(crate) fn trim(&mut self) {
        const KEEP: usize = 16 * 1024;
        for b in [
            &mut self.uri,
            &mut self.query,
            &mut self.tail,
            &mut self.encoded,
        ] {
            if b.capacity() > KEEP {
                *b = Vec::new();
            }
        }
        if self.segments.capacity() > KEEP / 8 {
            self.segments = Vec::new();
        }
        if self.pairs.capacity() > KEEP / 12 {
            self.pairs = Vec::new();
        }
    }
}

/// Splits a request target into path and raw query. An absolute-form target
/// (`http://host/p?q`, sent to proxies) yields its path; an empty path is `/`.
pub(crate) fn split_target(target: &str) -> (&str, Option<&str>) {
    let mut t = target;
    for scheme in ["http://", "https://"] {
        // Compare bytes: slicing the str could split a multi-byte character.
        if t.as_bytes()
            .get(..scheme.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(scheme.as_bytes()))
        {
            let rest = &t[scheme.len()..];
            t = rest.find(['/', '?']).map_or("", |i| &rest[i..]);
            break;
        }
    }
    let (path, query) = match t.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (t, None),
    };
    (if path.is_empty() { "/" } else { path }, query)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// What SigV4 escapes: every byte but the RFC 3986 unreserved ones.
const SIGV4_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Appends `raw` percent-encoded; the runs that need no escaping are copied whole.
fn push_all_encoded(out: &mut Vec<u8>, raw: &[u8]) {
    for run in percent_encode(raw, SIGV4_ESCAPED) {
        out.extend_from_slice(run.as_bytes());
    }
}

fn push_encoded(out: &mut Vec<u8>, b: u8) {
    if is_unreserved(b) {
        out.push(b);
    } else {
        out.extend_from_slice(percent_encoding::percent_encode_byte(b).as_bytes());
    }
}

/// The standard canonical URI: RFC 3986 remove-dot-segments plus dropping empty segments
/// (never above the root; a trailing `/` kept), then each segment percent-encoded byte-wise
/// as it stands on the wire (`%` becomes `%25`). `%2E` is not a dot: normalisation works on
/// the encoded path, as CRT, aws-sigv4 and botocore do.
pub(crate) fn standard_uri(path: &str, s: &mut Scratch) {
    s.uri.clear();
    s.segments.clear();
    for seg in split_byte(path, b'/') {
        match seg {
            "" | "." => {}
            ".." => {
                if let Some(start) = s.segments.pop() {
                    s.uri.truncate(start);
                }
            }
            seg => {
                s.segments.push(s.uri.len());
                s.uri.push(b'/');
                push_all_encoded(&mut s.uri, seg.as_bytes());
            }
        }
    }
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if s.uri.is_empty() || (trailing && !s.uri.ends_with(b"/")) {
        s.uri.push(b'/');
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

/// Percent-decodes `raw` (a malformed escape stays literal) and re-encodes it canonically.
fn reencode(raw: &[u8], plus: PlusMode, out: &mut Vec<u8>) {
    if raw.iter().all(|&b| is_unreserved(b)) {
        out.extend_from_slice(raw);
        return;
    }
    let mut rest = raw;
    while let Some((&first, tail)) = rest.split_first() {
        rest = tail;
        let b = match (first, tail) {
            (b'%', [hi, lo, after @ ..]) => match (hex_val(*hi), hex_val(*lo)) {
                (Some(h), Some(l)) => {
                    rest = after;
                    (h << 4) | l
                }
                _ => first,
            },
            (b'+', _) if plus == PlusMode::Space => b' ',
            _ => first,
        };
        push_encoded(out, b);
    }
}

/// The canonical query string into `s.query`: items split on `&` (empty items skipped), each on
/// its first `=` (`flag` is `flag=`), decoded and re-encoded, sorted by (key, value), repeats
/// kept. With `exclude_signature`, `X-Amz-Signature` is left out (presigned URLs).
pub(crate) fn canonical_query(
    query: &str,
    plus: PlusMode,
    exclude_signature: bool,
    s: &mut Scratch,
) {
    s.query.clear();
    s.encoded.clear();
    s.pairs.clear();
    for item in split_byte(query, b'&') {
        if item.is_empty() {
            continue;
        }
        let (k, v) = split_once_byte(item, b'=').unwrap_or((item, ""));
        if exclude_signature && k == "X-Amz-Signature" {
            continue;
        }
        let start = s.encoded.len();
        reencode(k.as_bytes(), plus, &mut s.encoded);
        let mid = s.encoded.len();
        reencode(v.as_bytes(), plus, &mut s.encoded);
        let end = s.encoded.len();
        // Requests are far below 4 GiB (hyper caps header sizes), so offsets fit in u32.
        s.pairs.push([start as u32, mid as u32, end as u32]);
    }
    let enc = &s.encoded;
    // The offsets were taken from `enc` above, in order: always in range.
    let part = |a: u32, b: u32| enc.get(a as usize..b as usize).unwrap_or_default();
    s.pairs.sort_unstable_by(|x, y| {
        part(x[0], x[1])
            .cmp(part(y[0], y[1]))
            .then_with(|| part(x[1], x[2]).cmp(part(y[1], y[2])))
    });
    for (i, p) in s.pairs.iter().enumerate() {
        if i > 0 {
            s.query.push(b'&');
        }
        s.query.extend_from_slice(part(p[0], p[1]));
        s.query.push(b'=');
        s.query.extend_from_slice(part(p[1], p[2]));
    }
}

/// Appends a header value trimmed of leading/trailing SP/HTAB with inner runs collapsed to
/// one space (`get-header-value-trim`).
fn push_trimmed(out: &mut Vec<u8>, value: &[u8]) {
    let ws = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !ws(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !ws(b)).map_or(start, |i| i + 1);
    let value = value.get(start..end).unwrap_or_default();
    // Almost every value is already canonical: copy it whole.
    if !value
        .windows(2)
        .any(|w| matches!(w, [a, b] if ws(a) && (ws(b) || *a == b'\t')))
    {
        out.extend_from_slice(value);
        return;
    }
    let mut pending_space = false;
    let mut started = false;
    for &b in value {
        if b == b' ' || b == b'\t' {
            pending_space = started;
        } else {
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(b);
            started = true;
        }
    }
}

/// The header lines and the SignedHeaders line into `s.tail` (the payload line is appended by
/// the caller). Repeated headers are joined with `,` in arrival order. `host` falls back to the
/// HTTP/2 `:authority`. With `absent_content_sha256_is_unsigned` (CRT's Lattice presign), a
/// signed but absent `x-amz-content-sha256` reads `UNSIGNED-PAYLOAD`.
pub(crate) fn canonical_headers(
    headers: &HeaderMap,
    authority: Option<&str>,
    signed: &str,
    absent_content_sha256_is_unsigned: bool,
    s: &mut Scratch,
) -> Result<(), AuthError> {
    s.tail.clear();
    for name in split_byte(signed, b';') {
        s.tail.extend_from_slice(name.as_bytes());
        s.tail.push(b':');
        let lookup = if name == ":authority" { "host" } else { name };
        let mut found = false;
        for v in values(headers, lookup) {
            if found {
                s.tail.push(b',');
            }
            push_trimmed(&mut s.tail, v.as_bytes());
            found = true;
        }
        if !found {
            match (name, authority) {
                ("host" | ":authority", Some(a)) => push_trimmed(&mut s.tail, a.as_bytes()),
                ("x-amz-content-sha256", _) if absent_content_sha256_is_unsigned => {
                    s.tail.extend_from_slice(b"UNSIGNED-PAYLOAD")
                }
                _ => return Err(AuthError::missing_signed_header(name)),
            }
        }
        s.tail.push(b'\n');
    }
    s.tail.push(b'\n');
    s.tail.extend_from_slice(signed.as_bytes());
    s.tail.push(b'\n');
    Ok(())
}

/// The values of a signed header. Names Lattice clients always sign are looked up by static
/// `HeaderName`, which skips parsing the name again.
fn values<'h>(headers: &'h HeaderMap, name: &str) -> http::header::GetAll<'h, http::HeaderValue> {
    use super::material::{
        X_AMZ_CONTENT_SHA256, X_AMZ_DATE, X_AMZ_REGION_SET, X_AMZ_SECURITY_TOKEN,
    };
    match name {
        "host" => headers.get_all(http::header::HOST),
        "content-type" => headers.get_all(http::header::CONTENT_TYPE),
        "x-amz-date" => headers.get_all(&X_AMZ_DATE),
        "x-amz-content-sha256" => headers.get_all(&X_AMZ_CONTENT_SHA256),
        "x-amz-security-token" => headers.get_all(&X_AMZ_SECURITY_TOKEN),
        "x-amz-region-set" => headers.get_all(&X_AMZ_REGION_SET),
        other => headers.get_all(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std_uri(p: &str) -> String {
        let mut s = Scratch::default();
        standard_uri(p, &mut s);
        String::from_utf8(s.uri).unwrap()
    }

    fn query(q: &str, plus: PlusMode) -> String {
        let mut s = Scratch::default();
        canonical_query(q, plus, true, &mut s);
        String::from_utf8(s.query).unwrap()
    }

    #[test]
    fn standard_uri_removes_dot_and_empty_segments_then_encodes_again() {
        assert_eq!(std_uri("//a/./b%20c/d:e/../f"), "/a/b%2520c/f");
        assert_eq!(std_uri("//example//"), "/example/");
        assert_eq!(std_uri("/example1/example2/../.."), "/");
        assert_eq!(std_uri("/./"), "/");
        assert_eq!(std_uri("/a/b/."), "/a/b/");
        assert_eq!(std_uri("/../x"), "/x");
        assert_eq!(std_uri("/"), "/");
        assert_eq!(std_uri("/%2E%2E/x"), "/%252E%252E/x");
        assert_eq!(std_uri("/ሴ"), "/%E1%88%B4");
        assert_eq!(std_uri("/example space/"), "/example%20space/");
        assert_eq!(std_uri("/-._~"), "/-._~");
    }

    #[test]
    fn query_pairs_are_reencoded_and_sorted_by_key_then_value() {
        assert_eq!(query("b=2&a=1&a=0", PlusMode::Literal), "a=0&a=1&b=2");
        assert_eq!(
            query("Param1=value1&param1=value2", PlusMode::Literal),
            "Param1=value1&param1=value2"
        );
        assert_eq!(
            query("q=%7E&r=~&s=%e1%88%b4&t=a/b:c", PlusMode::Literal),
            "q=~&r=~&s=%E1%88%B4&t=a%2Fb%3Ac"
        );
        assert_eq!(
            query("select-type=2&select=", PlusMode::Literal),
            "select=&select-type=2"
        );
        assert_eq!(query("flag&a=1&&b", PlusMode::Literal), "a=1&b=&flag=");
        assert_eq!(query("bad=%zz%4", PlusMode::Literal), "bad=%25zz%254");
    }

    #[test]
    fn raw_plus_in_query_has_a_literal_and_a_space_reading() {
        assert_eq!(query("q=a+b&r=%2B", PlusMode::Literal), "q=a%2Bb&r=%2B");
        assert_eq!(query("q=a+b&r=%2B", PlusMode::Space), "q=a%20b&r=%2B");
    }

    #[test]
    fn presigned_signature_parameter_is_left_out_of_the_canonical_query() {
        assert_eq!(
            query("X-Amz-Signature=ab&X-Amz-Date=1", PlusMode::Literal),
            "X-Amz-Date=1"
        );
    }

    #[test]
    fn targets_split_into_path_and_query_including_absolute_form() {
        assert_eq!(split_target("/a?b=1"), ("/a", Some("b=1")));
        assert_eq!(split_target("?b"), ("/", Some("b")));
        assert_eq!(split_target("http://h:80/p?q"), ("/p", Some("q")));
        assert_eq!(split_target("HTTPS://h"), ("/", None));
        // Found by fuzzing: a multi-byte character where the scheme would end.
        assert_eq!(split_target("/?X-Amzλlgo"), ("/", Some("X-Amzλlgo")));
        assert_eq!(split_target("httpλ"), ("httpλ", None));
    }

    #[test]
    fn repeated_headers_are_joined_and_values_trimmed() {
        let mut h = HeaderMap::new();
        h.append("my-header1", "  a   b \t c  ".parse().unwrap());
        h.append("x-multi", "one".parse().unwrap());
        h.append("x-multi", " two ".parse().unwrap());
        let mut s = Scratch::default();
        canonical_headers(
            &h,
            Some("example.com"),
            "host;my-header1;x-multi",
            false,
            &mut s,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(s.tail).unwrap(),
            "host:example.com\nmy-header1:a b c\nx-multi:one,two\n\nhost;my-header1;x-multi\n"
        );
    }

    #[test]
    fn signed_header_absent_from_the_request_is_incomplete() {
        let h = HeaderMap::new();
        let mut s = Scratch::default();
        let e = canonical_headers(&h, None, "host", false, &mut s).unwrap_err();
        assert_eq!(
            e.message(),
            "'host' is named as a SignedHeader, but it does not exist in the HTTP request."
        );
        assert!(
            canonical_headers(&h, Some("h"), "host;x-amz-content-sha256", true, &mut s).is_ok()
        );
        assert!(
            String::from_utf8_lossy(&s.tail).contains("x-amz-content-sha256:UNSIGNED-PAYLOAD\n")
        );
    }
}
