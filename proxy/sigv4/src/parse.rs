//! Parsing of the signature carriers: the `Authorization` header grammar real clients send, the
//! credential scope, SignedHeaders and the hex signature. Everything borrows from the request.

use super::error::{printable, AuthError};

/// The signing algorithm of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// SigV4: `AWS4-HMAC-SHA256`.
    HmacSha256,
    /// SigV4A: `AWS4-ECDSA-P256-SHA256`.
    EcdsaP256Sha256,
}

impl Algorithm {
    /// The algorithm name as it appears on the wire and in the string to sign.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HmacSha256 => "AWS4-HMAC-SHA256",
            Self::EcdsaP256Sha256 => "AWS4-ECDSA-P256-SHA256",
        }
    }

    pub(crate) fn from_name(name: &str) -> Result<Self, AuthError> {
        match name {
            "AWS4-HMAC-SHA256" => Ok(Self::HmacSha256),
            "AWS4-ECDSA-P256-SHA256" => Ok(Self::EcdsaP256Sha256),
            _ => Err(AuthError::malformed(format!(
                "The authorization mechanism you have provided ('{}') is not supported. Please use AWS4-HMAC-SHA256 or AWS4-ECDSA-P256-SHA256.",
                printable(name)
            ))),
        }
    }
}

/// The three components of an `Authorization` header, in any order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AuthorizationHeader<'a> {
    pub(crate) algorithm: Algorithm,
    pub(crate) credential: &'a str,
    pub(crate) signed_headers: &'a str,
    pub(crate) signature: &'a str,
}

/// Parses `ALG Credential=..., SignedHeaders=..., Signature=...`: components separated by `,`
/// with any surrounding whitespace (MinIO's Go client omits the space after commas), in any
/// order; each exactly once; unknown components refused.
pub(crate) fn parse_authorization(value: &str) -> Result<AuthorizationHeader<'_>, AuthError> {
    let value = trim_ws(value);
    let (alg, rest) = match value.bytes().position(|b| is_ws(b as char)) {
        Some(i) => (&value[..i], &value[i + 1..]),
        None => (value, ""),
    };
    let algorithm = Algorithm::from_name(alg)?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for item in split_byte(rest, b',') {
        let item = trim_ws(item);
        if item.is_empty() {
            continue;
        }
        let Some((k, v)) = split_once_byte(item, b'=') else {
            return Err(AuthError::malformed(format!(
                "'{}' not a valid key=value pair (missing equal-sign) in Authorization header.",
                printable(item)
            )));
        };
        let slot = match trim_ws(k) {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            other => {
                return Err(AuthError::malformed(format!(
                    "Authorization header has an unknown parameter '{}': use only Credential, SignedHeaders and Signature.",
                    printable(other)
                )))
            }
        };
        if slot.replace(trim_ws(v)).is_some() {
            return Err(AuthError::malformed(format!(
                "Authorization header has more than one '{}' parameter.",
                printable(trim_ws(k))
            )));
        }
    }
    let mut missing = String::new();
    for (name, v) in [
        ("Credential", &credential),
        ("Signature", &signature),
        ("SignedHeaders", &signed_headers),
    ] {
        if v.is_none_or(|v| v.is_empty()) {
            if !missing.is_empty() {
                missing.push(' ');
            }
            missing.push_str("Authorization header requires '");
            missing.push_str(name);
            missing.push_str("' parameter.");
        }
    }
    match (credential, signed_headers, signature) {
        (Some(credential), Some(signed_headers), Some(signature)) if missing.is_empty() => {
            Ok(AuthorizationHeader {
                algorithm,
                credential,
                signed_headers,
                signature,
            })
        }
        _ => Err(AuthError::incomplete(missing)),
    }
}

/// Trims ASCII whitespace (byte-wise: cheaper than a char predicate).
fn trim_ws(s: &str) -> &str {
    s.trim_ascii()
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// `akid/YYYYMMDD/region/service/aws4_request` (SigV4) or `akid/YYYYMMDD/service/aws4_request`
/// (SigV4A, whose regions are in the region set instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Credential<'a> {
    pub(crate) access_key_id: &'a str,
    /// Everything after `akid/`: the scope line of the string to sign.
    pub(crate) scope: &'a str,
    pub(crate) day: &'a str,
    pub(crate) region: Option<&'a str>,
    pub(crate) service: &'a str,
    pub(crate) terminator: &'a str,
}

pub(crate) fn parse_credential(s: &str, algorithm: Algorithm) -> Result<Credential<'_>, AuthError> {
    let malformed = || {
        let shape = match algorithm {
            Algorithm::HmacSha256 => "<access key id>/<YYYYMMDD>/<region>/<service>/aws4_request",
            Algorithm::EcdsaP256Sha256 => "<access key id>/<YYYYMMDD>/<service>/aws4_request",
        };
        AuthError::malformed(format!(
            "Credential '{}' is malformed: expected {shape}.",
            printable(s)
        ))
    };
    let (access_key_id, scope) = split_once_byte(s, b'/').ok_or_else(malformed)?;
    let mut parts = split_byte(scope, b'/');
    let day = parts.next().ok_or_else(malformed)?;
    let region = match algorithm {
        Algorithm::HmacSha256 => Some(parts.next().ok_or_else(malformed)?),
        Algorithm::EcdsaP256Sha256 => None,
    };
    let service = parts.next().ok_or_else(malformed)?;
    let terminator = parts.next().ok_or_else(malformed)?;
    if parts.next().is_some() {
        return Err(malformed());
    }
    Ok(Credential {
        access_key_id,
        scope,
        day,
        region,
        service,
        terminator,
    })
}

