//! Caller authentication: AWS Signature Version 4 (`AWS4-HMAC-SHA256`) in the `Authorization`
//! header or a presigned query, and SigV4A (`AWS4-ECDSA-P256-SHA256`), verified the way VPC
//! Lattice does for the signing name `vpc-lattice-svcs`.
//!
//! The verifier works on the request exactly as it arrived ([`RequestParts`]): the raw target,
//! the header map, the HTTP/2 authority. It reads no body: Lattice does not support payload
//! signing, so a signed `x-amz-content-sha256` supplies the payload line.
//!
//! Clients disagree on two canonicalisation details, so up to four canonical requests can be
//! tried: the standard URI and the as-sent URI (only when they differ), times the literal and
//! space readings of a raw `+` in the query (only when the query has one). A typical request
//! costs one SHA-256 of its canonical request and one HMAC (or one ECDSA verification); the
//! extra forms are built and checked only after the previous form failed.

#![forbid(unsafe_code)]
#![deny(clippy::allow_attributes_without_reason)]
// Every byte here comes from the caller: a slice out of range must be a refusal, not a panic.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod amz_date;
mod canonical;
mod derive;
mod error;
mod key;
mod material;
mod parse;
mod presigned;
mod scope;
mod sigv4a;
mod verify;

use std::time::{Duration, SystemTime};

pub use error::{AuthError, AuthErrorKind, AuthFailure};
pub use key::{CredentialStore, StaticCredentials, StoredKey};
pub use parse::Algorithm;

/// What the verifier checks a request against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    /// The region of the service (from its ARN): the only region a SigV4 scope may name and the
    /// region a SigV4A region set must include.
    pub region: String,
    /// The signing name, `vpc-lattice-svcs`.
    pub service: String,
    /// How far `X-Amz-Date` may be from now, either way.
    pub max_clock_skew: Duration,
}

impl VerifierConfig {
    /// The signing name Lattice clients use.
    pub const LATTICE_SERVICE: &'static str = "vpc-lattice-svcs";
    /// AWS's usual tolerance.
    pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

    /// A configuration for `vpc-lattice-svcs` in `region` with the default 5-minute skew.
    pub fn new(region: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            service: Self::LATTICE_SERVICE.to_owned(),
            max_clock_skew: Self::DEFAULT_MAX_CLOCK_SKEW,
        }
    }
}

/// What the verifier needs of a request: taken straight from the wire, nothing decoded.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The method as sent.
    pub method: &'a str,
    /// The request target exactly as received: path + optional `?query`, still percent-encoded.
    pub target: &'a str,
    /// The request headers.
    pub headers: &'a http::HeaderMap,
    /// HTTP/2 `:authority` (hyper puts it in the URI, not in `headers`); used as `host` when the
    /// `host` header is absent.
    pub authority: Option<&'a str>,
}

/// Who the caller is, as far as signatures go.
#[derive(Debug, Clone, Copy)]
pub enum Authenticated<'s> {
    /// The request carries no signature material at all.
    Anonymous,
    /// The request's signature verified with this key.
    Signed {
        /// The key that signed the request.
        key: &'s StoredKey,
        /// SigV4 or SigV4A.
        algorithm: Algorithm,
        /// The body's SHA-256 the signature covers: the signed `x-amz-content-sha256` when it
        /// is a hex digest, `None` for `UNSIGNED-PAYLOAD`. The verifier reads no body; the
        /// forwarding path checks the body against it.
        payload_sha256: Option<[u8; 32]>,
    },
}

/// Where the payload line of the canonical request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadHash<'a> {
    /// VPC Lattice's rule: `x-amz-content-sha256` must be signed (a presigned URL may name it
    /// without sending it, then it reads `UNSIGNED-PAYLOAD`) and its value is the payload line.
    SignedHeader,
    /// Plain SigV4: the signed `x-amz-content-sha256` value if there is one, otherwise this hex
    /// SHA-256 of the body, computed by the caller. For services other than Lattice and for the
    /// official test suite, whose requests do not all sign `x-amz-content-sha256`.
    BodySha256(&'a str),
}

/// Verifies the request's signature with Lattice's rules (see [`PayloadHash::SignedHeader`]).
///
/// No `Authorization` header with an `AWS4-` algorithm and no `X-Amz-Algorithm`,
/// `X-Amz-Credential` or `X-Amz-Signature` query parameter → [`Authenticated::Anonymous`].
/// Any signature material that fails to verify is an error, never anonymous.
pub fn verify<'s>(
    cfg: &VerifierConfig,
    req: &RequestParts<'_>,
    now: SystemTime,
    store: &'s dyn CredentialStore,
) -> Result<Authenticated<'s>, AuthError> {
    verify::verify(cfg, req, now, store, PayloadHash::SignedHeader)
}

/// [`verify`] with an explicit payload rule.
pub fn verify_with<'s>(
    cfg: &VerifierConfig,
    req: &RequestParts<'_>,
    now: SystemTime,
    store: &'s dyn CredentialStore,
    payload: PayloadHash<'_>,
) -> Result<Authenticated<'s>, AuthError> {
    verify::verify(cfg, req, now, store, payload)
}

#[cfg(feature = "test-util")]
pub mod test_util;

#[cfg(test)]
mod tests;
