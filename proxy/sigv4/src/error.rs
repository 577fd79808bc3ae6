//! Authentication failures, shaped like AWS's own answers so callers see the wording they know.
//!
//! A message never carries a secret, the expected signature, the canonical request or the string
//! to sign: AWS appends those for debugging, but a proxy answering unauthenticated callers must
//! not (it would turn the proxy into a signing oracle).

use std::borrow::Cow;

/// The AWS error type of a failure: the `x-amzn-errortype` header and the body prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthErrorKind {
    /// Signature material is present but incomplete or malformed.
    IncompleteSignature,
    /// The signature does not match, is out of its time window, or is scoped elsewhere.
    InvalidSignature,
    /// The access key id (or its session token) is not known.
    UnrecognizedClient,
    /// The key's temporary credentials are past their expiry.
    ExpiredToken,
}

impl AuthErrorKind {
    /// The AWS exception name, e.g. `InvalidSignatureException`.
    pub fn error_type(self) -> &'static str {
        match self {
            Self::IncompleteSignature => "IncompleteSignatureException",
            Self::InvalidSignature => "InvalidSignatureException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::ExpiredToken => "ExpiredTokenException",
        }
    }
}

/// Why authentication failed, at the granularity a metric label wants (a small closed set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthFailure {
    /// The MAC or ECDSA signature did not verify.
    BadSignature,
    /// Outside the clock-skew window, past a presigned URL's expiry, or an expired key.
    Expired,
    /// No such access key id, or a session token that does not belong to it.
    UnknownKey,
    /// Signature material that cannot be parsed.
    Malformed,
    /// A required part (parameter, signed header, date) is missing.
    Incomplete,
    /// The credential scope names another date, region, service or terminator.
    WrongScope,
}

impl AuthFailure {
    /// The label value used in metrics.
    pub fn metric_label(self) -> &'static str {
        match self {
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::UnknownKey => "unknown_key",
            Self::Malformed => "malformed",
            Self::Incomplete => "incomplete",
            Self::WrongScope => "wrong_scope",
        }
    }
}

/// A failed authentication. Display renders the body the proxy answers with:
/// `<ErrorType>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.error_type())]
pub struct AuthError {
    /// The AWS error type.
    pub kind: AuthErrorKind,
    /// The metric label.
    pub reason: AuthFailure,
    message: Cow<'static, str>,
}

/// AWS's wording for a signature that does not match.
pub(crate) const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
/// AWS's wording for an unknown access key id or a token that does not belong to it.
pub(crate) const INVALID_TOKEN: &str = "The security token included in the request is invalid.";
/// AWS's wording for temporary credentials past their expiry.
pub(crate) const EXPIRED_TOKEN: &str = "The security token included in the request is expired";

impl AuthError {
    pub(crate) fn new(
        kind: AuthErrorKind,
        reason: AuthFailure,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            kind,
            reason,
            message: message.into(),
        }
    }

    /// The AWS-worded explanation (safe to send to the caller).
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn incomplete(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            AuthErrorKind::IncompleteSignature,
            AuthFailure::Incomplete,
            message,
        )
    }

    pub(crate) fn malformed(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            AuthErrorKind::IncompleteSignature,
            AuthFailure::Malformed,
            message,
        )
    }

    pub(crate) fn wrong_scope(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            AuthErrorKind::InvalidSignature,
            AuthFailure::WrongScope,
            message,
        )
    }

    pub(crate) fn expired(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            AuthErrorKind::InvalidSignature,
            AuthFailure::Expired,
            message,
        )
    }

    pub(crate) fn mismatch() -> Self {
        Self::new(
            AuthErrorKind::InvalidSignature,
            AuthFailure::BadSignature,
            SIGNATURE_MISMATCH,
        )
    }

    pub(crate) fn unknown_key() -> Self {
        Self::new(
            AuthErrorKind::UnrecognizedClient,
            AuthFailure::UnknownKey,
            INVALID_TOKEN,
        )
    }

    pub(crate) fn expired_token() -> Self {
        Self::new(
            AuthErrorKind::ExpiredToken,
            AuthFailure::Expired,
            EXPIRED_TOKEN,
        )
    }

    /// A header named in SignedHeaders that the request does not carry (Lattice's wording).
    pub(crate) fn missing_signed_header(name: &str) -> Self {
        Self::incomplete(format!(
            "'{}' is named as a SignedHeader, but it does not exist in the HTTP request.",
            printable(name)
        ))
    }

    /// A header Lattice requires to be signed that SignedHeaders does not name.
    pub(crate) fn unsigned_required_header(name: &'static str) -> Self {
        Self::incomplete(format!("Missing the '{name}' in canonical headers."))
    }
}

/// Caller-supplied text echoed in a message: control characters replaced, length capped, so a
/// message stays one printable line of bounded size.
pub(crate) fn printable(s: &str) -> String {
    const MAX: usize = 128;
    let mut out = String::with_capacity(s.len().min(MAX + 3));
    for (i, c) in s.chars().enumerate() {
        if i == MAX {
            out.push_str("...");
            break;
        }
        out.push(if c.is_control() { '?' } else { c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_and_labels_use_aws_names() {
        let e = AuthError::mismatch();
        assert_eq!(e.kind.error_type(), "InvalidSignatureException");
        assert_eq!(e.reason.metric_label(), "bad_signature");
        assert_eq!(
            e.to_string(),
            format!("InvalidSignatureException: {SIGNATURE_MISMATCH}")
        );
        assert_eq!(
            AuthError::unknown_key().kind.error_type(),
            "UnrecognizedClientException"
        );
        assert_eq!(
            AuthError::expired_token().kind.error_type(),
            "ExpiredTokenException"
        );
        assert_eq!(
            AuthError::incomplete("x").kind.error_type(),
            "IncompleteSignatureException"
        );
    }

    #[test]
    fn echoed_input_is_single_line_and_bounded() {
        assert_eq!(printable("a\tb"), "a?b");
        let long = "x".repeat(500);
        assert_eq!(printable(&long).len(), 131);
    }
}
