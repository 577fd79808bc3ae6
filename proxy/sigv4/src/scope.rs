//! Where and when a signature is valid: the credential scope (date, region, service,
//! terminator, SigV4A region set), the clock-skew window and a presigned URL's lifetime.

use std::time::SystemTime;

use super::amz_date::AmzDate;
use super::error::{printable, AuthError};
use super::material::Material;
use super::parse;
use super::sigv4a;
use super::VerifierConfig;

fn skew_text(secs: u64) -> String {
    if secs.is_multiple_of(60) {
        format!("{} min.", secs / 60)
    } else {
        format!("{secs} sec.")
    }
}

pub(crate) fn check_time(
    cfg: &VerifierConfig,
    m: &Material<'_>,
    now: SystemTime,
) -> Result<(), AuthError> {
    let now_s = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let skew_secs = cfg.max_clock_skew.as_secs();
    let skew = i64::try_from(skew_secs).unwrap_or(i64::MAX);
    let latest = now_s.saturating_add(skew);
    if m.date.epoch > latest {
        return Err(AuthError::expired(format!(
            "Signature not yet current: {} is still later than {} ({} + {})",
            m.date.iso_str(),
            AmzDate::from_epoch(latest).iso_str(),
            AmzDate::from_epoch(now_s).iso_str(),
            skew_text(skew_secs)
        )));
    }
    match m.expires {
        None => {
            let earliest = now_s.saturating_sub(skew);
            if m.date.epoch < earliest {
                return Err(AuthError::expired(format!(
                    "Signature expired: {} is now earlier than {} ({} - {})",
                    m.date.iso_str(),
                    AmzDate::from_epoch(earliest).iso_str(),
                    AmzDate::from_epoch(now_s).iso_str(),
                    skew_text(skew_secs)
                )));
            }
        }
        Some(expires) => {
            let until = m
                .date
                .epoch
                .saturating_add(i64::try_from(expires).unwrap_or(i64::MAX));
            if now_s > until {
                return Err(AuthError::expired(format!(
                    "Signature expired: {} is now earlier than {} ({} + X-Amz-Expires {} sec.)",
                    AmzDate::from_epoch(until).iso_str(),
                    AmzDate::from_epoch(now_s).iso_str(),
                    m.date.iso_str(),
                    expires
                )));
            }
        }
    }
    Ok(())
}

pub(crate) fn check_scope(
    cfg: &VerifierConfig,
    m: &Material<'_>,
    c: &parse::Credential<'_>,
) -> Result<(), AuthError> {
    if c.day.as_bytes() != m.date.day() {
        return Err(AuthError::wrong_scope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            printable(c.day),
            String::from_utf8_lossy(m.date.day()),
            m.date.iso_str()
        )));
    }
    if let Some(region) = c.region {
        if region != cfg.region {
            return Err(AuthError::wrong_scope(format!(
                "Credential should be scoped to a valid region, not '{}'.",
                printable(region)
            )));
        }
    }
    if c.service != cfg.service {
        return Err(AuthError::wrong_scope(format!(
            "Credential should be scoped to correct service: '{}'.",
            cfg.service
        )));
    }
    if c.terminator != "aws4_request" {
        return Err(AuthError::wrong_scope(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            printable(c.terminator)
        )));
    }
    if let Some(set) = m.region_set {
        if !sigv4a::region_set_covers(set, &cfg.region) {
            return Err(AuthError::wrong_scope(format!(
                "The region set '{}' does not include the region '{}': sign with a region set that covers it (for example '*').",
                printable(set),
                cfg.region
            )));
        }
    }
    Ok(())
}
