//! Flag value syntaxes: durations (`5m`, `10s`, `250ms`, `1.5s`, `0`) and VPC Lattice ARNs.

use std::time::Duration;

/// Parses a duration as Go's `time.ParseDuration` (and so every Kubernetes manifest) writes
/// it: `0`, or one or more numbers, each with an optional decimal fraction and a unit `us`
/// (`µs`), `ms`, `s`, `m` or `h` — `250ms`, `10s`, `1.5s`, `1m30s`. The one syntax of every
/// duration on `trellis` and `trellis-load` command lines; too large a value saturates.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad =
        || format!("`{s}` is not a duration; write it like `250ms`, `1.5s`, `5m`, `1m30s` or `0`");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut nanos: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let whole_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (whole, after) = rest.split_at(whole_len);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(f) => f.split_at(f.bytes().take_while(u8::is_ascii_digit).count()),
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(bad());
        }
        let unit_len = after
            .char_indices()
            .find(|&(_, c)| !(c.is_alphabetic()))
            .map_or(after.len(), |(i, _)| i);
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("{}; a number needs a unit", bad())),
            other => {
                return Err(format!(
                    "{}; unknown unit `{other}`: use `us`, `ms`, `s`, `m` or `h`",
                    bad()
                ))
            }
        };
        nanos = nanos.saturating_add(decimal_times(whole, fraction, unit_nanos));
        rest = after;
    }
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    let sub = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
    Ok(Duration::new(secs, sub))
}

/// `WHOLE.FRACTION` (ASCII digits) times `unit`, rounded down, saturating. The digits beyond
/// what a nanosecond can hold are ignored.
fn decimal_times(whole: &str, fraction: &str, unit: u128) -> u128 {
    let digits = |d: &str| {
        d.bytes().fold(0u128, |n, b| {
            n.saturating_mul(10).saturating_add(u128::from(b - b'0'))
        })
    };
    let fraction = fraction.get(..18).unwrap_or(fraction);
    let scale = 10u128.pow(u32::try_from(fraction.len()).unwrap_or(18));
    digits(whole)
        .saturating_mul(unit)
        .saturating_add(digits(fraction).saturating_mul(unit) / scale)
}

/// A VPC Lattice service or service network ARN, checked for shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatticeArn {
    arn: String,
    region_end: usize,
    region_start: usize,
}

impl LatticeArn {
    /// `arn:PARTITION:vpc-lattice:REGION:ACCOUNT:<kind>/<prefix>ID` with a 12-digit account
    /// and a 17-character lower-case alphanumeric id.
    pub fn parse(s: &str, kind: &str, prefix: &str) -> Option<LatticeArn> {
        let mut parts = s.splitn(6, ':');
        let (arn, partition, service, region, account, resource) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        let id = resource
            .strip_prefix(kind)?
            .strip_prefix('/')?
            .strip_prefix(prefix)?;
        let ok = arn == "arn"
            && partition.starts_with("aws")
            && service == "vpc-lattice"
            && !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && id.len() == 17
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let region_start = arn.len() + partition.len() + service.len() + 3;
        ok.then(|| LatticeArn {
            arn: s.to_owned(),
            region_start,
            region_end: region_start + region.len(),
        })
    }

    /// The ARN text.
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The region (the SigV4 scope region).
    pub fn region(&self) -> &str {
        &self.arn[self.region_start..self.region_end]
    }
}
