//! W3C ISO 8601 dates and epoch seconds, both turned into one instant so that
//! `1795435200` equals `2026-11-23T12:00:00Z`.

/// Seconds since the Unix epoch and nanoseconds within the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Instant {
    secs: i64,
    nanos: u32,
}

/// Parses epoch seconds (`1795435200`, `-5`, `1795435200.5`) or an ISO 8601 date/date-time
/// (`2030-01-01`, `2030-01-01T00:00Z`, `2030-01-01T00:00:00.123+02:00`, `…+0200`).
/// A date-time without a zone is UTC.
pub(crate) fn parse_date(text: &str) -> Option<Instant> {
    let b = text.as_bytes();
    if b.len() >= 5 && b[4] == b'-' {
        return iso(text);
    }
    epoch(text)
}

fn epoch(text: &str) -> Option<Instant> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() || int.len() > 15 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if body.contains('.') && frac.is_empty() {
        return None;
    }
    let secs: i64 = int.parse().ok()?;
    let nanos = fraction_nanos(frac)?;
    Some(if neg {
        if nanos == 0 {
            Instant {
                secs: -secs,
                nanos: 0,
            }
        } else {
            Instant {
                secs: -secs - 1,
                nanos: 1_000_000_000 - nanos,
            }
        }
    } else {
        Instant { secs, nanos }
    })
}

fn fraction_nanos(frac: &str) -> Option<u32> {
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos = 0u32;
    for (i, b) in frac.bytes().enumerate() {
        if i < 9 {
            nanos = nanos * 10 + u32::from(b - b'0');
        }
    }
    for _ in frac.len()..9 {
        nanos *= 10;
    }
    Some(nanos)
}

fn num(b: &[u8], from: usize, len: usize) -> Option<i64> {
    let digits = b.get(from..from + len)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0i64, |n, d| n * 10 + i64::from(d - b'0')),
    )
}

fn iso(text: &str) -> Option<Instant> {
    let b = text.as_bytes();
    let year = num(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = num(b, 5, 2)?;
    let day = num(b, 8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut secs = days_from_civil(year, month, day) * 86_400;
    let mut nanos = 0;
    if b.len() == 10 {
        return Some(Instant { secs, nanos });
    }
    if !matches!(b[10], b'T' | b't') {
        return None;
    }
    let hour = num(b, 11, 2)?;
    if b.get(13) != Some(&b':') {
        return None;
    }
    let minute = num(b, 14, 2)?;
    let mut at = 16;
    let mut second = 0;
    if b.get(at) == Some(&b':') {
        second = num(b, at + 1, 2)?;
        at += 3;
        if b.get(at) == Some(&b'.') {
            let start = at + 1;
            let mut end = start;
            while b.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
            if end == start {
                return None;
            }
            nanos = fraction_nanos(&text[start..end])?;
            at = end;
        }
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    secs += hour * 3600 + minute * 60 + second;
    let offset = match &b[at..] {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (h, m) = match rest {
                [_, _] => (num(rest, 0, 2)?, 0),
                [_, _, b':', _, _] => (num(rest, 0, 2)?, num(rest, 3, 2)?),
                [_, _, _, _] => (num(rest, 0, 2)?, num(rest, 2, 2)?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let o = h * 3600 + m * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    Some(Instant {
        secs: secs - offset,
        nanos,
    })
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Instant {
        parse_date(text).unwrap_or_else(|| panic!("{text} must parse"))
    }

    #[test]
    fn epoch_seconds_equal_the_same_iso_instant() {
        assert_eq!(at("1795435200"), at("2026-11-23T12:00:00Z"));
        assert_eq!(at("0"), at("1970-01-01"));
    }

    #[test]
    fn offsets_are_applied() {
        assert_eq!(at("2030-01-01T02:00:00+02:00"), at("2030-01-01T00:00:00Z"));
        assert_eq!(at("2030-01-01T02:00:00+0200"), at("2030-01-01T00:00:00Z"));
        assert_eq!(at("2029-12-31T22:00-02"), at("2030-01-01T00:00Z"));
        assert_eq!(at("2030-01-01T00:00:00"), at("2030-01-01"));
    }

    #[test]
    fn fractions_order_instants() {
        assert!(at("2030-01-01T00:00:00.5Z") > at("2030-01-01T00:00:00Z"));
        assert!(at("1.5") > at("1"));
        assert!(at("-1.5") < at("-1"));
        assert_eq!(
            at("-1.5"),
            Instant {
                secs: -2,
                nanos: 500_000_000
            }
        );
    }

    #[test]
    fn malformed_dates_are_rejected() {
        for bad in [
            "2030-13-01",
            "2030-02-30",
            "2029-02-29",
            "2030-1-01",
            "2030-01-01T25:00Z",
            "2030-01-01 00:00",
            "2030-01-01T00:00:00X",
            "yesterday",
            "",
            "1.",
            "2030-01-01T00",
        ] {
            assert!(parse_date(bad).is_none(), "{bad}");
        }
        assert!(parse_date("2028-02-29").is_some());
    }
}
