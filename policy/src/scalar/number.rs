//! Decimal numbers compared by value as exact decimals (no `f64`: `0.1 + 0.2` traps and
//! 2^53 limits do not apply).

use std::cmp::Ordering;

/// A decimal: sign, integer digits without leading zeros, fraction digits without trailing
/// zeros. Zero is never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DecimalRef<'a> {
    neg: bool,
    int: &'a str,
    frac: &'a str,
}

/// An owned decimal from a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decimal {
    neg: bool,
    int: Box<str>,
    frac: Box<str>,
}

impl Decimal {
    pub(crate) fn as_ref(&self) -> DecimalRef<'_> {
        DecimalRef {
            neg: self.neg,
            int: &self.int,
            frac: &self.frac,
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Decimal> {
        let d = parse_decimal(text)?;
        Some(Decimal {
            neg: d.neg,
            int: d.int.into(),
            frac: d.frac.into(),
        })
    }
}

/// Parses `[+-]digits[.digits]`.
pub(crate) fn parse_decimal(text: &str) -> Option<DecimalRef<'_>> {
    let (neg, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => {
            if f.is_empty() {
                return None;
            }
            (i, f)
        }
        None => (body, ""),
    };
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let neg = neg && !(int.is_empty() && frac.is_empty());
    Some(DecimalRef { neg, int, frac })
}

impl Ord for DecimalRef<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        let magnitude = self
            .int
            .len()
            .cmp(&other.int.len())
            .then_with(|| self.int.cmp(other.int))
            .then_with(|| self.frac.cmp(other.frac));
        match (self.neg, other.neg) {
            (false, false) => magnitude,
            (true, true) => magnitude.reverse(),
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
        }
    }
}

impl PartialOrd for DecimalRef<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        parse_decimal(a).unwrap().cmp(&parse_decimal(b).unwrap())
    }

    #[test]
    fn numbers_compare_by_value_not_text() {
        assert_eq!(cmp("999", "1000"), Ordering::Less);
        assert_eq!(cmp("443", "443.5"), Ordering::Less);
        assert_eq!(cmp("443.0", "443"), Ordering::Equal);
        assert_eq!(cmp("007", "7"), Ordering::Equal);
        assert_eq!(cmp("-0", "0"), Ordering::Equal);
        assert_eq!(cmp("-2", "-10"), Ordering::Greater);
        assert_eq!(cmp("0.05", "0.5"), Ordering::Less);
        assert_eq!(cmp("+1", "1"), Ordering::Equal);
    }

    #[test]
    fn large_numbers_keep_full_precision() {
        assert_eq!(
            cmp("9007199254740993", "9007199254740992"),
            Ordering::Greater
        );
        assert_eq!(cmp("0.30000000000000001", "0.3"), Ordering::Greater);
    }

    #[test]
    fn malformed_numbers_are_rejected() {
        for bad in ["", "-", "1.", ".5", "1e3", "0x10", "1,000", " 1", "1.2.3"] {
            assert!(parse_decimal(bad).is_none(), "{bad}");
        }
    }
}
