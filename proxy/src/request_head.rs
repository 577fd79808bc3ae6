//! The request head read once, the same way for the verifier, the policy and the upstream
//! (CONTRACT §3, "One request, one reading"): which host the request is for, which header
//! lines exist, and which are removed before anyone decides on them.
//!
//! [`settle`] runs in `Normalize`, before authentication and authorization:
//! - the host is the request's authority — `Host`, HTTP/2 `:authority` or the authority of an
//!   absolute-form target — written into `Host`, which the verifier, the policy
//!   (`RequestHeader/host`) and the upstream all read; two `Host` lines, or an authority that
//!   differs from `Host`, are refused ([`host`]);
//! - header names with `_` are dropped, refused or kept per `--headers-with-underscores`;
//!   an underscore spelling of a header the proxy owns is dropped in every mode ([`underscores`]);
//! - hop-by-hop headers are removed, after refusing a `Connection` that names a header the
//!   signature or the decision depends on ([`connection`]).
//!
//! A removal that would break the request's signature is refused with a 400 naming the header
//! ([`signed`]), rather than left to fail as a signature mismatch the caller cannot explain.
//!
//! [`repeated_read_header`] runs in `Authorize`, with the snapshot the decision uses: a header
//! a loaded policy reads must come on one line.

// Every byte here comes from the caller: a slice out of range must be a refusal, not a panic.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod connection;
pub(crate) mod hop_by_hop;
mod host;
pub(crate) mod names;
pub(crate) mod present;
mod signed;
mod underscores;

use http::{HeaderMap, HeaderName, HeaderValue, Request};

use self::hop_by_hop::strip_scanned;
use self::present::Present;

/// `--headers-with-underscores`: what happens to inbound header names containing `_`, which
/// WSGI/Rack servers (CGI variables) read as `-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Underscores {
    /// Remove them before authentication and authorization (nginx's and Envoy's default).
    #[default]
    Drop,
    /// Refuse the request with 400.
    Reject,
    /// Forward them (still never an underscore spelling of a header the proxy owns).
    Allow,
}

/// `--xff`: how `x-forwarded-for` is forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Xff {
    /// The TCP peer's address alone, as Lattice sends the client's address.
    #[default]
    Replace,
    /// The caller's list with the TCP peer's address appended.
    Append,
}

/// The header settings of `trellis run`, carried from the flags to the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeaderRules {
    /// `--headers-with-underscores`.
    pub underscores: Underscores,
    /// `--xff`.
    pub xff: Xff,
}

/// Why a removal would break the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// The name contains `_` and `--headers-with-underscores` drops it.
    Underscore,
    /// The name spells, with `_`, a header the proxy sets or removes (never forwarded).
    OwnedSpelling,
    /// The header is hop-by-hop: it is not forwarded as sent.
    HopByHop,
}

/// A request head that cannot be read one way only (answered 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// More than one `Host` line.
    #[error("the request has more than one `Host` header; send exactly one")]
    HostRepeated,
    /// No `Host` and no authority: the upstream would get the proxy's upstream address.
    #[error("the request names no host; send a `Host` header (HTTP/1.1) or `:authority` (HTTP/2)")]
    HostMissing,
    /// `Host` or the authority is not `host[:port]`.
    #[error("host `{0}` is not `host[:port]`; send the service's host name")]
    HostInvalid(String),
    /// The target's authority (absolute form or `:authority`) and `Host` disagree.
    #[error("the request's authority `{authority}` differs from its `Host` header `{host}`; send one host (an origin-form target `/path` with `Host`, or the same host in both)")]
    HostMismatch {
        /// The authority of the target.
        authority: String,
        /// The `Host` value.
        host: String,
    },
    /// A header a loaded policy reads appears on more than one line.
    #[error("header `{0}` appears on more than one line and a policy reads it; send it once, with the values joined by `, ` on one line")]
    RepeatedReadHeader(HeaderName),
    /// A header a loaded policy reads holds bytes outside visible ASCII.
    #[error("header `{0}` holds bytes that are not visible ASCII and a policy reads it; servers decode such bytes differently (Latin-1, UTF-8, raw), so send the value in ASCII (percent- or base64-encoded)")]
    ReadHeaderNotText(HeaderName),
    /// A query key a loaded policy reads comes in two letter cases.
    #[error("query key `{0}` also appears as `{1}` and a policy reads it; policies match query keys in any case while services read `{0}` and `{1}` apart, so send one spelling")]
    QueryKeyInTwoCases(String, String),
    /// `Connection` names a header that must reach the upstream as the policy and the
    /// signature saw it.
    #[error("`Connection` names `{name}`, {why}, which must reach the service; remove it from `Connection`")]
    ConnectionNamesProtected {
        /// The header named.
        name: String,
        /// What the header is.
        why: &'static str,
    },
    /// A header name contains `_` under `--headers-with-underscores reject`.
    #[error("header name `{0}` contains `_`, which some servers read as `-`; spell it with `-`")]
    Underscore(String),
    /// A signed header would be removed before forwarding.
    #[error("{}", removal_message(name, *why))]
    SignedRemoved {
        /// The header.
        name: HeaderName,
        /// Why it would be removed.
        why: Removal,
    },
}

