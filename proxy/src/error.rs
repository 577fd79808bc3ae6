//! The closed set of failures a request can end in. `respond` turns each into the contract's
//! answer in one exhaustive match, so a new variant cannot ship without a defined answer.

use std::fmt;

use crate::normalize::PathError;
use crate::request_head::HeaderError;

/// A failure of the proxy's own making; answered by [`crate::layers::respond::respond`].
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The request is malformed (`400`).
    #[error(transparent)]
    BadRequest(#[from] BadRequest),
    /// The request head exceeds the configured size or count (`431`).
    #[error("request headers too large: {size} bytes in {count} fields (limit {max_size} bytes, {max_count} fields); send fewer or smaller headers")]
    HeadersTooLarge {
        /// Bytes of all names and values.
        size: usize,
        /// Number of header fields.
        count: usize,
        /// Configured byte limit.
        max_size: usize,
        /// Configured field limit.
        max_count: usize,
    },
    /// Authentication failed (`403`, `x-amzn-errortype: <error_type>`).
    #[error("{0}")]
    Authn(Authn),
    /// The caller's identity could not be verified because the service that verifies it
    /// (STS, for identity tokens) did not answer (`503`, `x-amzn-errortype: <error_type>`).
    #[error("{0}")]
    AuthnUnavailable(Authn),
    /// Authorization denied (`403`, `AccessDeniedException`).
    #[error("{0}")]
    Denied(Denied),
    /// The body does not hash to the signed `x-amz-content-sha256` (`400`,
    /// `XAmzContentSHA256Mismatch`).
    #[error(transparent)]
    BodyDigest(#[from] DigestMismatch),
    /// The upstream could not be reached or did not answer in time (`502`/`504`).
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// A bug or resource failure inside the proxy (`500`); the detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why a request is malformed.
#[derive(Debug, thiserror::Error)]
pub enum BadRequest {
    /// The path cannot be normalized.
    #[error(transparent)]
    Path(#[from] PathError),
    /// The request target has no usable path (e.g. `CONNECT` authority form).
    #[error("request target `{0}` has no path; send an origin-form target such as `/orders`")]
    Target(String),
    /// Frameworks upper-case the method after the policy has decided on it as sent.
    #[error("request method `{0}` contains a lower-case letter; send the method in upper case, such as `GET`")]
    LowercaseMethod(String),
    /// The host or a header cannot be read one way only.
    #[error(transparent)]
    Header(#[from] HeaderError),
}

/// An authentication failure, filled by the `Authenticate` layer.
///
/// `error_type` is AWS's exception name (`InvalidSignatureException`, ...), `message` AWS's
/// wording without any secret, `metric_label` the `trellis_authn_total{result}` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct Authn {
    /// `x-amzn-errortype` and the body prefix.
    pub error_type: &'static str,
    /// The body text after `<ErrorType>: `.
    pub message: String,
    /// Label for `trellis_authn_total{result}`.
    pub metric_label: &'static str,
}

/// An authorization denial, filled by the `Authorize` layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("AccessDeniedException: {message}")]
pub struct Denied {
    /// `User: ... is not authorized to perform: ...` (the body after `AccessDeniedException: `).
    pub message: String,
    /// The policy layer that denied; logged as `authDeniedReason`.
    pub layer: PolicyLayer,
}

/// The policy layer a denial comes from: the policy crate's own [`trellis_policy::Layer`]
/// (the proxy never decides with `Layer::Policy`, which is `policy eval --policy FILE`'s).
pub use trellis_policy::Layer as PolicyLayer;

/// Why forwarding to the upstream failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No connection could be made (refused, DNS, TLS handshake, connect timeout).
    #[error("upstream unreachable: {0}; check that the service listens at `--upstream`")]
    Unreachable(String),
    /// The upstream accepted the request but sent no response head within the timeout.
    #[error(
        "upstream did not answer within {0:?}; check the service or raise the response timeout"
    )]
    Timeout(std::time::Duration),
    /// The connection broke or the upstream spoke invalid HTTP.
    #[error("upstream protocol error: {0}")]
    Protocol(String),
}

impl UpstreamError {
    /// The access-log `failureReason`.
    pub fn failure_reason(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "TargetConnectionError",
            Self::Timeout(_) => "TargetDataTimeout",
            Self::Protocol(_) => "TargetProtocolError",
        }
    }
}

/// The body does not hash to its signed digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
pub struct DigestMismatch {
    /// The digest the caller signed (`x-amz-content-sha256`).
    pub signed: [u8; 32],
    /// The digest of the body that arrived.
    pub computed: [u8; 32],
}

/// A digest written as lowercase hex, without an intermediate string.
#[derive(Debug, Clone, Copy)]
pub struct Hex<'a>(pub &'a [u8; 32]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}
