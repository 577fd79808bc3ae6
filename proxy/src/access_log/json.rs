//! The JSON pieces of an access-log line, escaped as `serde_json` escapes (so a line reads
//! the same either way) without its serializer: a line is 30 flat fields.

use std::net::SocketAddr;

/// Whether JSON needs `b` escaped inside a string.
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Appends `s` as a JSON string, quotes included.
pub(super) fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&b| needs_escape(b)) {
        out.extend_from_slice(bytes);
    } else {
        for &b in bytes {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                b if b < 0x20 => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[usize::from(b >> 4)]);
                    out.push(HEX[usize::from(b & 0xf)]);
                }
                b => out.push(b),
            }
        }
    }
    out.push(b'"');
}

/// Appends `,"name":` (`name` needs no escaping: it is one of the line's field names).
fn push_name(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Appends `,"name":"value"`.
pub(super) fn field_str(out: &mut Vec<u8>, name: &str, value: &str) {
    push_name(out, name);
    push_str(out, value);
}

/// Appends `,"name":value`.
pub(super) fn field_u64(out: &mut Vec<u8>, name: &str, value: u64) {
    push_name(out, name);
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Appends `,"name":"ip:port"`, or `"-"` without an address (an address needs no escaping).
pub(super) fn field_addr(out: &mut Vec<u8>, name: &str, addr: Option<SocketAddr>) {
    push_name(out, name);
    out.push(b'"');
    match addr {
        Some(a) => crate::addr_text::push_socket_addr(out, a),
        None => out.push(b'-'),
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::push_str;

    proptest! {
        /// Any string reads back as itself, escaped byte for byte as `serde_json` does.
        #[test]
        fn strings_are_escaped_as_serde_json_escapes_them(s in any::<String>()) {
            let mut out = Vec::new();
            push_str(&mut out, &s);
            prop_assert_eq!(&out, &serde_json::to_vec(&s).unwrap());
        }
    }

    #[test]
    fn every_control_character_and_quote_is_escaped_as_serde_json_does() {
        let all: String = (0u8..0x80).map(char::from).collect();
        let mut out = Vec::new();
        push_str(&mut out, &all);
        assert_eq!(out, serde_json::to_vec(&all).unwrap());
    }
}
