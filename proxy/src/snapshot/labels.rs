//! Stable `statement` labels for statements without a `Sid`.
//!
//! A position (`#3`) names another statement as soon as one is inserted above it, so a
//! dashboard's series would silently change meaning on every policy edit. The label is instead
//! `#h:` and 8 hex digits of the SHA-256 of the statement's canonical JSON (keys sorted, no
//! whitespace): it stays while the statement stays as it is, wherever it moves, and a
//! reformatted file keeps it too.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// `#h:` and the first 8 hex digits of the SHA-256 of `canonical`.
pub(crate) fn content_label(canonical: &str) -> String {
    let digest = Sha256::digest(canonical.as_bytes());
    format!("#h:{}", hex::encode(&digest[..4]))
}

/// The canonical text of each statement of a policy document, in order (`Statement` may be a
/// list or a single object).
pub(crate) fn statement_texts(document: &Value) -> Vec<String> {
    match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().map(canonical).collect(),
        Some(v @ Value::Object(_)) => vec![canonical(v)],
        _ => Vec::new(),
    }
}

/// `value` as JSON with object keys sorted and no whitespace, whatever order and layout the
/// file used.
pub(crate) fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(policy: &str) -> Vec<String> {
        let doc: Value = serde_json::from_str(policy).unwrap();
        statement_texts(&doc)
            .iter()
            .map(|t| content_label(t))
            .collect()
    }

    const A: &str = r#"{"Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}"#;
    const B: &str =
        r#"{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*/admin/*"}"#;

    #[test]
    fn an_unnamed_statement_keeps_its_label_when_statements_are_inserted_before_it() {
        let before = labels(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{A}]}}"#
        ));
        let after = labels(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{B}, {A}]}}"#
        ));
        assert_eq!(before[0], after[1]);
        assert_ne!(after[0], after[1]);
        assert!(
            before[0].starts_with("#h:") && before[0].len() == 11,
            "{}",
            before[0]
        );
    }

    #[test]
    fn key_order_and_layout_do_not_change_the_label_but_content_does() {
        let reordered = r#"{"Resource": "*", "Action": "vpc-lattice-svcs:Invoke",
            "Principal": "*",   "Effect": "Allow"}"#;
        let single = labels(&format!(r#"{{"Statement": {reordered}}}"#));
        assert_eq!(labels(&format!(r#"{{"Statement": [{A}]}}"#)), single);
        let changed = A.replace("\"*\"}", "\"*/orders/*\"}");
        assert_ne!(labels(&format!(r#"{{"Statement": [{changed}]}}"#)), single);
    }

    #[test]
    fn canonical_text_sorts_keys_at_every_depth() {
        let v: Value =
            serde_json::from_str(r#"{"b": {"y": 1, "x": [true, null, "s"]}, "a": 2.5}"#).unwrap();
        assert_eq!(
            canonical(&v),
            r#"{"a":2.5,"b":{"x":[true,null,"s"],"y":1}}"#
        );
    }
}
