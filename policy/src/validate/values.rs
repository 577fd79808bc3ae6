//! Condition values, parsed for the operator's family: where Trellis is stricter than IAM
//! (malformed numbers, dates, CIDRs and base64 are errors) and where literal wildcards and
//! variables are checked.

use super::{Validator, Version};
use crate::condition::{ArnPattern, PolicyValues};
use crate::json::Value;
use crate::operator::{Family, Operator};
use crate::pattern::{parse_template, Matcher, Piece};
use crate::scalar::{decode_base64, parse_date, Cidr, Decimal};
use std::borrow::Cow;

impl Validator<'_> {
    pub(super) fn policy_values(
        &mut self,
        op: Operator,
        op_name: &str,
        texts: &[(Cow<'_, str>, &Value)],
    ) -> Option<PolicyValues> {
        let variables = self.version == Version::V2012;
        let mut ok = true;
        for (text, v) in texts {
            self.literal_variable_warning(v);
            if variables && text.contains("${") && !op.allows_variables() {
                let at = text.find("${").unwrap_or(0);
                let span = self.inner_span(v, at, at + 2);
                if op.family == Family::Bool {
                    self.warning(span, format!("policy variables in `{op_name}` are not supported by every AWS tool: write the value out"));
                } else {
                    self.error(span, format!("policy variables are not allowed with `{op_name}`: only String and Arn operators take them; write the value out"));
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        let mut bad = |this: &mut Self, v: &Value, msg: String| {
            this.error(v.span, msg);
            ok = false;
        };
        let values = match op.family {
            Family::StringEquals | Family::StringEqualsIgnoreCase | Family::StringLike => {
                let wildcards = op.family == Family::StringLike;
                let fold = op.family == Family::StringEqualsIgnoreCase;
                let mut matchers = Vec::new();
                for (text, v) in texts {
                    match parse_template(text, wildcards, variables) {
                        Ok(pieces) => {
                            if !wildcards && has_literal_wildcard(text) {
                                self.warning(v.span, format!("`{op_name}` compares exactly, so `*` and `?` in `{text}` are literal characters: use `StringLike` for wildcards"));
                            }
                            self.variable_keys(&pieces, v);
                            matchers.push(Matcher::new(pieces, fold));
                        }
                        Err(e) => {
                            let span = self.inner_span(v, e.start, e.end);
                            self.error(span, e.message);
                            ok = false;
                        }
                    }
                }
                PolicyValues::Str { fold, matchers }
            }
            Family::Numeric(_) => PolicyValues::Num(
                texts
                    .iter()
                    .filter_map(|(t, v)| {
                        let d = Decimal::parse(t);
                        if d.is_none() {
                            bad(self, v, format!("`{t}` is not a number: `{op_name}` compares decimal numbers such as `443` or `0.5` (Trellis rejects it: a condition that never matches is a silent hole)"));
                        }
                        d
                    })
                    .collect(),
            ),
            Family::Date(_) => PolicyValues::Date(
                texts
                    .iter()
                    .filter_map(|(t, v)| {
                        let d = parse_date(t);
                        if d.is_none() {
                            bad(self, v, format!("`{t}` is not a date: `{op_name}` takes ISO 8601 (`2030-01-01`, `2030-01-01T00:00:00Z`, `…+02:00`) or epoch seconds"));
                        }
                        d
                    })
                    .collect(),
            ),
            Family::Bool => PolicyValues::Bool(
                texts
                    .iter()
                    .map(|(t, v)| {
                        let b = if t.eq_ignore_ascii_case("true") {
                            Some(true)
                        } else if t.eq_ignore_ascii_case("false") {
                            Some(false)
                        } else {
                            self.warning(v.span, format!("`Bool` compares with `true` or `false`; `{t}` never matches: write `true` or `false`"));
                            None
                        };
                        b
                    })
                    .collect(),
            ),
            Family::Binary => PolicyValues::Binary(
                texts
                    .iter()
                    .filter_map(|(t, v)| {
                        let d = decode_base64(t);
                        if d.is_none() {
                            bad(self, v, format!("`{t}` is not base64: `BinaryEquals` takes the base64 encoding of the bytes (standard alphabet)"));
                        }
                        d.map(Vec::into_boxed_slice)
                    })
                    .collect(),
            ),
            Family::Ip => PolicyValues::Ip(
                texts
                    .iter()
                    .filter_map(|(t, v)| {
                        let c = Cidr::parse(t);
                        if c.is_none() {
                            bad(self, v, format!("`{t}` is not an IP address or CIDR range: write e.g. `10.0.0.0/8` or `2001:db8::/32`"));
                        }
                        c
                    })
                    .collect(),
            ),
            Family::Arn => {
                let mut patterns = Vec::new();
                for (text, v) in texts {
                    match parse_template(text, true, variables) {
                        Ok(pieces) => {
                            self.variable_keys(&pieces, v);
                            // `*` alone means any ARN, as it reads (it has one part, not six).
                            let parts = if text == "*" {
                                Some(Box::new(std::array::from_fn(|_| Matcher::Any)))
                            } else {
                                split_arn(pieces)
                            };
                            if parts.is_none() {
                                self.warning(v.span, format!("`{text}` is not an ARN (six `:`-separated parts), and `{op_name}` compares ARNs part by part, so it never matches: write a full ARN pattern or use `StringLike`"));
                            }
                            patterns.push(ArnPattern(parts));
                        }
                        Err(e) => {
                            let span = self.inner_span(v, e.start, e.end);
                            self.error(span, e.message);
                            ok = false;
                        }
                    }
                }
                PolicyValues::Arn(patterns)
            }
            Family::Null => PolicyValues::Null(
                texts
                    .iter()
                    .filter_map(|(t, v)| match t.as_ref() {
                        "true" => Some(true),
                        "false" => Some(false),
                        _ => {
                            bad(self, v, format!("`Null` takes `true` (key absent) or `false` (key present), found `{t}`"));
                            None
                        }
                    })
                    .collect(),
            ),
        };
        ok.then_some(values)
    }

    /// Warns about variables naming a multivalued key (they have no single value).
    fn variable_keys(&mut self, pieces: &[Piece], v: &Value) {
        for p in pieces {
            if let Piece::Var(var) = p {
                if var.key.key().is_multivalued() {
                    self.warning(v.span, format!("`${{{}}}` names a multivalued key, which has no single value to substitute: use a single-valued key", var.written));
                }
            }
        }
    }
}

/// `*`/`?` written as such (the escapes `${*}`/`${?}` are deliberate literals).
fn has_literal_wildcard(text: &str) -> bool {
    text.replace("${*}", "")
        .replace("${?}", "")
        .contains(['*', '?'])
}

/// Splits a template into the six ARN parts at the first five `:` of its literal text.
fn split_arn(pieces: Vec<Piece>) -> Option<Box<[Matcher; 6]>> {
    let mut parts: Vec<Vec<Piece>> = vec![Vec::new()];
    for piece in pieces {
        match piece {
            Piece::Lit(s) => {
                let mut rest: &str = &s;
                while parts.len() < 6 {
                    match rest.split_once(':') {
                        Some((head, tail)) => {
                            if !head.is_empty() {
                                parts.last_mut()?.push(Piece::Lit(head.into()));
                            }
                            parts.push(Vec::new());
                            rest = tail;
                        }
                        None => break,
                    }
                }
                if !rest.is_empty() {
                    parts.last_mut()?.push(Piece::Lit(rest.into()));
                }
            }
            other => parts.last_mut()?.push(other),
        }
    }
    if parts.len() != 6 {
        return None;
    }
    let matchers: Vec<Matcher> = parts.into_iter().map(|p| Matcher::new(p, false)).collect();
    let array: [Matcher; 6] = matchers.try_into().ok()?;
    Some(Box::new(array))
}
