//! Condition operators (iam.md §6), evaluated from their definitions on every call.

use super::glob::{self, Tok};
use super::values;
use super::{string_list, CtxVal, NaiveRequest};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    None,
    ForAnyValue,
    ForAllValues,
}

/// `ForAnyValue:StringNotLikeIfExists` → (ForAnyValue, "StringNotLike", true).
fn split_operator(op: &str) -> (SetOp, &str, bool) {
    let (set, rest) = if let Some(r) = op.strip_prefix("ForAnyValue:") {
        (SetOp::ForAnyValue, r)
    } else if let Some(r) = op.strip_prefix("ForAllValues:") {
        (SetOp::ForAllValues, r)
    } else {
        (SetOp::None, op)
    };
    match rest.strip_suffix("IfExists") {
        Some(base) => (set, base, true),
        None => (set, rest, false),
    }
}

/// `StringNotEquals` → ("StringEquals", negated). `NotIpAddress` → ("IpAddress", negated).
fn positive_form(base: &str) -> (String, bool) {
    if let Some(r) = base.strip_prefix("Not") {
        return (r.to_string(), true);
    }
    for family in ["String", "Numeric", "Date", "Arn", "Binary"] {
        if let Some(r) = base.strip_prefix(family) {
            if let Some(r2) = r.strip_prefix("Not") {
                return (format!("{family}{r2}"), true);
            }
        }
    }
    (base.to_string(), false)
}

/// Whether one request value matches one policy value under the positive operator `op`.
/// `None` for the policy value means a variable without value: it matches nothing.
fn value_matches(
    op: &str,
    policy: Option<&str>,
    request: &str,
    vars: bool,
    req: &NaiveRequest,
) -> bool {
    let Some(p) = policy else { return false };
    let expand = |wild: bool| glob::expand(p, req, vars, wild);
    match op {
        "StringEquals" => expand(false).is_some_and(|t| glob::literal(&t) == request),
        "StringEqualsIgnoreCase" => expand(false)
            .is_some_and(|t| glob::literal(&t).to_lowercase() == request.to_lowercase()),
        "StringLike" => expand(true).is_some_and(|t| glob::matches(&t, request)),
        "ArnEquals" | "ArnLike" => expand(true).is_some_and(|t| arn_like(&t, request)),
        "NumericEquals"
        | "NumericLessThan"
        | "NumericLessThanEquals"
        | "NumericGreaterThan"
        | "NumericGreaterThanEquals" => match (values::number(request), values::number(p)) {
            (Some(r), Some(v)) => compare(op.trim_start_matches("Numeric"), r.partial_cmp(&v)),
            _ => false,
        },
        "DateEquals"
        | "DateLessThan"
        | "DateLessThanEquals"
        | "DateGreaterThan"
        | "DateGreaterThanEquals" => match (values::date(request), values::date(p)) {
            (Some(r), Some(v)) => compare(op.trim_start_matches("Date"), r.partial_cmp(&v)),
            _ => false,
        },
        "Bool" => request == p,
        "BinaryEquals" => match (values::base64(request), values::base64(p)) {
            (Some(r), Some(v)) => r == v,
            _ => false,
        },
        "IpAddress" => match (request.parse(), values::cidr(p)) {
            (Ok(addr), Some(range)) => values::in_range(addr, range),
            _ => false,
        },
        _ => false,
    }
}

fn compare(rel: &str, ord: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    matches!(
        (rel, ord),
        ("Equals", Some(Equal))
            | ("LessThan", Some(Less))
            | ("LessThanEquals", Some(Less | Equal))
            | ("GreaterThan", Some(Greater))
            | ("GreaterThanEquals", Some(Greater | Equal))
    )
}

/// Splits tokens at the first five literal `:` (the six ARN parts).
fn arn_parts(tokens: &[Tok]) -> Vec<Vec<Tok>> {
    let mut parts = vec![Vec::new()];
    for &t in tokens {
        if t == Tok::Lit(':') && parts.len() < 6 {
            parts.push(Vec::new());
        } else if let Some(last) = parts.last_mut() {
            last.push(t);
        }
    }
    parts
}

/// `ArnLike`: both sides split into six parts, each part globbed on its own.
fn arn_like(pattern: &[Tok], request: &str) -> bool {
    let literal: Vec<Tok> = request.chars().map(Tok::Lit).collect();
    let want = arn_parts(pattern);
    let have = arn_parts(&literal);
    if want.len() != 6 || have.len() != 6 {
        return false;
    }
    want.iter().zip(&have).all(|(w, h)| {
        let text: String = glob::literal(h);
        glob::matches(w, &text)
    })
}

/// One `Operator: {key: values, ...}` block: every key must hold (AND).
pub fn block_matches(op: &str, keys: &Value, req: &NaiveRequest, vars: bool) -> bool {
    let Value::Object(keys) = keys else {
        return false;
    };
    keys.iter()
        .all(|(key, vals)| key_matches(op, key, &string_list(vals), req, vars))
}

fn key_matches(op: &str, key: &str, policy: &[String], req: &NaiveRequest, vars: bool) -> bool {
    let (set, base, if_exists) = split_operator(op);
    let value = req.get(key);
    if base == "Null" {
        let want_absent = policy.iter().any(|p| p == "true");
        return value.is_none() == want_absent;
    }
    if value.is_none() && if_exists {
        return true;
    }
    // iam.md §6.4: an empty policy list makes `…IfExists` match only an absent key.
    if policy.is_empty() && if_exists && set == SetOp::None {
        return false;
    }
    let (positive, negated) = positive_form(base);
    // "satisfies": for a positive operator, some policy value matches; for a negated one,
    // none does (NOR).
    let satisfies = |r: &str| {
        let any = policy
            .iter()
            .any(|p| value_matches(&positive, Some(p.as_str()), r, vars, req));
        any != negated
    };
    match set {
        SetOp::None => match value {
            None => negated,
            Some(CtxVal::One(v)) => satisfies(v),
            // iam.md §6.4 Trellis rule: a plain operator never matches a multivalued key.
            Some(CtxVal::Many(_)) => false,
        },
        SetOp::ForAnyValue => {
            if policy.is_empty() {
                return false;
            }
            match value {
                None => false,
                Some(CtxVal::One(v)) => satisfies(v),
                Some(CtxVal::Many(vs)) => vs.iter().any(|v| satisfies(v)),
            }
        }
        SetOp::ForAllValues => {
            if policy.is_empty() {
                return value.is_none();
            }
            match value {
                None => true,
                Some(CtxVal::One(v)) => satisfies(v),
                Some(CtxVal::Many(vs)) => vs.iter().all(|v| satisfies(v)),
            }
        }
    }
}