/// The most header names a request may sign; bounds the work of the uniqueness check.
const MAX_SIGNED_HEADERS: usize = 64;

/// What a (valid) SignedHeaders list covers, among the headers the verifier cares about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SignedSet {
    pub(crate) host: bool,
    pub(crate) content_sha256: bool,
    pub(crate) security_token: bool,
    pub(crate) region_set: bool,
}

/// Checks SignedHeaders in one pass: `;`-separated lowercase header names (or `:authority`),
/// strictly sorted, so that each header appears exactly once, as the spec requires.
pub(crate) fn check_signed_headers(list: &str) -> Result<SignedSet, AuthError> {
    let bad = |why: &str| {
        AuthError::malformed(format!(
            "SignedHeaders '{}' {why}: list lowercase header names once each, sorted, separated by ';'.",
            printable(list)
        ))
    };
    let mut set = SignedSet::default();
    let mut prev: &[u8] = b"";
    for (i, name) in split_byte(list, b';').enumerate() {
        let name = name.as_bytes();
        if i >= MAX_SIGNED_HEADERS {
            return Err(bad("names too many headers"));
        }
        let valid = name == b":authority"
            || (!name.is_empty()
                && name.iter().all(|&b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
                }));
        if !valid {
            return Err(bad("contains an invalid header name"));
        }
        if i > 0 && prev >= name {
            return Err(bad(if prev == name {
                "names a header more than once"
            } else {
                "is not sorted"
            }));
        }
        match name {
            b"host" | b":authority" => set.host = true,
            b"x-amz-content-sha256" => set.content_sha256 = true,
            b"x-amz-security-token" => set.security_token = true,
            b"x-amz-region-set" => set.region_set = true,
            _ => {}
        }
        prev = name;
    }
    Ok(set)
}

/// Splits at every `sep`, an ASCII byte, so every piece stays valid UTF-8. Cheaper than
/// `str::split(char)` on the short fields of a request.
pub(crate) fn split_byte(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr::memchr(sep, r.as_bytes()) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Splits at the first `sep` (an ASCII byte).
pub(crate) fn split_once_byte(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = memchr::memchr(sep, s.as_bytes())?;
    Some((&s[..i], &s[i + 1..]))
}

/// Decodes a lowercase hex signature into `out`, returning the decoded part of `out`. Upper
/// case is refused: every signer writes lower case, and a second spelling of one signature
/// would be a second reading of it.
pub(crate) fn decode_hex_lower<'o>(s: &str, out: &'o mut [u8]) -> Option<&'o [u8]> {
    // By hand, one pass: every signed request decodes two 64-digit values, and a general
    // decoder (both cases, then a separate uppercase scan) costs several times this loop.
    let (pairs, odd) = s.as_bytes().as_chunks::<2>();
    if !odd.is_empty() {
        return None;
    }
    let out = out.get_mut(..pairs.len())?;
    for (byte, &[hi, lo]) in out.iter_mut().zip(pairs) {
        *byte = (lower_hex_digit(hi)? << 4) | lower_hex_digit(lo)?;
    }
    Some(out)
}

