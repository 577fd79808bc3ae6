//! Signing-key derivation, as AWS documents it and aws-sigv4 implements it (the tests compare
//! with aws-sigv4): HMAC-SHA256 only, so this crate needs no AWS SDK crate at run time.
//!
//! Intermediate keys are wiped when dropped.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// HMAC-SHA256, the MAC of every SigV4 step.
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// SigV4's kSigning: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service),
/// "aws4_request")`. `day` is the scope's `YYYYMMDD`.
pub(crate) fn sigv4_signing_key(
    secret: &str,
    day: &[u8],
    region: &str,
    service: &str,
) -> Zeroizing<[u8; 32]> {
    let mut k_secret = Zeroizing::new(Vec::with_capacity(secret.len() + 4));
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.as_bytes());
    let k_date = hmac(&k_secret, day);
    let k_region = hmac(&*k_date, region.as_bytes());
    let k_service = hmac(&*k_region, service.as_bytes());
    hmac(&*k_service, b"aws4_request")
}

/// The order of P-256's base point minus 2: a candidate scalar `c` is accepted when
/// `c <= n - 2`, and the private key is `c + 1` (so it lies in `1..=n-1`).
const P256_N_MINUS_2: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x4f,
];

/// SigV4A's private key: NIST SP 800-108 counter-mode KDF with HMAC-SHA256 keyed with
/// `"AWS4A" + secret`, fixed input `"AWS4-ECDSA-P256-SHA256" 0x00 access_key counter
/// 0x00000100`, retried with the next counter until the candidate is at most `n - 2`.
/// `None` only if 254 candidates in a row were out of range (probability about 2^-8000).
pub(crate) fn sigv4a_private_key(access_key_id: &str, secret: &str) -> Option<Zeroizing<[u8; 32]>> {
    let mut input_key = Zeroizing::new(Vec::with_capacity(secret.len() + 5));
    input_key.extend_from_slice(b"AWS4A");
    input_key.extend_from_slice(secret.as_bytes());
    for counter in 1..=254u8 {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&input_key).ok()?;
        mac.update(&1u32.to_be_bytes());
        mac.update(b"AWS4-ECDSA-P256-SHA256\0");
        mac.update(access_key_id.as_bytes());
        mac.update(&[counter]);
        mac.update(&256u32.to_be_bytes());
        let mut candidate = Zeroizing::new([0u8; 32]);
        candidate.copy_from_slice(&mac.finalize().into_bytes());
        // Big-endian byte strings of equal length compare like the numbers they encode.
        if *candidate <= P256_N_MINUS_2 {
            increment_be(&mut candidate);
            return Some(candidate);
        }
    }
    None
}

/// Adds one to a big-endian number that is below its maximum.
fn increment_be(n: &mut [u8; 32]) {
    for byte in n.iter_mut().rev() {
        let (sum, carry) = byte.overflowing_add(1);
        *byte = sum;
        if !carry {
            return;
        }
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail; the zero key it would
    // leave behind makes every signature mismatch (fail closed).
    if let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(key) {
        mac.update(data);
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    const KEYS: [(&str, &str); 4] = [
        ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        (
            "AKIAIOSFODNN7EXAMPLE",
            "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        ),
        ("ASIA000000000000TEMP", ""),
        ("a", "ünïcode secret with spaces"),
    ];

    #[test]
    fn sigv4_signing_key_is_the_one_aws_sigv4_derives() {
        // 2015-08-30 and 2026-11-23, any second of the day.
        for (epoch, day) in [(1_440_938_160, b"20150830"), (1_795_435_200, b"20261123")] {
            let time = SystemTime::UNIX_EPOCH + Duration::from_secs(epoch);
            for (_, secret) in KEYS {
                for (region, service) in
                    [("us-east-1", "service"), ("eu-west-3", "vpc-lattice-svcs")]
                {
                    let ours = sigv4_signing_key(secret, day, region, service);
                    let theirs =
                        aws_sigv4::sign::v4::generate_signing_key(secret, time, region, service);
                    assert_eq!(&ours[..], theirs.as_ref(), "{secret} {region} {service}");
                }
            }
        }
    }

    #[test]
    fn sigv4a_private_key_is_the_one_aws_sigv4_derives() {
        for (akid, secret) in KEYS {
            let ours = sigv4a_private_key(akid, secret).unwrap();
            let theirs = aws_sigv4::sign::v4a::generate_signing_key(akid, secret);
            assert_eq!(&ours[..], theirs.as_ref(), "{akid}");
        }
    }

    #[test]
    fn a_candidate_scalar_is_incremented_with_carry() {
        let mut n = [0u8; 32];
        n[31] = 0xff;
        n[30] = 0xff;
        increment_be(&mut n);
        assert_eq!(n[29..], [1, 0, 0]);
    }
}
