//! Presigned URLs: the `X-Amz-*` authentication parameters of the query, decoded.

use std::borrow::Cow;

use super::error::{printable, AuthError};
use super::parse::{split_byte, split_once_byte};

/// The authentication parameters of a presigned URL.
#[derive(Debug, Default)]
pub(crate) struct PresignParams<'a> {
    pub(crate) algorithm: Option<Cow<'a, str>>,
    pub(crate) credential: Option<Cow<'a, str>>,
    pub(crate) date: Option<Cow<'a, str>>,
    pub(crate) expires: Option<Cow<'a, str>>,
    pub(crate) signed_headers: Option<Cow<'a, str>>,
    pub(crate) signature: Option<Cow<'a, str>>,
    pub(crate) security_token: Option<Cow<'a, str>>,
    pub(crate) region_set: Option<Cow<'a, str>>,
}

/// Whether the query carries presigned-URL material: any of the parameters that only a signer
/// would add. A query with some of them but not all is a failed signature, not anonymous.
pub(crate) fn has_material(query: &str) -> bool {
    split_byte(query, b'&').any(|item| {
        let k = split_once_byte(item, b'=').map_or(item, |(k, _)| k);
        matches!(
            k,
            "X-Amz-Algorithm" | "X-Amz-Credential" | "X-Amz-Signature"
        )
    })
}

/// The longest a presigned URL may live, as in S3 (7 days).
pub(crate) const MAX_EXPIRES: u64 = 604_800;

pub(crate) fn parse(query: &str) -> Result<PresignParams<'_>, AuthError> {
    let mut p = PresignParams::default();
    for item in split_byte(query, b'&') {
        let (k, v) = split_once_byte(item, b'=').unwrap_or((item, ""));
        let slot = match k {
            "X-Amz-Algorithm" => &mut p.algorithm,
            "X-Amz-Credential" => &mut p.credential,
            "X-Amz-Date" => &mut p.date,
            "X-Amz-Expires" => &mut p.expires,
            "X-Amz-SignedHeaders" => &mut p.signed_headers,
            "X-Amz-Signature" => &mut p.signature,
            "X-Amz-Security-Token" => &mut p.security_token,
            "X-Amz-Region-Set" => &mut p.region_set,
            _ => continue,
        };
        if slot.replace(decode(v, k)?).is_some() {
            return Err(AuthError::malformed(format!(
                "Query-string authentication parameter '{k}' appears more than once: send each X-Amz-* parameter once."
            )));
        }
    }
    let complete = [
        &p.algorithm,
        &p.credential,
        &p.date,
        &p.expires,
        &p.signed_headers,
        &p.signature,
    ]
    .iter()
    .all(|v| v.as_deref().is_some_and(|v| !v.is_empty()));
    if !complete {
        return Err(AuthError::incomplete(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        ));
    }
    Ok(p)
}

/// Parses `X-Amz-Expires`: whole seconds, 1 to 7 days.
pub(crate) fn parse_expires(v: &str) -> Result<u64, AuthError> {
    let n = if !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()) {
        v.parse::<u64>().ok()
    } else {
        None
    };
    match n {
        None => Err(AuthError::malformed(format!(
            "X-Amz-Expires should be a number of seconds, not '{}'.",
            printable(v)
        ))),
        Some(0) => Err(AuthError::malformed(
            "X-Amz-Expires must be at least 1 second.",
        )),
        Some(n) if n > MAX_EXPIRES => Err(AuthError::malformed(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        )),
        Some(n) => Ok(n),
    }
}

/// Percent-decodes a parameter value (a malformed escape stays as written; borrowed when
/// nothing is escaped). `+` stays `+`: signers percent-encode the auth parameters, and a
/// session token is base64 where `+` is data.
fn decode<'a>(v: &'a str, name: &str) -> Result<Cow<'a, str>, AuthError> {
    percent_encoding::percent_decode_str(v).decode_utf8().map_err(|_| {
        AuthError::malformed(format!(
            "Query-string authentication parameter '{name}' is not valid UTF-8 once percent-decoded."
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuthErrorKind, AuthFailure};

    const Q: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2Fus-west-2%2Fvpc-lattice-svcs%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host%3Bx-amz-content-sha256&X-Amz-Security-Token=a%2Bb%2F%3D&X-Amz-Signature=ab";

    #[test]
    fn presign_parameters_are_percent_decoded() {
        let p = parse(Q).unwrap();
        assert_eq!(
            p.credential.as_deref(),
            Some("AKID/20150830/us-west-2/vpc-lattice-svcs/aws4_request")
        );
        assert_eq!(
            p.signed_headers.as_deref(),
            Some("host;x-amz-content-sha256")
        );
        assert_eq!(p.security_token.as_deref(), Some("a+b/="));
        assert_eq!(p.expires.as_deref(), Some("300"));
    }

    #[test]
    fn missing_presign_parameter_is_incomplete_with_s3_wording() {
        let q = Q.replace("&X-Amz-Expires=300", "");
        let e = parse(&q).unwrap_err();
        assert_eq!(
            (e.kind, e.reason),
            (AuthErrorKind::IncompleteSignature, AuthFailure::Incomplete)
        );
        assert!(e
            .message()
            .starts_with("Query-string authentication version 4 requires"));
    }

    #[test]
    fn repeated_presign_parameter_is_malformed() {
        let q = format!("{Q}&X-Amz-Date=20150830T123600Z");
        assert_eq!(parse(&q).unwrap_err().reason, AuthFailure::Malformed);
    }

    #[test]
    fn presign_expiry_is_bounded_to_seven_days() {
        assert_eq!(parse_expires("604800").unwrap(), 604_800);
        assert_eq!(
            parse_expires("604801").unwrap_err().message(),
            "X-Amz-Expires must be less than a week (in seconds) that is 604800"
        );
        assert!(parse_expires("-1").is_err());
        assert!(parse_expires("0").is_err());
        assert!(parse_expires("99999999999").is_err());
    }

    #[test]
    fn presign_material_is_detected_by_auth_parameter_names() {
        assert!(has_material("a=1&X-Amz-Signature=x"));
        assert!(has_material("X-Amz-Credential"));
        assert!(!has_material("a=1&X-Amz-Date=x&x-amz-signature=1"));
    }
}
