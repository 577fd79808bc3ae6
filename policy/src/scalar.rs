//! Typed condition values: numbers, dates, IP ranges, base64 and ARNs, parsed from the
//! policy once and from request values on the fly, without allocating.

mod base64;
mod date;
mod number;

pub(crate) use base64::{decode_base64, eq_base64};
pub(crate) use date::{parse_date, Instant};
pub(crate) use number::{parse_decimal, Decimal};

use std::net::IpAddr;

/// An IPv4 or IPv6 range; an address without a prefix is a `/32` (`/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub(crate) fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?))
            }
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    /// Whether `ip` is in the range; an IPv4 address is never in an IPv6 range and vice versa.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                (u32::from(net) & mask) == (u32::from(ip) & mask)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                (u128::from(net) & mask) == (u128::from(ip) & mask)
            }
            _ => false,
        }
    }
}

/// Splits an ARN into its six parts at the first five `:` (the sixth keeps later colons).
pub(crate) fn arn_parts(arn: &str) -> Option<[&str; 6]> {
    let mut parts = [""; 6];
    let mut start = 0;
    let mut filled = 0;
    // A byte scan: `:` is ASCII, so every split point is a character boundary.
    for (i, b) in arn.bytes().enumerate() {
        if b == b':' {
            parts[filled] = &arn[start..i];
            start = i + 1;
            filled += 1;
            if filled == 5 {
                break;
            }
        }
    }
    if filled < 5 {
        return None;
    }
    parts[5] = &arn[start..];
    Some(parts)
}

/// The parts of an IAM or STS principal ARN (`arn:PARTITION:SERVICE::ACCOUNT:RESOURCE`), with
/// the checks every principal ARN must pass: the `arn` prefix, a partition, no region and a
/// 12-digit account.
pub(crate) fn principal_arn_parts(arn: &str) -> Option<[&str; 6]> {
    let parts = arn_parts(arn)?;
    let [prefix, partition, _, region, account, _] = parts;
    let valid = prefix == "arn"
        && !partition.is_empty()
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit());
    valid.then_some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_without_prefix_is_a_single_address() {
        let c = Cidr::parse("10.0.0.1").unwrap();
        assert!(c.contains("10.0.0.1".parse().unwrap()));
        assert!(!c.contains("10.0.0.2".parse().unwrap()));
    }

    #[test]
    fn ipv6_ranges_compare_parsed_addresses() {
        let c = Cidr::parse("2001:DB8::/32").unwrap();
        assert!(c.contains("2001:db8::1".parse().unwrap()));
        assert!(!c.contains("2001:db9::1".parse().unwrap()));
        assert!(!c.contains("10.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("::/0")
            .unwrap()
            .contains("::1".parse().unwrap()));
    }

    #[test]
    fn ipv4_is_never_in_an_ipv6_range() {
        let c = Cidr::parse("::ffff:0:0/96").unwrap();
        assert!(!c.contains("10.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn malformed_cidrs_are_rejected() {
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "10.0.0.0/",
            "x",
            "::/129",
            "10.0.0.0/+8",
            "",
        ] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn arn_splits_into_six_parts_at_the_first_five_colons() {
        assert_eq!(
            arn_parts("arn:aws:s3:::bucket:a:b"),
            Some(["arn", "aws", "s3", "", "", "bucket:a:b"])
        );
        assert_eq!(arn_parts("arn:aws:iam::1"), None);
    }
}