/// The value of one lowercase hex digit.
const fn lower_hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// `bytes` as lowercase hex into `out` (twice as long).
pub(crate) fn encode_hex_lower(bytes: &[u8; 32], out: &mut [u8; 64]) {
    const fn digit(n: u8) -> u8 {
        if n < 10 {
            b'0' + n
        } else {
            b'a' + (n - 10)
        }
    }
    for ([hi, lo], b) in out.as_chunks_mut::<2>().0.iter_mut().zip(bytes) {
        *hi = digit(b >> 4);
        *lo = digit(b & 0x0f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuthErrorKind, AuthFailure};

    const CRED: &str = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";

    #[test]
    fn authorization_header_in_the_form_every_sdk_sends_parses() {
        let v = format!(
            "AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host;x-amz-date, Signature=abcd"
        );
        let a = parse_authorization(&v).unwrap();
        assert_eq!(a.algorithm, Algorithm::HmacSha256);
        assert_eq!(a.credential, CRED);
        assert_eq!(a.signed_headers, "host;x-amz-date");
        assert_eq!(a.signature, "abcd");
    }

    #[test]
    fn authorization_components_may_come_in_any_order_and_spacing() {
        for v in [
            format!("AWS4-HMAC-SHA256 Credential={CRED},SignedHeaders=host,Signature=ab"),
            format!("AWS4-HMAC-SHA256  Signature=ab ,\n\tSignedHeaders=host,  Credential={CRED}"),
            format!("AWS4-HMAC-SHA256\tSignedHeaders=host, Signature=ab, Credential={CRED},"),
        ] {
            let a = parse_authorization(&v).unwrap();
            assert_eq!(
                (a.credential, a.signed_headers, a.signature),
                (CRED, "host", "ab")
            );
        }
    }

    #[test]
    fn missing_authorization_components_are_listed_with_aws_wording() {
        let e = parse_authorization("AWS4-HMAC-SHA256 SignedHeaders=host").unwrap_err();
        assert_eq!(e.kind, AuthErrorKind::IncompleteSignature);
        assert_eq!(e.reason, AuthFailure::Incomplete);
        assert_eq!(
            e.message(),
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter."
        );
    }

    #[test]
    fn component_without_equal_sign_is_incomplete_signature() {
        let e =
            parse_authorization("AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders host, Signature=x")
                .unwrap_err();
        assert_eq!(e.kind, AuthErrorKind::IncompleteSignature);
        assert_eq!(
            e.message(),
            "'SignedHeaders host' not a valid key=value pair (missing equal-sign) in Authorization header."
        );
    }

    #[test]
    fn duplicate_or_unknown_components_are_refused() {
        let dup = format!("AWS4-HMAC-SHA256 Credential={CRED}, Credential={CRED}, SignedHeaders=host, Signature=ab");
        assert_eq!(
            parse_authorization(&dup).unwrap_err().message(),
            "Authorization header has more than one 'Credential' parameter."
        );
        let unknown =
            format!("AWS4-HMAC-SHA256 Credential={CRED}, Foo=1, SignedHeaders=host, Signature=ab");
        assert_eq!(
            parse_authorization(&unknown).unwrap_err().reason,
            AuthFailure::Malformed
        );
    }

    #[test]
    fn unsupported_algorithm_is_incomplete_signature() {
        let e = parse_authorization("AWS4-HMAC-SHA512 Credential=a").unwrap_err();
        assert_eq!(e.kind, AuthErrorKind::IncompleteSignature);
        assert!(
            e.message()
                .contains("('AWS4-HMAC-SHA512') is not supported"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn credential_scope_has_five_parts_for_sigv4_and_four_for_sigv4a() {
        let c = parse_credential(CRED, Algorithm::HmacSha256).unwrap();
        assert_eq!(
            (c.access_key_id, c.day, c.region, c.service, c.terminator),
            (
                "AKIDEXAMPLE",
                "20150830",
                Some("us-east-1"),
                "service",
                "aws4_request"
            )
        );
        assert_eq!(c.scope, "20150830/us-east-1/service/aws4_request");
        let a = parse_credential(
            "AKID/20150830/service/aws4_request",
            Algorithm::EcdsaP256Sha256,
        )
        .unwrap();
        assert_eq!((a.region, a.service), (None, "service"));
        assert!(parse_credential(CRED, Algorithm::EcdsaP256Sha256).is_err());
        assert!(
            parse_credential("AKID/20150830/service/aws4_request", Algorithm::HmacSha256).is_err()
        );
    }

    #[test]
    fn signed_headers_must_be_sorted_lowercase_and_unique() {
        let set = check_signed_headers("host;x-amz-content-sha256;x-amz-date").unwrap();
        assert!(set.host && set.content_sha256 && !set.security_token && !set.region_set);
        assert!(check_signed_headers(":authority;x-amz-date").is_ok());
        for bad in ["x-amz-date;host", "host;Host", "host;host", "host;;x", ""] {
            let e = check_signed_headers(bad).unwrap_err();
            assert_eq!(e.kind, AuthErrorKind::IncompleteSignature, "{bad}");
        }
    }

    #[test]
    fn hex_signatures_must_be_lowercase() {
        let mut buf = [0u8; 4];
        assert_eq!(decode_hex_lower("00ff", &mut buf), Some(&[0u8, 255][..]));
        assert_eq!(decode_hex_lower("00FF", &mut buf), None);
        assert_eq!(decode_hex_lower("0", &mut buf), None);
        assert_eq!(decode_hex_lower("0000000000", &mut buf), None);
        assert_eq!(decode_hex_lower("0g", &mut buf), None);
        assert_eq!(decode_hex_lower("g0", &mut buf), None);
        assert_eq!(
            decode_hex_lower("0123456789abcdef", &mut [0u8; 8]),
            Some(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef][..])
        );
        assert_eq!(decode_hex_lower("", &mut buf), Some(&[][..]));
    }

    #[test]
    fn hex_encoding_is_lowercase_and_matches_the_hex_crate() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(5));
        let mut out = [0u8; 64];
        encode_hex_lower(&bytes, &mut out);
        assert_eq!(std::str::from_utf8(&out).unwrap(), hex::encode(bytes));
        let mut back = [0u8; 32];
        assert_eq!(
            decode_hex_lower(std::str::from_utf8(&out).unwrap(), &mut back),
            Some(&bytes[..])
        );
    }
}
