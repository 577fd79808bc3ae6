//! SigV4A specifics: the region set a signature covers and ECDSA P-256 verification.
//!
//! Signatures are randomised and about half the official vectors carry a high S value, so the
//! DER signature is verified (never compared) and high S is accepted, as AWS does.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};

use super::parse::decode_hex_lower;

/// Parses a lowercase-hex DER signature (70–72 bytes in practice).
pub(crate) fn parse_signature(hex: &str) -> Option<Signature> {
    let mut buf = [0u8; 80];
    let der = decode_hex_lower(hex, &mut buf)?;
    Signature::from_der(der).ok()
}

/// Verifies `signature` over the SHA-256 digest of the string to sign.
pub(crate) fn verify_prehash(key: &VerifyingKey, digest: &[u8; 32], signature: &Signature) -> bool {
    key.verify_prehash(digest, signature).is_ok()
}

/// Whether a comma-separated region set (`*`, `us-*`, `us-west-2,us-east-1`) covers `region`.
pub(crate) fn region_set_covers(set: &str, region: &str) -> bool {
    set.split(',')
        .map(str::trim)
        .any(|pattern| wildcard_match(pattern.as_bytes(), region.as_bytes()))
}

/// `*` matches any run of characters (including none); everything else matches itself.
fn wildcard_match(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while let Some(&c) = s.get(si) {
        let at = p.get(pi).copied();
        if at == Some(b'*') {
            star = Some((pi, si));
            pi += 1;
        } else if at == Some(c) {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p.get(pi..).unwrap_or_default().iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_set_wildcards_cover_matching_regions_only() {
        assert!(region_set_covers("*", "us-west-2"));
        assert!(region_set_covers("us-*", "us-west-2"));
        assert!(region_set_covers("eu-west-1, us-west-2", "us-west-2"));
        assert!(region_set_covers("us-*-2", "us-west-2"));
        assert!(!region_set_covers("us-east-1,eu-*", "us-west-2"));
        assert!(!region_set_covers("", "us-west-2"));
        assert!(!region_set_covers("us-west-22", "us-west-2"));
    }

    #[test]
    fn signature_must_be_lowercase_hex_der() {
        assert!(parse_signature("3006020101020101").is_some());
        assert!(parse_signature("3006020101020101ZZ").is_none());
        assert!(parse_signature("00").is_none());
    }
}
