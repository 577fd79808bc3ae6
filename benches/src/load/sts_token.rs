//! Identity tokens of IAM-role callers, made exactly as `aws eks get-token --cluster-name
//! <audience>` makes them: a GetCallerIdentity request to the regional STS endpoint, presigned
//! with SigV4 in the query (`X-Amz-Expires=60`, payload `UNSIGNED-PAYLOAD` as botocore
//! presigns), whose signed headers are `host` and `x-k8s-aws-id: <audience>`, written as
//! `k8s-aws-v1.` followed by the URL in unpadded base64url. A caller sends it as
//! `Authorization: Bearer <token>`.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_smithy_runtime_api::client::identity::Identity;
use http::HeaderValue;

use super::args::SigningKey;
use super::error::LoadError;

/// What every token starts with (aws-iam-authenticator's version tag).
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";

/// The signed header that binds a token to one audience.
pub const AUDIENCE_HEADER: &str = "x-k8s-aws-id";

/// The presigned lifetime `aws eks get-token` asks for. Servers accept a token for 15 minutes
/// from its `X-Amz-Date` whatever this says, as STS and aws-iam-authenticator do.
pub const PRESIGN_EXPIRES: Duration = Duration::from_secs(60);

/// The request every token presigns.
pub const STS_QUERY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

/// `https://sts.<region>.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15`, unsigned.
pub fn sts_url(region: &str) -> String {
    format!("https://sts.{region}.amazonaws.com/?{STS_QUERY}")
}

/// Makes tokens for one audience and STS region with any of a set of keys.
#[derive(Debug)]
pub struct TokenMaker {
    identities: Vec<Identity>,
    region: String,
    audience: String,
}

impl TokenMaker {
    /// A maker for `keys`, presigning for `sts.<region>.amazonaws.com` and `audience`.
    pub fn new(keys: &[SigningKey], region: &str, audience: &str) -> TokenMaker {
        let identities = keys
            .iter()
            .map(|k| {
                Credentials::new(&k.access_key_id, &k.secret, None, None, "trellis-load").into()
            })
            .collect();
        TokenMaker {
            identities,
            region: region.to_owned(),
            audience: audience.to_owned(),
        }
    }

    /// How many keys there are.
    pub fn keys(&self) -> usize {
        self.identities.len()
    }

    /// The presigned GetCallerIdentity URL for key `key` (modulo the key count), dated `at`.
    pub fn presigned_url(&self, key: usize, at: SystemTime) -> Result<String, LoadError> {
        let url = sts_url(&self.region);
        let fail = |reason: String| LoadError::Sign {
            method: "GET".into(),
            target: url.clone(),
            reason,
        };
        let identity = &self.identities[key % self.identities.len().max(1)];
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(PRESIGN_EXPIRES);
        let params: aws_sigv4::http_request::SigningParams<'_> =
            aws_sigv4::sign::v4::SigningParams::builder()
                .identity(identity)
                .region(&self.region)
                .name("sts")
                .time(at)
                .settings(settings)
                .build()
                .map_err(|e| fail(e.to_string()))?
                .into();
        // `host` is taken from the URL and signed with the audience header.
        let headers = [(AUDIENCE_HEADER, self.audience.as_str())];
        let signable = SignableRequest::new(
            "GET",
            &url,
            headers.into_iter(),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| fail(e.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| fail(e.to_string()))?
            .into_parts();
        let mut request = http::Request::get(url.as_str())
            .body(())
            .map_err(|e| fail(e.to_string()))?;
        instructions.apply_to_request_http1x(&mut request);
        Ok(request.uri().to_string())
    }

    /// `k8s-aws-v1.<base64url of the presigned URL, unpadded>`.
    pub fn token(&self, key: usize, at: SystemTime) -> Result<String, LoadError> {
        let url = self.presigned_url(key, at)?;
        Ok(format!(
            "{TOKEN_PREFIX}{}",
            base64_simd::URL_SAFE_NO_PAD.encode_to_string(url.as_bytes())
        ))
    }

    /// The `Authorization` value: `Bearer <token>`.
    pub fn authorization(&self, key: usize, at: SystemTime) -> Result<HeaderValue, LoadError> {
        let token = self.token(key, at)?;
        HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| LoadError::Sign {
            method: "GET".into(),
            target: sts_url(&self.region),
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maker() -> TokenMaker {
        TokenMaker::new(
            &[SigningKey {
                access_key_id: "AKIDEXAMPLE".into(),
                secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            }],
            "us-west-2",
            "svc-0123456789abcdef0",
        )
    }

    #[test]
    fn a_token_is_the_prefix_and_the_unpadded_base64url_of_the_presigned_url() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let m = maker();
        let url = m.presigned_url(0, at).unwrap();
        let token = m.token(0, at).unwrap();
        let body = token.strip_prefix(TOKEN_PREFIX).unwrap();
        assert!(!body.contains('=') && !body.contains('+') && !body.contains('/'));
        let decoded = base64_simd::URL_SAFE_NO_PAD.decode_to_vec(body).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), url);
        assert!(url.starts_with(&sts_url("us-west-2")), "{url}");
        assert!(url.contains("&X-Amz-Expires=60&"), "{url}");
        assert!(
            url.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"),
            "{url}"
        );
        assert!(url.contains("X-Amz-Date=20231114T221320Z"), "{url}");
        assert_eq!(
            m.authorization(0, at).unwrap().to_str().unwrap(),
            format!("Bearer {token}")
        );
    }

    #[test]
    fn the_same_key_and_time_make_the_same_token_and_another_time_another() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let m = maker();
        assert_eq!(m.token(0, at).unwrap(), m.token(0, at).unwrap());
        assert_ne!(
            m.token(0, at).unwrap(),
            m.token(0, at + Duration::from_secs(1)).unwrap()
        );
    }
}
