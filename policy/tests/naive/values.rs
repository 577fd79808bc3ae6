//! Typed condition values: numbers, dates, IP ranges, base64 (iam.md §6.3).

use std::net::IpAddr;

/// An integer or decimal (`-12`, `443.5`); compared by value.
pub fn number(s: &str) -> Option<f64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
        return None;
    }
    s.parse().ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn fixed(s: &str, len: usize) -> Option<i64> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// An instant in nanoseconds since the epoch: epoch seconds (`1795435200`) or W3C ISO 8601
/// (`2030-01-01`, `2030-01-01T00:00Z`, `2030-01-01T00:00:00.5+02:00`).
pub fn date(s: &str) -> Option<i128> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return Some(s.parse::<i128>().ok()? * 1_000_000_000);
    }
    let (day, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut ymd = day.split('-');
    let y = fixed(ymd.next()?, 4)?;
    let m = fixed(ymd.next()?, 2)?;
    let d = fixed(ymd.next()?, 2)?;
    if ymd.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut nanos = i128::from(days_from_civil(y, m, d)) * 86_400 * 1_000_000_000;
    let Some(time) = time else {
        return Some(nanos);
    };
    let (clock, offset) = if let Some(c) = time.strip_suffix('Z') {
        (c, 0i64)
    } else {
        let pos = time.rfind(['+', '-'])?;
        let (c, off) = time.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':')?;
        (c, sign * (fixed(oh, 2)? * 3600 + fixed(om, 2)? * 60))
    };
    let mut hms = clock.split(':');
    let h = fixed(hms.next()?, 2)?;
    let mi = fixed(hms.next()?, 2)?;
    let (sec, frac) = match hms.next() {
        Some(sec) => match sec.split_once('.') {
            Some((s, f)) => (fixed(s, 2)?, f),
            None => (fixed(sec, 2)?, ""),
        },
        None => (0, ""),
    };
    if hms.next().is_some() || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    let frac_nanos: i128 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    nanos += i128::from(h * 3600 + mi * 60 + sec - offset) * 1_000_000_000 + frac_nanos;
    Some(nanos)
}

/// A CIDR (or a bare address: /32, /128) as (network address, prefix length).
pub fn cidr(s: &str) -> Option<(IpAddr, u32)> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) => l.parse().ok()?,
        Some(_) => return None,
        None => max,
    };
    (len <= max).then_some((addr, len))
}

/// Whether `addr` lies in the range; an IPv4 address is never in an IPv6 range and vice versa.
pub fn in_range(addr: IpAddr, range: (IpAddr, u32)) -> bool {
    let bits = |a: IpAddr| -> (u128, u32) {
        match a {
            IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
            IpAddr::V6(v) => (u128::from(v), 128),
        }
    };
    let (a, width) = bits(addr);
    let (n, nwidth) = bits(range.0);
    if width != nwidth {
        return false;
    }
    let shift = width - range.1;
    shift >= 128 || (a >> shift) == (n >> shift) || range.1 == 0
}

/// Standard base64 with padding, decoded bit by bit.
pub fn base64(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if !s.len().is_multiple_of(4) {
        return None;
    }
    let body = s.trim_end_matches('=');
    if s.len() - body.len() > 2 {
        return None;
    }
    let mut bits: Vec<bool> = Vec::new();
    for c in body.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)?;
        for i in (0..6).rev() {
            bits.push((v >> i) & 1 == 1);
        }
    }
    let bytes: Vec<u8> = bits
        .chunks(8)
        .filter(|c| c.len() == 8)
        .map(|c| c.iter().fold(0u8, |acc, &b| (acc << 1) | u8::from(b)))
        .collect();
    Some(bytes)
}
