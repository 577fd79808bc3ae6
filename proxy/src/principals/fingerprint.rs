//! The version of a principals file that `/policy` and `trellis principals check` publish
//! (CONTRACT §7). The file may hold inline secrets, and a hash of its raw bytes could be
//! matched offline against guessed secrets; so the published SHA-256 is of the file's parsed
//! content with every secret value replaced by a fixed marker. Operators compare it across
//! pods, so it is a pure function of the file (no per-process key) and ignores what does not
//! change meaning: whitespace and the order of an object's members.
//!
//! The canonical form: no whitespace; an object's members sorted by key (byte order; members
//! with the same key keep their order); arrays in order; strings escaped as `serde_json` writes
//! them; numbers as written; the value of every member named `secret_access_key` or
//! `session_token`, wherever it appears, replaced by the string `<removed>` (unless it is
//! `null`, which holds no secret).
//!
//! Changing only a secret therefore leaves the fingerprint as it was: a rotation shows as a new
//! `access_key_id` (AWS issues a new key id with every new secret), or, for a secret changed in
//! place, as a later `loaded_at`.

use sha2::{Digest, Sha256};
use trellis_policy::json::{Kind, Value};

/// Members whose values are secrets.
const SECRET_MEMBERS: &[&str] = &["secret_access_key", "session_token"];

/// What a removed secret becomes, so adding or removing an inline secret still shows.
const REMOVED: &str = "<removed>";

/// Hex SHA-256 of the canonical form of `root` with every secret removed.
pub(crate) fn content_sha256(root: &Value) -> String {
    let mut canonical = Vec::new();
    write(root, &mut canonical);
    hex::encode(Sha256::digest(&canonical))
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    // Writing a `&str` into a `Vec` cannot fail; an error would only drop the string, which
    // cannot make two different files collide unnoticed more than any other bug would.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write(value: &Value, out: &mut Vec<u8>) {
    match &value.kind {
        Kind::Null => out.extend_from_slice(b"null"),
        Kind::Bool(true) => out.extend_from_slice(b"true"),
        Kind::Bool(false) => out.extend_from_slice(b"false"),
        Kind::Number(text) => out.extend_from_slice(text.as_bytes()),
        Kind::String(s) => write_str(s, out),
        Kind::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out);
            }
            out.push(b']');
        }
        Kind::Object(members) => {
            let mut sorted: Vec<_> = members.iter().collect();
            sorted.sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
            out.push(b'{');
            for (i, member) in sorted.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(&member.key, out);
                out.push(b':');
                let secret = SECRET_MEMBERS.contains(&member.key.as_str())
                    && !matches!(member.value.kind, Kind::Null);
                if secret {
                    write_str(REMOVED, out);
                } else {
                    write(&member.value, out);
                }
            }
            out.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(text: &str) -> String {
        content_sha256(&trellis_policy::json::parse(text).unwrap())
    }

    const FILE: &str = r#"{"principals": [{"arn": "arn:aws:iam::111122223333:user/ops",
        "tags": {"team": "ops"},
        "keys": [{"access_key_id": "AKIDOPS", "secret_access_key": "hunter2", "session_token": "tok"}]}]}"#;

    #[test]
    fn the_published_principals_hash_is_never_of_the_raw_bytes() {
        use sha2::Digest;
        assert_ne!(
            sha(FILE),
            hex::encode(sha2::Sha256::digest(FILE.as_bytes()))
        );
    }

    #[test]
    fn the_published_principals_hash_does_not_change_with_a_secret() {
        let rotated = FILE
            .replace("hunter2", "correct-horse-battery-staple")
            .replace("\"tok\"", "\"other-token\"");
        assert_eq!(sha(FILE), sha(&rotated));
    }

    #[test]
    fn the_published_principals_hash_changes_with_everything_but_a_secret() {
        let base = sha(FILE);
        for (from, to) in [
            ("AKIDOPS", "AKIDOPS2"),
            ("user/ops", "user/dev"),
            ("\"ops\"}", "\"dev\"}"),
            (", \"session_token\": \"tok\"", ""),
        ] {
            let changed = FILE.replace(from, to);
            assert_ne!(changed, FILE, "{from} is in the file");
            assert_ne!(sha(&changed), base, "changing {from} to {to}");
        }
    }

    #[test]
    fn the_published_principals_hash_ignores_whitespace_and_member_order() {
        let reordered = r#"{
          "principals": [
            {
              "keys": [{"session_token": "tok", "secret_access_key": "hunter2", "access_key_id": "AKIDOPS"}],
              "tags": {"team": "ops"},
              "arn": "arn:aws:iam::111122223333:user/ops"
            }
          ]
        }"#;
        assert_eq!(sha(FILE), sha(reordered));
    }

    #[test]
    fn a_null_session_token_is_no_secret_and_stays_null() {
        let mut out = Vec::new();
        let text = r#"{"keys": [{"session_token": null, "secret_access_key": "s"}]}"#;
        write(&trellis_policy::json::parse(text).unwrap(), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"keys":[{"secret_access_key":"<removed>","session_token":null}]}"#
        );
    }

    #[test]
    fn the_published_principals_hash_keeps_array_order() {
        let a = r#"{"principals": [{"arn": "a"}, {"arn": "b"}]}"#;
        let b = r#"{"principals": [{"arn": "b"}, {"arn": "a"}]}"#;
        assert_ne!(sha(a), sha(b));
    }

    #[test]
    fn the_canonical_form_is_stable() {
        // Pinned: the value operators compare across pods and releases must not drift.
        let mut out = Vec::new();
        write(&trellis_policy::json::parse(FILE).unwrap(), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"principals":[{"arn":"arn:aws:iam::111122223333:user/ops","keys":[{"access_key_id":"AKIDOPS","secret_access_key":"<removed>","session_token":"<removed>"}],"tags":{"team":"ops"}}]}"#
        );
    }
}
