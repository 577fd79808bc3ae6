//! Standard base64 (RFC 4648 §4), padding optional, decoded without allocating when only a
//! comparison is needed.

fn sextet(b: u8) -> Option<u32> {
    Some(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// Feeds every decoded byte to `sink`; false if the text is not base64 or `sink` says stop.
fn for_each_byte(text: &str, mut sink: impl FnMut(u8) -> bool) -> bool {
    let body = text.trim_end_matches('=');
    let pad = text.len() - body.len();
    if pad > 2 || (pad > 0 && !text.len().is_multiple_of(4)) || body.len() % 4 == 1 {
        return false;
    }
    let bytes = body.as_bytes();
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for &b in chunk {
            match sextet(b) {
                Some(s) => n = (n << 6) | s,
                None => return false,
            }
        }
        let out = match chunk.len() {
            4 => 3,
            3 => {
                n <<= 6;
                2
            }
            _ => {
                n <<= 12;
                1
            }
        };
        // Non-zero bits left over after the last byte mean a non-canonical encoding.
        if out < 3 && (n & ((1 << (8 * (3 - out))) - 1)) != 0 {
            return false;
        }
        for i in 0..out {
            let byte = ((n >> (16 - 8 * i)) & 0xFF) as u8;
            if !sink(byte) {
                return false;
            }
        }
    }
    true
}

/// Decodes a policy value.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    for_each_byte(text, |b| {
        out.push(b);
        true
    })
    .then_some(out)
}

/// Whether base64 `text` decodes to exactly `expected` (a request value against a policy value).
pub(crate) fn eq_base64(text: &str, expected: &[u8]) -> bool {
    let mut i = 0;
    let ok = for_each_byte(text, |b| {
        let same = expected.get(i) == Some(&b);
        i += 1;
        same
    });
    ok && i == expected.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8h").unwrap(), b"hello!");
        assert_eq!(decode_base64("").unwrap(), b"");
    }

    #[test]
    fn binary_values_compare_decoded_bytes() {
        assert!(eq_base64("aGVsbG8=", b"hello"));
        assert!(eq_base64("aGVsbG8", b"hello"));
        assert!(!eq_base64("aGVsbG8h", b"hello"));
        assert!(!eq_base64("aGVsbA==", b"hello"));
    }

    #[test]
    fn malformed_base64_is_rejected() {
        for bad in ["a", "aGVsbG8==", "aGV sbG8=", "aGVsbG9=", "****", "a==="] {
            assert!(decode_base64(bad).is_none(), "{bad}");
        }
    }
}
