//! Request timestamps: `X-Amz-Date` (`YYYYMMDD'T'HHMMSS'Z'`) and, as botocore sends when the
//! caller set one, an RFC 7231/2822 `Date` header. Kept to integer seconds since the epoch; the
//! calendar arithmetic (plain integer work, no allocation) is the `time` crate's.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// Seconds since the Unix epoch (UTC), plus the ISO-8601 basic form used in the string to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AmzDate {
    pub(crate) epoch: i64,
    /// `YYYYMMDDTHHMMSSZ`
    pub(crate) iso: [u8; 16],
}

impl AmzDate {
    /// The `YYYYMMDD` day, as used in the credential scope.
    pub(crate) fn day(&self) -> &[u8] {
        &self.iso[..8]
    }

    pub(crate) fn iso_str(&self) -> &str {
        // Built only from ASCII digits and 'T'/'Z'.
        std::str::from_utf8(&self.iso).unwrap_or("00000000T000000Z")
    }

    pub(crate) fn from_epoch(epoch: i64) -> Self {
        let mut iso = *b"00000000T000000Z";
        if let Ok(t) = OffsetDateTime::from_unix_timestamp(epoch) {
            put_digits(&mut iso[0..4], t.year().clamp(0, 9999) as u64);
            put_digits(&mut iso[4..6], u64::from(u8::from(t.month())));
            put_digits(&mut iso[6..8], u64::from(t.day()));
            put_digits(&mut iso[9..11], u64::from(t.hour()));
            put_digits(&mut iso[11..13], u64::from(t.minute()));
            put_digits(&mut iso[13..15], u64::from(t.second()));
        }
        Self { epoch, iso }
    }

    /// Parses `YYYYMMDD'T'HHMMSS'Z'` strictly (what every signer emits).
    pub(crate) fn parse_iso(s: &[u8]) -> Option<Self> {
        let iso: [u8; 16] = s.try_into().ok()?;
        let [y0, y1, y2, y3, mo0, mo1, d0, d1, b'T', h0, h1, mi0, mi1, s0, s1, b'Z'] = iso else {
            return None;
        };
        let epoch = to_epoch(
            digits(&[y0, y1, y2, y3])?,
            digits(&[mo0, mo1])?,
            digits(&[d0, d1])?,
            digits(&[h0, h1])?,
            digits(&[mi0, mi1])?,
            digits(&[s0, s1])?,
        )?;
        Some(Self { epoch, iso })
    }

    /// Parses an HTTP `Date`: `Sun, 30 Aug 2015 12:36:00 GMT` (IMF-fixdate) or botocore's
    /// `Sun, 30 Aug 2015 12:36:00 -0000`; the weekday is not checked.
    pub(crate) fn parse_http_date(s: &[u8]) -> Option<Self> {
        let s = std::str::from_utf8(s).ok()?.trim();
        let rest = s.split_once(", ").map_or(s, |(_, r)| r);
        let mut it = rest.split_ascii_whitespace();
        let d = digits(it.next()?.as_bytes())?;
        let mo = month(it.next()?)?;
        let y = digits(it.next()?.as_bytes())?;
        let t = it.next()?.as_bytes();
        let zone = it.next()?;
        if it.next().is_some() || !matches!(zone, "GMT" | "UTC" | "+0000" | "-0000" | "Z") {
            return None;
        }
        let [h0, h1, b':', mi0, mi1, b':', s0, s1] = *t else {
            return None;
        };
        let epoch = to_epoch(
            y,
            mo,
            d,
            digits(&[h0, h1])?,
            digits(&[mi0, mi1])?,
            digits(&[s0, s1])?,
        )?;
        Some(Self::from_epoch(epoch))
    }
}

fn month(s: &str) -> Option<u32> {
    const M: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    M.iter().position(|m| *m == s).map(|i| i as u32 + 1)
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 4 {
        return None;
    }
    s.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

fn put_digits(out: &mut [u8], mut v: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Seconds since the epoch of a UTC calendar time; `None` for an impossible date or time.
fn to_epoch(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    let month = Month::try_from(u8::try_from(mo).ok()?).ok()?;
    let date =
        Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?).ok()?;
    let time = Time::from_hms(
        u8::try_from(h).ok()?,
        u8::try_from(mi).ok()?,
        u8::try_from(s).ok()?,
    )
    .ok()?;
    Some(
        PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_date_round_trips_through_epoch_seconds() {
        let d = AmzDate::parse_iso(b"20150830T123600Z").unwrap();
        assert_eq!(d.epoch, 1_440_938_160);
        assert_eq!(AmzDate::from_epoch(d.epoch), d);
        assert_eq!(d.day(), b"20150830");
        let leap = AmzDate::parse_iso(b"20240229T235959Z").unwrap();
        assert_eq!(
            AmzDate::from_epoch(leap.epoch).iso_str(),
            "20240229T235959Z"
        );
    }

    #[test]
    fn malformed_iso_dates_are_refused() {
        for bad in [
            &b"20150830T123600"[..],
            b"20150830 123600Z",
            b"20151330T123600Z",
            b"20150230T123600Z",
            b"2015083AT123600Z",
            b"20150830T253600Z",
        ] {
            assert!(AmzDate::parse_iso(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn http_date_header_forms_botocore_sends_are_understood() {
        let want = AmzDate::parse_iso(b"20150830T123600Z").unwrap();
        assert_eq!(
            AmzDate::parse_http_date(b"Sun, 30 Aug 2015 12:36:00 -0000"),
            Some(want)
        );
        assert_eq!(
            AmzDate::parse_http_date(b"Sun, 30 Aug 2015 12:36:00 GMT"),
            Some(want)
        );
        assert_eq!(
            AmzDate::parse_http_date(b"Sun, 30 Aug 2015 12:36:00 +0200"),
            None
        );
    }
}
