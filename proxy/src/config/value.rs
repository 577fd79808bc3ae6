//! Flag value syntaxes: durations (`5m`, `10s`, `250ms`, `0`) and VPC Lattice ARNs.

use std::time::Duration;

/// Parses `0`, or a whole number followed by `ms`, `s`, `m` or `h` (units may be chained:
/// `1m30s`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad =
        || format!("`{s}` is not a duration; write it like `250ms`, `10s`, `5m`, `1h` or `0`");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total = total.saturating_add(part);
    }
    Ok(total)
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
