//! `Condition` blocks: operators, keys and typed values.

use super::Validator;
use crate::condition::Condition;
use crate::decision::Effect;
use crate::diagnostic::Span;
use crate::json::{Kind, Member, Value};
use crate::key::{spelling_of, Key, KeyName, Spelling};
use crate::operator::{Family, Operator, SetQualifier};
use crate::source::ConditionSource;
use std::borrow::Cow;
use std::sync::Arc;

impl Validator<'_> {
    pub(super) fn conditions(
        &mut self,
        value: &Value,
        effect: Option<Effect>,
    ) -> Option<Vec<Condition>> {
        let Some(blocks) = value.as_object() else {
            self.error(
                value.span,
                format!("`Condition` must be an object such as `{{\"StringEquals\": {{\"aws:PrincipalTag/team\": \"payments\"}}}}`, found {}", value.type_name()),
            );
            return None;
        };
        self.duplicates(blocks, || "`Condition`".into());
        if blocks.is_empty() {
            self.warning(
                value.span,
                "empty `Condition`: it has no effect; remove it or add a condition",
            );
        }
        let mut out = Vec::new();
        let mut ok = true;
        let mut for_all: Vec<(String, Span)> = Vec::new();
        for block in blocks {
            let op = match Operator::parse(&block.key) {
                Ok(op) => op,
                Err(e) => {
                    self.error(block.key_span, e.to_string());
                    ok = false;
                    continue;
                }
            };
            let Some(entries) = block.value.as_object() else {
                self.error(
                    block.value.span,
                    format!("the `{}` block must be an object mapping condition keys to values, found {}", block.key, block.value.type_name()),
                );
                ok = false;
                continue;
            };
            self.duplicates(entries, || format!("the `{}` block", block.key));
            if entries.is_empty() {
                self.warning(
                    block.value.span,
                    format!(
                        "empty `{}` block: it tests nothing; remove it or add a key",
                        block.key
                    ),
                );
            }
            for (i, entry) in entries.iter().enumerate() {
                if let Some(prev) = entries[..i]
                    .iter()
                    .find(|p| p.key != entry.key && p.key.eq_ignore_ascii_case(&entry.key))
                {
                    self.warning(
                        entry.key_span,
                        format!("condition keys `{}` and `{}` differ only by case, and key names are case-insensitive: merge them into one", prev.key, entry.key),
                    );
                }
                if op.set == SetQualifier::ForAllValues && effect == Some(Effect::Allow) {
                    for_all.push((entry.key.to_ascii_lowercase(), entry.key_span));
                }
                match self.condition(op, &block.key, entry) {
                    Some(c) => out.push(c),
                    None => ok = false,
                }
            }
        }
        for (key, span) in for_all {
            let guarded = blocks.iter().any(|b| {
                b.key == "Null"
                    && b.value.as_object().is_some_and(|entries| {
                        entries.iter().any(|e| {
                            e.key.eq_ignore_ascii_case(&key)
                                && match &e.value.kind {
                                    Kind::String(s) => s == "false",
                                    Kind::Bool(b) => !b,
                                    _ => false,
                                }
                        })
                    })
            });
            if !guarded {
                self.warning(
                    span,
                    format!("`ForAllValues` is true when `{key}` is absent or empty, so this Allow also matches requests without it: add `\"Null\": {{\"{key}\": \"false\"}}`"),
                );
            }
        }
        ok.then_some(out)
    }

    fn condition(&mut self, op: Operator, op_name: &str, entry: &Member) -> Option<Condition> {
        let written = entry.key.as_str();
        if !written
            .split_once(':')
            .is_some_and(|(p, n)| !p.is_empty() && !n.is_empty())
        {
            self.error(
                entry.key_span,
                format!("condition key `{written}` must be `prefix:name`, e.g. `aws:SourceIp` or `vpc-lattice-svcs:RequestMethod`"),
            );
            return None;
        }
        if written.contains("${") {
            self.error(
                entry.key_span,
                format!("policy variables are not allowed in condition keys (`{written}`): name the key itself, and put variables in the values"),
            );
            return None;
        }
        match spelling_of(written) {
            Spelling::Documented => {}
            Spelling::CaseDiffers(doc) => self.warning(
                entry.key_span,
                format!("condition key `{written}` is documented as `{doc}`: IAM matches key names case-insensitively, but Lattice says its keys are case-sensitive; write `{doc}`"),
            ),
            Spelling::UnknownAws(closest) => self.warning(
                entry.key_span,
                format!("`{written}` is not an AWS global condition key, so it is never present: did you mean `{closest}`?"),
            ),
            Spelling::UnknownLattice => self.warning(
                entry.key_span,
                format!("`{written}` is not a VPC Lattice condition key, so it is never present: use one of `vpc-lattice-svcs:Port`, `RequestMethod`, `RequestPath`, `RequestHeader/<name>`, `RequestQueryString/<name>`, `ServiceArn`, `ServiceNetworkArn`, `SourceVpc`, `SourceVpcOwnerAccount`"),
            ),
        }
        let key = KeyName::new(written);
        let parsed: Key<'_> = key.key();
        if op.family != Family::Null {
            if parsed.is_multivalued() && op.set == SetQualifier::None {
                self.warning(
                    entry.key_span,
                    format!("`{written}` is multivalued, and a plain `{op_name}` never matches a list: use `ForAnyValue:{op_name}` (any value) or `ForAllValues:{op_name}` (every value)"),
                );
            } else if !parsed.is_multivalued()
                && parsed.value_type().is_some()
                && op.set != SetQualifier::None
            {
                self.warning(
                    entry.key_span,
                    format!("`{written}` is single-valued: a set operator treats it as a one-element set (and `ForAllValues` matches when it is absent); use the operator without `ForAnyValue:`/`ForAllValues:`"),
                );
            }
        }
        let values: Vec<&Value> = match &entry.value.kind {
            Kind::Array(items) => {
                if items.is_empty() {
                    self.warning(
                        entry.value.span,
                        format!("empty value list for `{written}`: it never matches a present key; list at least one value"),
                    );
                }
                items.iter().collect()
            }
            _ => vec![&entry.value],
        };
        let mut texts = Vec::with_capacity(values.len());
        let mut ok = true;
        for v in values {
            match &v.kind {
                Kind::String(s) => texts.push((Cow::Borrowed(s.as_str()), v)),
                Kind::Number(n) => texts.push((Cow::Borrowed(n.as_str()), v)),
                Kind::Bool(b) => texts.push((Cow::Borrowed(if *b { "true" } else { "false" }), v)),
                _ => {
                    self.error(
                        v.span,
                        format!("condition values must be strings, numbers or booleans, found {} for `{written}`", v.type_name()),
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        self.caller_values(op, op_name, &key.key(), &texts);
        let values = self.policy_values(op, op_name, &texts)?;
        let written = texts.iter().map(|(t, _)| Box::from(&**t)).collect();
        let source = ConditionSource::of(op_name, entry, written, self.index());
        Some(Condition {
            op,
            key,
            values,
            source: Arc::new(source),
        })
    }
}