fn removal_message(name: &HeaderName, why: Removal) -> String {
    match why {
        Removal::Underscore => format!("signed header `{name}` contains `_` and is removed before forwarding (`--headers-with-underscores drop`); spell it with `-`, or do not sign it"),
        Removal::OwnedSpelling => format!("signed header `{name}` spells a header the proxy sets with `_` and is never forwarded; do not send it"),
        Removal::HopByHop => format!("signed header `{name}` is hop-by-hop and is not forwarded as sent; do not sign it"),
    }
}

/// Caller text in a message: at most 64 characters, control characters as `?`.
fn shown(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// What [`settle`] changes, decided while the head is only read.
#[derive(Debug, Default)]
struct Plan {
    /// The authority to write as `Host` (the request had none).
    host: Option<HeaderValue>,
    /// Header names to remove.
    remove: Vec<HeaderName>,
    /// Strip hop-by-hop headers (some are present); `Some(upgrade)`.
    hop_by_hop: Option<bool>,
    /// The request id, when `Connection` names it: the proxy owns that header now.
    request_id: Option<HeaderValue>,
}

/// Applies the head rules of the module docs to `req`: refuses what cannot be read one way,
/// writes the authority into `Host`, removes dropped and hop-by-hop headers.
///
/// Costs one scan of the header names and a `Host` lookup; the rest runs only when the scan
/// found a hop-by-hop or underscore header, or the request has no `Host`.
pub fn settle<B>(req: &mut Request<B>, rules: &HeaderRules) -> Result<(), HeaderError> {
    let headers = req.headers();
    let present = Present::scan_request(headers);
    let mut plan = Plan {
        host: host::authority(req.uri(), headers)?,
        ..Plan::default()
    };
    if present.has(present::UNDERSCORE | present::HOP_BY_HOP) {
        let signed = signed::Signed::of(headers, req.uri().query());
        if present.has(present::UNDERSCORE) {
            underscores::plan(headers, rules.underscores, &signed, &mut plan.remove)?;
        }
        if present.has(present::HOP_BY_HOP) {
            let upgrade = connection::check(req.version(), headers, present, &signed)?;
            plan.hop_by_hop = Some(upgrade);
            if present.has(present::CONNECTION) {
                plan.request_id = connection::named_request_id(headers);
            }
        }
    }
    let headers = req.headers_mut();
    if let Some(host) = plan.host {
        headers.insert(http::header::HOST, host);
    }
    for name in &plan.remove {
        headers.remove(name);
    }
    if let Some(upgrade) = plan.hop_by_hop {
        strip_scanned(headers, upgrade, present);
    }
    if let Some(id) = plan.request_id {
        headers.insert(names::X_AMZN_REQUESTID.clone(), id);
    }
    Ok(())
}

/// The first of `read` (the headers the loaded policies read, see
/// [`crate::snapshot::Snapshot::read_headers`]) that `headers` carries on more than one line.
///
/// Servers disagree on such a header (the first line, the last, or all joined), so no single
/// value can be the one the policy decides on. One lookup per name read; typical policies
/// read none or a few.
pub fn repeated_read_header<'r>(
    headers: &HeaderMap,
    read: &'r [HeaderName],
) -> Option<&'r HeaderName> {
    read.iter().find(|name| {
        let mut lines = headers.get_all(*name).iter();
        lines.next().is_some() && lines.next().is_some()
    })
}

/// Refuses a request whose headers the loaded policies (`read`) cannot read one way: one on
/// several lines ([`repeated_read_header`]) or one holding bytes outside visible ASCII, which
/// a policy cannot see as text while services read it as Latin-1, UTF-8 or bytes. Headers the
/// proxy itself writes for the upstream are read as written (see `is_proxy_written`) and are
/// not checked.
pub fn check_read_headers(headers: &HeaderMap, read: &[HeaderName]) -> Result<(), HeaderError> {
    for name in read {
        if is_proxy_written(name.as_str()) {
            continue;
        }
        let mut lines = headers.get_all(name).iter();
        let Some(first) = lines.next() else {
            continue;
        };
        if lines.next().is_some() {
            return Err(HeaderError::RepeatedReadHeader(name.clone()));
        }
        if first.to_str().is_err() {
            return Err(HeaderError::ReadHeaderNotText(name.clone()));
        }
    }
    Ok(())
}

/// Headers whose forwarded value the proxy writes or removes after the decision (the
/// credentials, the identity and target headers, `x-forwarded-*`): a policy reads them as the
/// upstream will get them, never the caller's lines.
pub fn is_proxy_written(name: &str) -> bool {
    matches!(
        name,
        "authorization"
            | "x-amz-security-token"
            | "x-amzn-lattice-identity"
            | "x-amzn-lattice-identity-tags"
            | "x-amzn-lattice-network"
            | "x-amzn-lattice-target"
            | "x-amzn-source-vpc"
            | "x-forwarded-for"
            | "x-forwarded-port"
            | "x-forwarded-proto"
    )
}

#[cfg(test)]
mod tests;
