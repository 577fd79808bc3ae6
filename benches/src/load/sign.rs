//! SigV4 signing with aws-sigv4, the Lattice way: `x-amz-content-sha256: UNSIGNED-PAYLOAD`
//! sent and signed (Trellis rejects a signature that does not cover it), every header signed.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
};
use aws_smithy_runtime_api::client::identity::Identity;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::args::{Config, SigningKey};
use super::error::LoadError;

/// Signs requests for one region and signing name with any of a set of keys.
#[derive(Debug)]
pub struct Signer {
    identities: Vec<Identity>,
    region: String,
    service: String,
}

impl Signer {
    /// A signer for the configured keys, region and service.
    pub fn new(config: &Config) -> Signer {
        Signer::with_keys(&config.keys, &config.region, &config.service)
    }

    /// A signer for `keys` in `region` for `service`.
    pub fn with_keys(keys: &[SigningKey], region: &str, service: &str) -> Signer {
        let identities = keys
            .iter()
            .map(|k| {
                Credentials::new(&k.access_key_id, &k.secret, None, None, "trellis-load").into()
            })
            .collect();
        Signer {
            identities,
            region: region.to_owned(),
            service: service.to_owned(),
        }
    }

    /// How many keys there are.
    pub fn keys(&self) -> usize {
        self.identities.len()
    }

    /// Adds `x-amz-content-sha256`, `x-amz-date` and `authorization` to `headers` for
    /// `method http://{authority}{target}` signed with key `key` (modulo the key count) at `at`.
    /// `headers` must hold every other header that will be sent, `host` included for HTTP/1.1.
    pub fn sign(
        &self,
        key: usize,
        method: &Method,
        authority: &str,
        target: &str,
        headers: &mut HeaderMap,
        at: SystemTime,
    ) -> Result<(), LoadError> {
        let fail = |reason: String| LoadError::Sign {
            method: method.to_string(),
            target: target.to_owned(),
            reason,
        };
        let identity = &self.identities[key % self.identities.len().max(1)];
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.excluded_headers = None;
        let params: aws_sigv4::http_request::SigningParams<'_> =
            aws_sigv4::sign::v4::SigningParams::builder()
                .identity(identity)
                .region(&self.region)
                .name(&self.service)
                .time(at)
                .settings(settings)
                .build()
                .map_err(|e| fail(e.to_string()))?
                .into();
        let url = format!("http://{authority}{target}");
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(headers.len());
        for (name, value) in headers.iter() {
            let value = value
                .to_str()
                .map_err(|_| fail(format!("header `{name}` is not visible ASCII")))?;
            pairs.push((name.as_str(), value));
        }
        let signable = SignableRequest::new(
            method.as_str(),
            &url,
            pairs.into_iter(),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| fail(e.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| fail(e.to_string()))?
            .into_parts();
        let (added, _) = instructions.into_parts();
        for header in added {
            let name = HeaderName::from_bytes(header.name().as_bytes())
                .map_err(|e| fail(e.to_string()))?;
            let value = HeaderValue::from_str(header.value()).map_err(|e| fail(e.to_string()))?;
            headers.insert(name, value);
        }
        Ok(())
    }
}
