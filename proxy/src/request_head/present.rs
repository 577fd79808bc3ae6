//! Which of the headers the proxy removes or rewrites a message carries, and whether any name
//! holds a `_`, found in one pass over its names.
//!
//! A typical request carries none of the fifteen headers `IdentityHeaders` and `Forward` may
//! have to remove; asking the map for each of them costs fifteen hash lookups per message,
//! while one walk over the few names present costs a handful of length-and-byte compares.
//! Only the headers found are then touched.

use http::HeaderMap;

/// A set of the headers below, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Present(u16);

pub(crate) const CONNECTION: u16 = 1;
pub(crate) const TE: u16 = 1 << 1;
pub(crate) const KEEP_ALIVE: u16 = 1 << 2;
pub(crate) const PROXY_CONNECTION: u16 = 1 << 3;
pub(crate) const TRANSFER_ENCODING: u16 = 1 << 4;
pub(crate) const UPGRADE: u16 = 1 << 5;
pub(crate) const X_FORWARDED_FOR: u16 = 1 << 6;
/// The first of the seven spoofable headers, in the order of `SPOOFABLE`.
const SPOOFABLE_FIRST: u32 = 7;
/// Some header name contains `_` (see `--headers-with-underscores`).
pub(crate) const UNDERSCORE: u16 = 1 << 14;
/// Every hop-by-hop header `strip_scanned` may touch.
pub(crate) const HOP_BY_HOP: u16 =
    CONNECTION | TE | KEEP_ALIVE | PROXY_CONNECTION | TRANSFER_ENCODING | UPGRADE;

/// The bit of a spoofable header, by its index in `SPOOFABLE`.
pub(crate) const fn spoofable(index: usize) -> u16 {
    1 << (SPOOFABLE_FIRST as usize + index)
}

fn bit(name: &str) -> u16 {
    match name {
        "connection" => CONNECTION,
        "te" => TE,
        "keep-alive" => KEEP_ALIVE,
        "proxy-connection" => PROXY_CONNECTION,
        "transfer-encoding" => TRANSFER_ENCODING,
        "upgrade" => UPGRADE,
        "x-forwarded-for" => X_FORWARDED_FOR,
        // Same order as `SPOOFABLE`.
        "x-amzn-lattice-identity" => spoofable(0),
        "x-amzn-lattice-identity-tags" => spoofable(1),
        "x-amzn-lattice-network" => spoofable(2),
        "x-amzn-lattice-target" => spoofable(3),
        "x-amzn-source-vpc" => spoofable(4),
        "authorization" => spoofable(5),
        "x-amz-security-token" => spoofable(6),
        _ => 0,
    }
}

impl Present {
    /// Scans the names of `headers` once.
    pub(crate) fn scan(headers: &HeaderMap) -> Self {
        Self(
            headers
                .keys()
                .fold(0, |bits, name| bits | bit(name.as_str())),
        )
    }

    /// [`Self::scan`] of a caller's request head, which also notes a name containing `_`
    /// ([`UNDERSCORE`]): only caller heads can carry one that matters, so the later scans of
    /// the same request (and of responses) skip that byte search.
    pub(crate) fn scan_request(headers: &HeaderMap) -> Self {
        Self(headers.keys().fold(0, |bits, name| {
            let name = name.as_str();
            let underscore = if name.bytes().any(|b| b == b'_') {
                UNDERSCORE
            } else {
                0
            };
            bits | underscore | bit(name)
        }))
    }

    /// Whether the header of `bit` is present.
    pub(crate) fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request_head::names::SPOOFABLE;

    #[test]
    fn every_spoofable_header_has_its_own_bit_in_order() {
        for (i, name) in SPOOFABLE.iter().enumerate() {
            let mut h = HeaderMap::new();
            h.insert(name.clone(), http::HeaderValue::from_static("x"));
            assert_eq!(Present::scan(&h), Present(spoofable(i)), "{name}");
        }
    }

    #[test]
    fn scan_finds_hop_by_hop_headers_and_ignores_others() {
        let mut h = HeaderMap::new();
        for name in ["connection", "te", "upgrade", "x-keep", "host"] {
            h.insert(
                http::HeaderName::from_static(name),
                http::HeaderValue::from_static("x"),
            );
        }
        let p = Present::scan(&h);
        assert!(p.has(CONNECTION) && p.has(TE) && p.has(UPGRADE));
        assert!(!p.has(KEEP_ALIVE) && !p.has(TRANSFER_ENCODING) && !p.has(X_FORWARDED_FOR));
        assert!(!Present::scan(&HeaderMap::new()).has(u16::MAX));
    }

    #[test]
    fn a_name_with_an_underscore_sets_the_underscore_bit() {
        let mut h = HeaderMap::new();
        h.insert("x-plain", http::HeaderValue::from_static("x"));
        assert!(!Present::scan_request(&h).has(UNDERSCORE));
        h.insert(
            "x_amzn_lattice_identity",
            http::HeaderValue::from_static("x"),
        );
        assert!(
            !Present::scan(&h).has(UNDERSCORE),
            "only the request scan looks for `_`"
        );
        let p = Present::scan_request(&h);
        assert!(p.has(UNDERSCORE));
        assert!(
            !p.has(spoofable(0)),
            "an underscore spelling is not the header itself"
        );
    }
}
