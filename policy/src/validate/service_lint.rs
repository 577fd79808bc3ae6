//! `policy check --service-arn`: statements that can never apply to this service's requests,
//! and caller values no caller can have.
//!
//! Policies are often started from documentation, whose placeholders
//! (`arn:aws:vpc-lattice:region:account-id:service/service-id`, `arn:aws:iam::account-id:role/…`)
//! IAM accepts and then never match — in a `Deny`, a silent hole. The generic checks already
//! flag a `Resource` no Lattice service has; knowing the service also finds a `Resource` of
//! another service, account or region. Caller values are checked against the shapes IAM gives
//! them: a 12-digit account, `o-` organization ids, `arn:…:iam::ACCOUNT:role/…|user/…|root`.

use super::lattice_resource::{
    self, any_char, glob, id_char, intersects, service_difference, Step, Targets, PARTITIONS,
};
use super::{Validator, Version};
use crate::json::Value;
use crate::key::{GlobalKey, Key, KeyKind};
use crate::operator::{Family, Operator};
use crate::pattern::{parse_template, Piece};
use std::borrow::Cow;

/// What the entries of one `Resource`/`NotResource` reach of the checked service.
#[derive(Debug, Default)]
pub(super) struct ResourceScope {
    /// Some entry can match a request of the service.
    matching: bool,
    /// The first entry that names a Lattice service, but not this one.
    other: Option<String>,
}

impl ResourceScope {
    /// Records one entry; `lattice` says whether it can match any Lattice service at all
    /// (when not, the generic warning already names it).
    pub(super) fn add(
        &mut self,
        service: Option<&str>,
        written: &str,
        pieces: &[Piece],
        targets: Targets,
        lattice: bool,
    ) {
        let Some(service) = service else { return };
        if !lattice || self.matching {
            return;
        }
        if lattice_resource::can_match_service(pieces, targets, service) {
            self.matching = true;
        } else if self.other.is_none() {
            self.other = Some(written.to_owned());
        }
    }
}

/// The shape of a caller value, for the keys it is known for.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Account,
    OrgId,
    PrincipalArn,
    ServiceArn,
}

fn digits(steps: &mut Vec<Step>, n: usize) {
    steps.extend(std::iter::repeat_n(Step::One(|c| c.is_ascii_digit()), n));
}

fn literal(steps: &mut Vec<Step>, s: &str) {
    steps.extend(s.chars().map(Step::Char));
}

