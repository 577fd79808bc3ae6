//! Condition operator names: `[ForAnyValue:|ForAllValues:]Base[IfExists]`.

/// How a multivalued request value is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetQualifier {
    None,
    ForAnyValue,
    ForAllValues,
}

/// Ordering tests of the Numeric and Date families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// The operator family, which decides how policy values are parsed and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

/// A parsed operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Operator {
    pub(crate) set: SetQualifier,
    pub(crate) family: Family,
    pub(crate) negated: bool,
    pub(crate) if_exists: bool,
}

const BASES: &[(&str, Family, bool)] = &[
    ("StringEquals", Family::StringEquals, false),
    ("StringNotEquals", Family::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        Family::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Family::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", Family::StringLike, false),
    ("StringNotLike", Family::StringLike, true),
    ("NumericEquals", Family::Numeric(Cmp::Eq), false),
    ("NumericNotEquals", Family::Numeric(Cmp::Eq), true),
    ("NumericLessThan", Family::Numeric(Cmp::Lt), false),
    ("NumericLessThanEquals", Family::Numeric(Cmp::Le), false),
    ("NumericGreaterThan", Family::Numeric(Cmp::Gt), false),
    ("NumericGreaterThanEquals", Family::Numeric(Cmp::Ge), false),
    ("DateEquals", Family::Date(Cmp::Eq), false),
    ("DateNotEquals", Family::Date(Cmp::Eq), true),
    ("DateLessThan", Family::Date(Cmp::Lt), false),
    ("DateLessThanEquals", Family::Date(Cmp::Le), false),
    ("DateGreaterThan", Family::Date(Cmp::Gt), false),
    ("DateGreaterThanEquals", Family::Date(Cmp::Ge), false),
    ("Bool", Family::Bool, false),
    ("BinaryEquals", Family::Binary, false),
    ("IpAddress", Family::Ip, false),
    ("NotIpAddress", Family::Ip, true),
    ("ArnEquals", Family::Arn, false),
    ("ArnLike", Family::Arn, false),
    ("ArnNotEquals", Family::Arn, true),
    ("ArnNotLike", Family::Arn, true),
    ("Null", Family::Null, false),
];

/// Why an operator name was refused (the message says what to write instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OperatorError {
    #[error("`NullIfExists` is not an operator: `Null` already tests whether the key exists; use `Null`")]
    NullIfExists,
    #[error(
        "unknown condition operator `{0}`: did you mean `{1}`? operator names are case-sensitive"
    )]
    WrongCase(String, String),
    #[error("unknown set qualifier in `{0}`: use `ForAnyValue:` or `ForAllValues:`")]
    UnknownQualifier(String),
    #[error("unknown condition operator `{0}`: use an IAM operator such as `StringEquals`, `StringLike`, `ArnLike`, `IpAddress`, `NumericLessThan`, `DateGreaterThan`, `Bool` or `Null`")]
    Unknown(String),
}

impl Operator {
    pub(crate) fn parse(name: &str) -> Result<Operator, OperatorError> {
        let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (SetQualifier::ForAnyValue, r)
        } else if let Some(r) = name.strip_prefix("ForAllValues:") {
            (SetQualifier::ForAllValues, r)
        } else if name.contains(':') {
            return Err(OperatorError::UnknownQualifier(name.to_owned()));
        } else {
            (SetQualifier::None, name)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        if let Some(&(_, family, negated)) = BASES.iter().find(|(n, _, _)| *n == base) {
            if family == Family::Null && if_exists {
                return Err(OperatorError::NullIfExists);
            }
            return Ok(Operator {
                set,
                family,
                negated,
                if_exists,
            });
        }
        let lower = rest.to_ascii_lowercase();
        for (n, _, _) in BASES {
            for suffix in ["", "IfExists"] {
                let candidate = format!("{n}{suffix}");
                if candidate.to_ascii_lowercase() == lower {
                    let prefix = &name[..name.len() - rest.len()];
                    return Err(OperatorError::WrongCase(
                        name.to_owned(),
                        format!("{prefix}{candidate}"),
                    ));
                }
            }
        }
        Err(OperatorError::Unknown(name.to_owned()))
    }

    /// Whether policy values may contain `${…}` variables.
    pub(crate) fn allows_variables(&self) -> bool {
        matches!(
            self.family,
            Family::StringEquals
                | Family::StringEqualsIgnoreCase
                | Family::StringLike
                | Family::Arn
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_parse_with_qualifiers_and_if_exists() {
        let op = Operator::parse("ForAllValues:StringNotLikeIfExists").unwrap();
        assert_eq!(op.set, SetQualifier::ForAllValues);
        assert_eq!(op.family, Family::StringLike);
        assert!(op.negated && op.if_exists);
        let op = Operator::parse("NumericLessThanEquals").unwrap();
        assert_eq!(op.family, Family::Numeric(Cmp::Le));
        assert!(!op.negated);
    }

    #[test]
    fn null_if_exists_is_an_error() {
        assert_eq!(
            Operator::parse("NullIfExists"),
            Err(OperatorError::NullIfExists)
        );
    }

    #[test]
    fn unknown_operators_and_qualifiers_are_errors() {
        assert!(matches!(
            Operator::parse("stringequals"),
            Err(OperatorError::WrongCase(_, s)) if s == "StringEquals"
        ));
        assert!(matches!(
            Operator::parse("ForSomeValues:StringEquals"),
            Err(OperatorError::UnknownQualifier(_))
        ));
        assert!(matches!(
            Operator::parse("StringStartsWith"),
            Err(OperatorError::Unknown(_))
        ));
    }
}
