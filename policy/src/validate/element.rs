//! `Action`, `Resource` and `Principal` elements.

use super::{lattice_resource, service_lint, Validator, Version};
use crate::json::{Kind, Value};
use crate::pattern::{parse_template, Matcher, Piece};
use crate::principal::{parse_aws, Entry, PrincipalSet};
use crate::statement::ListRule;
use crate::PolicyKind;

/// ` (did you mean `X`?)` when `written` differs from a known name only by case.
pub(super) fn suggest(written: &str, known: &[&str]) -> String {
    known
        .iter()
        .find(|k| {
            k.eq_ignore_ascii_case(written) || k.eq_ignore_ascii_case(written.trim_end_matches('s'))
        })
        .map(|k| format!(" (did you mean `{k}`? element names are case-sensitive)"))
        .unwrap_or_default()
}

impl Validator<'_> {
    /// A string or an array of strings. Reports wrong types; `None` if unusable.
    pub(super) fn strings<'v>(
        &mut self,
        value: &'v Value,
        element: &str,
    ) -> Option<Vec<&'v Value>> {
        let items: Vec<&Value> = match &value.kind {
            Kind::String(_) => vec![value],
            Kind::Array(items) => {
                if items.is_empty() {
                    self.warning(
                        value.span,
                        format!("empty `{element}` array: it matches nothing, so the statement never applies; list at least one value or remove the statement"),
                    );
                }
                items.iter().collect()
            }
            _ => {
                self.error(
                    value.span,
                    format!(
                        "`{element}` must be a string or an array of strings, found {}",
                        value.type_name()
                    ),
                );
                return None;
            }
        };
        let mut ok = true;
        for item in &items {
            if item.as_str().is_none() {
                self.error(
                    item.span,
                    format!(
                        "`{element}` entries must be strings, found {}",
                        item.type_name()
                    ),
                );
                ok = false;
            }
        }
        ok.then_some(items)
    }

    /// Warns about `${` where it is plain text (Version 2008-10-17 or absent).
    pub(super) fn literal_variable_warning(&mut self, value: &Value) {
        let Some(s) = value.as_str() else { return };
        if self.version == Version::V2012 {
            return;
        }
        if let Some(at) = s.find("${") {
            let span = self.inner_span(value, at, at + 2);
            self.warning(
                span,
                "`${` is plain text here: policy variables need `\"Version\": \"2012-10-17\"`; set it, or this value is matched literally",
            );
        }
    }

    pub(super) fn action(
        &mut self,
        value: &Value,
        element: &str,
        negated: bool,
    ) -> Option<ListRule> {
        let items = self.strings(value, element)?;
        let mut matchers = Vec::with_capacity(items.len());
        let empty: &dyn crate::context::Context = &();
        for item in items {
            let s = item.as_str().unwrap_or_default();
            if self.version == Version::V2012 && s.contains("${") {
                self.error(
                    item.span,
                    format!("policy variables are not allowed in `{element}`: write the action name out"),
                );
                continue;
            }
            let valid = s == "*"
                || s.split_once(':').is_some_and(|(prefix, name)| {
                    !prefix.is_empty()
                        && !name.is_empty()
                        && prefix.bytes().all(|b| {
                            b.is_ascii_alphanumeric() || b == b'-' || b == b'*' || b == b'?'
                        })
                });
            if !valid {
                self.error(
                    item.span,
                    format!("`{s}` is not an action: write `service:ActionName` (e.g. `vpc-lattice-svcs:Invoke`) or `*`"),
                );
                continue;
            }
            let m = Matcher::glob(s, true);
            if !negated
                && !m.matches("vpc-lattice-svcs:invoke", true, empty)
                && !m.matches("vpc-lattice-svcs:connect", true, empty)
            {
                let msg = if s.eq_ignore_ascii_case("vpc-lattice:InvokeService") {
                    "`vpc-lattice:InvokeService` is not an action (a typo copied from a blog post): this entry never matches; use `vpc-lattice-svcs:Invoke`".to_owned()
                } else {
                    format!("action `{s}` can never match a VPC Lattice request (`vpc-lattice-svcs:Invoke` or `vpc-lattice-svcs:Connect`): this entry never applies; use `vpc-lattice-svcs:Invoke`")
                };
                self.warning(item.span, msg);
            }
            matchers.push(m);
        }
        Some(ListRule {
            negated,
            items: matchers,
        })
    }

    pub(super) fn resource(
        &mut self,
        value: &Value,
        element: &str,
        negated: bool,
    ) -> Option<ListRule> {
        let items = self.strings(value, element)?;
        let mut matchers = Vec::with_capacity(items.len());
        let mut for_service = service_lint::ResourceScope::default();
        for item in items {
            let s = item.as_str().unwrap_or_default();
            if self.kind == PolicyKind::Identity
                && s != "*"
                && crate::scalar::arn_parts(s).is_none_or(|p| p[0] != "arn")
            {
                self.error(
                    item.span,
                    format!("`{element}` entry `{s}` must be an ARN (`arn:partition:service:region:account:resource`) or `*` in an identity policy"),
                );
                continue;
            }
            self.literal_variable_warning(item);
            let variables = self.version == Version::V2012;
            let pieces = match parse_template(s, true, variables) {
                Ok(p) => p,
                Err(e) => {
                    let span = self.inner_span(item, e.start, e.end);
                    self.error(span, e.message);
                    continue;
                }
            };
            if variables && pieces.iter().any(|p| matches!(p, Piece::Var(_))) {
                if let Some(at) = variable_before_resource_part(s) {
                    let span = self.inner_span(item, at, at + 2);
                    self.error(
                        span,
                        format!("policy variables are allowed only in the resource part of an ARN (after the fifth `:`) in `{element}`: move it or write the value out"),
                    );
                    continue;
                }
            }
            let targets = self.targets;
            // A statement whose actions reach no Lattice request has its warning already.
            let lattice = lattice_resource::can_match(&pieces, targets);
            for_service.add(self.service, s, &pieces, targets, lattice);
            if (targets.invoke || targets.connect) && !lattice {
                let advice = lattice_resource::advice(s, targets);
                let effect = if negated {
                    "so it excludes nothing and the statement applies to every request"
                } else {
                    "so this entry never applies"
                };
                self.warning(
                    item.span,
                    format!("`{element}` entry `{s}` never matches a VPC Lattice service (`arn:aws:vpc-lattice:REGION:ACCOUNT:service/svc-ID/PATH`), {effect}: {advice}"),
                );
            }
            matchers.push(Matcher::new(pieces, false));
        }
        self.resource_scope(for_service, value, element, negated);
        Some(ListRule {
            negated,
            items: matchers,
        })
    }

    pub(super) fn principal(&mut self, value: &Value, element: &str) -> Option<PrincipalSet> {
        match &value.kind {
            Kind::String(s) if s == "*" => Some(PrincipalSet {
                any: true,
                entries: Vec::new(),
            }),
            Kind::String(s) => {
                self.error(
                    value.span,
                    format!("`{element}` must be `\"*\"` or an object such as `{{\"AWS\": \"{s}\"}}`; a bare string other than `\"*\"` is not allowed"),
                );
                None
            }
            Kind::Object(members) => {
                self.duplicates(members, || format!("`{element}`"));
                let mut set = PrincipalSet::default();
                let mut ok = true;
                for m in members {
                    let aws = match m.key.as_str() {
                        "AWS" => true,
                        "Service" | "Federated" | "CanonicalUser" => false,
                        other => {
                            let hint =
                                suggest(other, &["AWS", "Service", "Federated", "CanonicalUser"]);
                            self.error(
                                m.key_span,
                                format!("unknown principal type `{other}`: use `AWS`, `Service`, `Federated` or `CanonicalUser`{hint}"),
                            );
                            ok = false;
                            continue;
                        }
                    };
                    let Some(items) = self.strings(&m.value, element) else {
                        ok = false;
                        continue;
                    };
                    for item in items {
                        let s = item.as_str().unwrap_or_default();
                        if self.version == Version::V2012 && s.contains("${") {
                            self.error(
                                item.span,
                                format!("policy variables are not allowed in `{element}`: name the principal itself, or use `\"Principal\": \"*\"` with a condition on `aws:PrincipalArn`"),
                            );
                            ok = false;
                            continue;
                        }
                        if s == "*" {
                            if aws {
                                set.any = true;
                            }
                            continue;
                        }
                        if !aws {
                            if s.contains(['*', '?']) || s.is_empty() {
                                self.error(item.span, format!("invalid `{}` principal `{s}`: wildcards are only valid as the whole value `*`", m.key));
                                ok = false;
                            } else {
                                set.entries.push(Entry::Foreign);
                            }
                            continue;
                        }
                        match parse_aws(s) {
                            Ok(entry) => set.entries.push(entry),
                            Err(message) => {
                                self.error(item.span, message);
                                ok = false;
                            }
                        }
                    }
                }
                ok.then_some(set)
            }
            _ => {
                self.error(
                    value.span,
                    format!("`{element}` must be `\"*\"` or an object such as `{{\"AWS\": \"arn:aws:iam::111122223333:role/name\"}}`, found {}", value.type_name()),
                );
                None
            }
        }
    }
}

/// Byte offset of the first real `${` (not an escape) that sits before the sixth ARN part.
fn variable_before_resource_part(s: &str) -> Option<usize> {
    let resource_start = {
        let mut colons = 0;
        let mut at = None;
        for (i, b) in s.bytes().enumerate() {
            if b == b':' {
                colons += 1;
                if colons == 5 {
                    at = Some(i + 1);
                    break;
                }
            }
        }
        at?
    };
    let mut from = 0;
    while let Some(rel) = s[from..].find("${") {
        let at = from + rel;
        let escape = ["${*}", "${?}", "${$}"]
            .iter()
            .any(|e| s[at..].starts_with(e));
        if !escape && at < resource_start {
            return Some(at);
        }
        from = at + 2;
    }
    None
}
