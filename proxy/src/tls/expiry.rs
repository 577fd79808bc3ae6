//! The notAfter of an X.509 certificate (RFC 5280 §4.1.2.5), for
//! `trellis_tls_cert_not_after_seconds`: an expired listener certificate takes every caller
//! down at once, so its expiry is worth an alert well before.
//!
//! rustls verifies certificates but does not expose their validity, so the few fields in front
//! of `validity` are walked with the `der` crate (already a dependency of the signature code's
//! `p256`) rather than adding a full X.509 parser for one field.

use der::asn1::{GeneralizedTime, UtcTime};
use der::{Decode, Reader, SliceReader, Tag, TagNumber};

/// The certificate's notAfter in unix seconds; `Err` says what is malformed.
pub fn not_after(cert_der: &[u8]) -> Result<i64, String> {
    let parse = || -> Result<i64, der::Error> {
        let mut reader = SliceReader::new(cert_der)?;
        let seconds = reader.sequence(|cert| {
            let seconds = cert.sequence(|tbs| {
                // version [0] EXPLICIT, absent for v1 certificates.
                if Tag::peek(tbs)?
                    == (Tag::ContextSpecific {
                        constructed: true,
                        number: TagNumber(0),
                    })
                {
                    tbs.tlv_bytes()?;
                }
                tbs.tlv_bytes()?; // serialNumber
                tbs.tlv_bytes()?; // signature
                tbs.tlv_bytes()?; // issuer
                let seconds = tbs.sequence(|validity| {
                    time(validity)?; // notBefore
                    time(validity)
                })?;
                // subject, subjectPublicKeyInfo, extensions: not needed.
                tbs.drain(tbs.remaining_len())?;
                Ok::<_, der::Error>(seconds)
            })?;
            cert.drain(cert.remaining_len())?;
            Ok::<_, der::Error>(seconds)
        })?;
        reader.finish()?;
        Ok(seconds)
    };
    parse().map_err(|e| e.to_string())
}

/// `Time ::= CHOICE { utcTime UTCTime, generalTime GeneralizedTime }` in unix seconds.
fn time<'a>(r: &mut SliceReader<'a>) -> Result<i64, der::Error> {
    let since_epoch = if Tag::peek(r)? == Tag::UtcTime {
        UtcTime::decode(r)?.to_unix_duration()
    } else {
        GeneralizedTime::decode(r)?.to_unix_duration()
    };
    Ok(i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX))
}
