//! Compiled conditions and their evaluation (IAM condition logic, iam.md §6).

use crate::context::{Context, Values};
use crate::key::KeyName;
use crate::operator::{Cmp, Family, Operator, SetQualifier};
use crate::pattern::Matcher;
use crate::scalar::{arn_parts, eq_base64, parse_date, parse_decimal, Cidr, Decimal, Instant};
use std::cmp::Ordering;
use std::net::IpAddr;
use std::sync::Arc;

use crate::source::ConditionSource;

/// One `operator: {key: values}` entry (several keys under one operator become several
/// conditions: they are ANDed anyway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Condition {
    pub(crate) op: Operator,
    pub(crate) key: KeyName,
    pub(crate) values: PolicyValues,
    /// The text, for explanations; never read while evaluating.
    pub(crate) source: Arc<ConditionSource>,
}

/// The policy values, parsed for the operator's family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PolicyValues {
    /// `fold`: `…IgnoreCase`.
    Str {
        fold: bool,
        matchers: Vec<Matcher>,
    },
    Num(Vec<Decimal>),
    Date(Vec<Instant>),
    /// `None`: a value that is neither `true` nor `false` (never matches; validation warns).
    Bool(Vec<Option<bool>>),
    Binary(Vec<Box<[u8]>>),
    Ip(Vec<Cidr>),
    Arn(Vec<ArnPattern>),
    /// `true`: the key must be absent.
    Null(Vec<bool>),
}

/// An ARN pattern split into its six parts, each globbed on its own. `None`: the policy value
/// is not an ARN and matches nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArnPattern(pub(crate) Option<Box<[Matcher; 6]>>);

impl PolicyValues {
    fn is_empty(&self) -> bool {
        match self {
            PolicyValues::Str { matchers, .. } => matchers.is_empty(),
            PolicyValues::Num(v) => v.is_empty(),
            PolicyValues::Date(v) => v.is_empty(),
            PolicyValues::Bool(v) => v.is_empty(),
            PolicyValues::Binary(v) => v.is_empty(),
            PolicyValues::Ip(v) => v.is_empty(),
            PolicyValues::Arn(v) => v.is_empty(),
            PolicyValues::Null(v) => v.is_empty(),
        }
    }
}

fn cmp_holds(ord: Ordering, cmp: Cmp) -> bool {
    match cmp {
        Cmp::Eq => ord == Ordering::Equal,
        Cmp::Lt => ord == Ordering::Less,
        Cmp::Le => ord != Ordering::Greater,
        Cmp::Gt => ord == Ordering::Greater,
        Cmp::Ge => ord != Ordering::Less,
    }
}

impl Condition {
    /// Whether the condition holds. Total: unparsable request values simply match no policy
    /// value.
    pub(crate) fn holds(&self, ctx: &dyn Context) -> bool {
        let got = ctx.get(&self.key.key());
        if let PolicyValues::Null(wants) = &self.values {
            let present = match got {
                None => false,
                Some(Values::One(_)) => true,
                Some(Values::Many(list)) => !list.is_empty(),
            };
            // `Null: true` holds iff the key is absent; several values are ORed.
            return wants.iter().any(|&want_absent| want_absent != present);
        }
        let got = match got {
            Some(Values::Many(list)) if list.is_empty() && self.op.set != SetQualifier::None => {
                None
            }
            other => other,
        };
        match (self.op.set, got) {
            (set, None) => {
                if self.op.if_exists {
                    return true;
                }
                match set {
                    SetQualifier::None => self.op.negated,
                    SetQualifier::ForAnyValue => false,
                    SetQualifier::ForAllValues => true,
                }
            }
            (_, Some(Values::One(v))) => self.single(v, ctx),
            // A plain operator on a list-valued request value: AWS requires a set operator;
            // Trellis never matches (whatever the polarity), like iam-simulate.
            (SetQualifier::None, Some(Values::Many(_))) => false,
            (SetQualifier::ForAnyValue, Some(Values::Many(list))) => {
                (0..list.len()).any(|i| self.single(list.get(i), ctx))
            }
            (SetQualifier::ForAllValues, Some(Values::Many(list))) => {
                (0..list.len()).all(|i| self.single(list.get(i), ctx))
            }
        }
    }

    /// One request value against the policy values: OR for positive operators, NOR for
    /// negated ones. An empty policy list matches no present value.
    fn single(&self, value: &str, ctx: &dyn Context) -> bool {
        if self.values.is_empty() {
            return false;
        }
        let any = match &self.values {
            PolicyValues::Str { fold, matchers } => {
                matchers.iter().any(|m| m.matches(value, *fold, ctx))
            }
            PolicyValues::Num(policy) => {
                let Family::Numeric(cmp) = self.op.family else {
                    return false;
                };
                match parse_decimal(value) {
                    Some(v) => policy.iter().any(|p| cmp_holds(v.cmp(&p.as_ref()), cmp)),
                    None => false,
                }
            }
            PolicyValues::Date(policy) => {
                let Family::Date(cmp) = self.op.family else {
                    return false;
                };
                match parse_date(value) {
                    Some(v) => policy.iter().any(|p| cmp_holds(v.cmp(p), cmp)),
                    None => false,
                }
            }
            PolicyValues::Bool(policy) => {
                let v = if value.eq_ignore_ascii_case("true") {
                    Some(true)
                } else if value.eq_ignore_ascii_case("false") {
                    Some(false)
                } else {
                    None
                };
                v.is_some() && policy.contains(&v)
            }
            PolicyValues::Binary(policy) => policy.iter().any(|p| eq_base64(value, p)),
            PolicyValues::Ip(policy) => match value.parse::<IpAddr>() {
                Ok(ip) => policy.iter().any(|c| c.contains(ip)),
                Err(_) => false,
            },
            PolicyValues::Arn(policy) => match arn_parts(value) {
                Some(parts) => policy.iter().any(|p| match &p.0 {
                    Some(matchers) => matchers
                        .iter()
                        .zip(parts)
                        .all(|(m, part)| m.matches(part, false, ctx)),
                    None => false,
                }),
                None => false,
            },
            PolicyValues::Null(_) => false,
        };
        any != self.op.negated
    }
}

#[cfg(test)]
mod tests;
