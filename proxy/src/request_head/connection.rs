//! Hop-by-hop headers (RFC 9110 §7.6.1), checked before they are removed.
//!
//! The removal itself is [`super::hop_by_hop::strip_scanned`]; it runs before
//! authentication and authorization, so a policy never decides on `x-tenant: public` that a
//! `Connection: x-tenant` would take away from the upstream. What `Connection` may not take
//! away: the host, the credentials, `x-amz-*` headers and anything the request signed — the
//! verifier must see them, and the upstream must get what was verified.

use http::header::{HeaderName, CONNECTION, TE, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderValue, Version};

use super::hop_by_hop::{connection_tokens, is_upgrade_scanned};
use super::names::X_AMZN_REQUESTID;
use super::present::{self, Present};
use super::signed::Signed;
use super::{shown, HeaderError, Removal};

static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Why a header named in `Connection` must stay, if it must.
fn protected(token: &str, signed: &Signed<'_>) -> Option<&'static str> {
    if token.eq_ignore_ascii_case("host") {
        Some("the request's host")
    } else if token.eq_ignore_ascii_case("authorization") {
        Some("the request's credentials")
    } else if token
        .get(..6)
        .is_some_and(|p| p.eq_ignore_ascii_case("x-amz-"))
    {
        Some("an `x-amz-*` header")
    } else if signed.contains(token) {
        Some("a header the request signed")
    } else {
        None
    }
}

/// Refuses what stripping the hop-by-hop headers of this message must not do; `Ok(upgrade)`
/// says whether the request switches protocols (its `Connection: upgrade` and `Upgrade` stay).
pub(super) fn check(
    version: Version,
    headers: &HeaderMap,
    present: Present,
    signed: &Signed<'_>,
) -> Result<bool, HeaderError> {
    let upgrade = is_upgrade_scanned(version, headers, present);
    if present.has(present::CONNECTION) {
        for token in connection_tokens(headers) {
            if let Some(why) = protected(token, signed) {
                return Err(HeaderError::ConnectionNamesProtected {
                    name: shown(token.as_bytes()),
                    why,
                });
            }
        }
    }
    // The headers hop-by-hop by definition: removed, or (`connection`, `te`) rewritten.
    let te_rewritten = || {
        let mut lines = headers.get_all(TE).iter();
        lines.next().is_none_or(|v| v.as_bytes() != b"trailers") || lines.next().is_some()
    };
    let removed = [
        (present::CONNECTION, &CONNECTION, true),
        (present::KEEP_ALIVE, &KEEP_ALIVE, true),
        (present::PROXY_CONNECTION, &PROXY_CONNECTION, true),
        (present::TRANSFER_ENCODING, &TRANSFER_ENCODING, true),
        (present::UPGRADE, &UPGRADE, !upgrade),
        (present::TE, &TE, present.has(present::TE) && te_rewritten()),
    ];
    for (bit, name, changed) in removed {
        if present.has(bit) && changed && signed.contains(name.as_str()) {
            return Err(HeaderError::SignedRemoved {
                name: name.clone(),
                why: Removal::HopByHop,
            });
        }
    }
    Ok(upgrade)
}

/// The request id when `Connection` names it: `SetRequestId` already made it the proxy's own
/// header (the id on the response), so it is kept.
pub(super) fn named_request_id(headers: &HeaderMap) -> Option<HeaderValue> {
    connection_tokens(headers)
        .any(|t| t.eq_ignore_ascii_case(X_AMZN_REQUESTID.as_str()))
        .then(|| headers.get(&X_AMZN_REQUESTID).cloned())
        .flatten()
}