/// Every language a value of `shape` belongs to (one of them must intersect the pattern).
fn languages(shape: Shape, service: &str) -> Vec<Vec<Step>> {
    match shape {
        Shape::Account => {
            let mut steps = Vec::new();
            digits(&mut steps, 12);
            vec![steps]
        }
        Shape::OrgId => {
            let mut steps = Vec::new();
            literal(&mut steps, "o-");
            steps.extend(std::iter::repeat_n(Step::One(id_char), 10));
            steps.push(Step::Many(id_char));
            vec![steps]
        }
        Shape::PrincipalArn => PARTITIONS
            .iter()
            .flat_map(|partition| {
                ["root", "role/", "user/"].into_iter().map(move |tail| {
                    let mut steps = Vec::new();
                    literal(&mut steps, &format!("arn:{partition}:iam::"));
                    digits(&mut steps, 12);
                    literal(&mut steps, ":");
                    literal(&mut steps, tail);
                    if tail != "root" {
                        steps.extend([Step::One(any_char), Step::Many(any_char)]);
                    }
                    steps
                })
            })
            .collect(),
        Shape::ServiceArn => vec![service.chars().map(Step::Char).collect()],
    }
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Why a value of `shape` cannot be what it is compared with, and what to write instead.
fn advice(shape: Shape, written: &str, service: &str) -> String {
    let parts = crate::scalar::arn_parts(written);
    match shape {
        Shape::Account if written.starts_with("o-") => {
            "that is an organization id: compare it with `aws:PrincipalOrgID`".to_owned()
        }
        Shape::Account => "write the caller's 12-digit account id".to_owned(),
        Shape::OrgId if is_account(written) => {
            "that is an account id, not an organization: compare it with `aws:PrincipalAccount`, or write the organization id (`o-…`, from `aws organizations describe-organization`)".to_owned()
        }
        Shape::OrgId => "an organization id is `o-` and 10 to 32 lower-case letters or digits (`aws organizations describe-organization`)".to_owned(),
        Shape::PrincipalArn => match parts {
            Some(p) if p[2] == "sts" => "a role session's `aws:PrincipalArn` is its role's ARN: write `arn:aws:iam::ACCOUNT:role/NAME` (a session is named by `Principal` or `aws:userid`)".to_owned(),
            Some(p) if !p[4].contains(['*', '?']) && !is_account(p[4]) => {
                format!("account `{}` must be the caller's 12-digit account id (or `*` with `ArnLike`)", p[4])
            }
            _ => "write `arn:aws:iam::ACCOUNT:role/NAME`, `arn:aws:iam::ACCOUNT:user/NAME` or `arn:aws:iam::ACCOUNT:root`".to_owned(),
        },
        Shape::ServiceArn => format!("{}; write `{service}`", service_difference(written, service)),
    }
}

impl Validator<'_> {
    /// Warns, at the element, when no entry of a `Resource`/`NotResource` can match the
    /// checked service while some names another Lattice service.
    pub(super) fn resource_scope(
        &mut self,
        scope: ResourceScope,
        value: &Value,
        element: &str,
        negated: bool,
    ) {
        let (Some(service), false, Some(other)) = (self.service, scope.matching, scope.other)
        else {
            return;
        };
        let difference = service_difference(&other, service);
        let effect = if negated {
            format!("so it excludes none of them and the statement applies to every request of `{service}`")
        } else {
            format!("so the statement never applies to a request of `{service}`")
        };
        self.warning(
            value.span,
            format!("no `{element}` entry matches this service, {effect}: `{other}` is another service ({difference}); write `{service}/PATH` (`/*` for every path) or `*` (in a service-network policy, a statement for another service of the network is expected: check it with that service's ARN)"),
        );
    }

    /// Warns about `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalOrgID` (and
    /// `vpc-lattice-svcs:ServiceArn`) values that no request to this service can carry.
    pub(super) fn caller_values(
        &mut self,
        op: Operator,
        op_name: &str,
        key: &Key<'_>,
        texts: &[(Cow<'_, str>, &Value)],
    ) {
        let Some(service) = self.service else { return };
        let (shape, what) = match key.kind {
            KeyKind::Global(GlobalKey::PrincipalAccount) => {
                (Shape::Account, "no caller's account (12 digits)")
            }
            KeyKind::Global(GlobalKey::PrincipalOrgId) => (
                Shape::OrgId,
                "no organization id (`o-` and 10 to 32 letters or digits)",
            ),
            KeyKind::Global(GlobalKey::PrincipalArn) => (
                Shape::PrincipalArn,
                "no caller's ARN (`arn:aws:iam::ACCOUNT:role/NAME`, `…:user/NAME` or `…:root`)",
            ),
            KeyKind::Global(GlobalKey::LatticeServiceArn) => {
                (Shape::ServiceArn, "not this service's ARN")
            }
            _ => return,
        };
        let wildcards = match op.family {
            Family::StringEquals | Family::StringEqualsIgnoreCase => false,
            Family::StringLike | Family::Arn => true,
            _ => return,
        };
        let variables = self.version == Version::V2012;
        let langs = languages(shape, service);
        for (text, v) in texts {
            let folded = if op.family == Family::StringEqualsIgnoreCase {
                Cow::Owned(text.to_ascii_lowercase())
            } else {
                Cow::Borrowed(&**text)
            };
            // A value that does not parse has its error already.
            let Ok(pieces) = parse_template(&folded, wildcards, variables) else {
                continue;
            };
            if text == "*" && wildcards {
                continue;
            }
            let pattern = glob(&pieces);
            if langs.iter().any(|lang| intersects(&pattern, lang)) {
                continue;
            }
            let effect = if op.negated {
                format!("so `{op_name}` excludes no request with it")
            } else {
                "so this value never matches".to_owned()
            };
            let advice = advice(shape, text, service);
            self.warning(
                v.span,
                format!(
                    "`{}` value `{text}` is {what}, {effect}: {advice}",
                    key_spelling(key)
                ),
            );
        }
    }
}

fn key_spelling(key: &Key<'_>) -> &'static str {
    match key.kind {
        KeyKind::Global(g) => g.spelling(),
        _ => "",
    }
}

#[cfg(test)]
mod tests;
