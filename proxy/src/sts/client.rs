//! The one STS call: `GET <token's path and query>` to the host the token was signed for (or
//! `--sts-endpoint`), `Host` as signed, our own `x-k8s-aws-id`, `Accept: application/json`.
//! No redirect is followed and only a JSON `GetCallerIdentityResponse` is believed: an XML or
//! otherwise shaped answer proves nothing (CVE-2020-16250 relied on a reflected XML body).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HOST};
use http::{HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::Deserialize;

use super::token::{ParsedToken, AUDIENCE_HEADER};

/// The whole call, connection included, must end within this.
pub const STS_TIMEOUT: Duration = Duration::from_secs(3);
/// The largest answer read.
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// Who STS says signed the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsIdentity {
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` or `arn:aws:iam::ACCOUNT:user/NAME`.
    pub arn: String,
    /// The 12-digit account.
    pub account: String,
    /// `AROA…:SESSION` or `AIDA…`.
    pub user_id: String,
}

/// What the call came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StsAnswer {
    /// A JSON `GetCallerIdentityResponse`.
    Identity(StsIdentity),
    /// STS refused the token (a 4xx other than throttling): the reason, for the log.
    Rejected(String),
    /// No answer that can be believed: unreachable, timed out, throttled, 5xx, a redirect,
    /// or a body that is not the JSON document.
    Unavailable(String),
}

/// The HTTPS client to STS; see the module docs.
#[derive(Debug, Clone)]
pub struct StsClient {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    /// `--sts-endpoint`: scheme and authority that replace the token's.
    endpoint: Option<(http::uri::Scheme, http::uri::Authority)>,
    audience: HeaderValue,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Document {
    get_caller_identity_response: Response,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    get_caller_identity_result: Result_,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Result_ {
    account: String,
    arn: String,
    user_id: String,
}

/// The client cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClientSetupError {
    /// rustls refused the protocol versions.
    #[error("cannot set up TLS for STS: {0}")]
    Tls(#[from] rustls::Error),
}

impl StsClient {
    /// A client trusting the bundled Mozilla roots, sending `audience` as `x-k8s-aws-id`.
    pub fn new(endpoint: Option<&Uri>, audience: HeaderValue) -> Result<Self, ClientSetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(STS_TIMEOUT));
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Ok(Self {
            client,
            endpoint: endpoint.and_then(|u| Some((u.scheme()?.clone(), u.authority()?.clone()))),
            audience,
        })
    }

    /// Asks STS who signed `token`.
    pub async fn get_caller_identity(&self, token: &ParsedToken) -> StsAnswer {
        match tokio::time::timeout(STS_TIMEOUT, self.call(token)).await {
            Ok(answer) => answer,
            Err(_) => StsAnswer::Unavailable(format!("no answer within {STS_TIMEOUT:?}")),
        }
    }

    async fn call(&self, token: &ParsedToken) -> StsAnswer {
        let uri = match &self.endpoint {
            Some((scheme, authority)) => {
                format!("{scheme}://{authority}{}", token.path_and_query())
            }
            None => format!("https://{}{}", token.host(), token.path_and_query()),
        };
        let request = Request::get(uri)
            .header(HOST, token.host())
            .header(AUDIENCE_HEADER, self.audience.clone())
            .header(ACCEPT, "application/json")
            .body(Empty::new());
        let request = match request {
            Ok(r) => r,
            Err(e) => return StsAnswer::Unavailable(format!("cannot build the STS request: {e}")),
        };
        let response = match self.client.request(request).await {
            Ok(r) => r,
            Err(e) => return StsAnswer::Unavailable(format!("STS unreachable: {e}")),
        };
        let status = response.status();
        let json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
            });
        let body = match Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(e) => return StsAnswer::Unavailable(format!("STS answer unreadable: {e}")),
        };
        classify(status, json, &body)
    }
}

/// What an STS answer means; see [`StsAnswer`].
pub fn classify(status: StatusCode, json: bool, body: &[u8]) -> StsAnswer {
    if status == StatusCode::OK {
        if !json {
            return StsAnswer::Unavailable(
                "STS answered 200 without `content-type: application/json`; not believed"
                    .to_owned(),
            );
        }
        return match serde_json::from_slice::<Document>(body) {
            Ok(doc) => {
                let r = doc.get_caller_identity_response.get_caller_identity_result;
                StsAnswer::Identity(StsIdentity {
                    arn: r.arn,
                    account: r.account,
                    user_id: r.user_id,
                })
            }
            Err(e) => StsAnswer::Unavailable(format!(
                "STS answered 200 with JSON that is not a GetCallerIdentityResponse: {e}"
            )),
        };
    }
    let code = error_code(body);
    // STS's query API throttles with `400 Throttling`, not only `429`.
    let throttled = status == StatusCode::TOO_MANY_REQUESTS
        || matches!(
            code.as_str(),
            "Throttling" | "ThrottlingException" | "RequestLimitExceeded"
        );
    if status.is_client_error() && !throttled {
        return StsAnswer::Rejected(format!("STS answered {status}: {code}"));
    }
    if status.is_redirection() {
        return StsAnswer::Unavailable(format!(
            "STS answered {status}; redirects are not followed"
        ));
    }
    StsAnswer::Unavailable(format!("STS answered {status}: {code}"))
}

/// The `Code` of an AWS error document (JSON or XML), for the log only.
fn error_code(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(2048)]);
    for (open, close) in [("\"Code\":\"", "\""), ("<Code>", "</Code>")] {
        if let Some(start) = text.find(open) {
            let rest = &text[start + open.len()..];
            if let Some(end) = rest.find(close) {
                return rest[..end].chars().take(64).collect();
            }
        }
    }
    "no error code".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Account":"111122223333","Arn":"arn:aws:sts::111122223333:assumed-role/checkout/task-1","UserId":"AROAEXAMPLE:task-1"},"ResponseMetadata":{"RequestId":"8c2f6d1a-0000-0000-0000-000000000000"}}}"#;

    #[test]
    fn only_a_json_get_caller_identity_response_is_believed() {
        assert_eq!(
            classify(StatusCode::OK, true, DOC.as_bytes()),
            StsAnswer::Identity(StsIdentity {
                arn: "arn:aws:sts::111122223333:assumed-role/checkout/task-1".to_owned(),
                account: "111122223333".to_owned(),
                user_id: "AROAEXAMPLE:task-1".to_owned(),
            })
        );
    }

    #[test]
    fn an_xml_answer_is_not_believed_cve_2020_16250() {
        let xml = b"<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::111122223333:user/admin</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>";
        assert!(matches!(
            classify(StatusCode::OK, false, xml),
            StsAnswer::Unavailable(_)
        ));
        assert!(matches!(
            classify(StatusCode::OK, true, xml),
            StsAnswer::Unavailable(_)
        ));
    }

    #[test]
    fn json_of_another_shape_is_not_believed() {
        let other = br#"{"Arn":"arn:aws:iam::111122223333:user/admin"}"#;
        assert!(matches!(
            classify(StatusCode::OK, true, other),
            StsAnswer::Unavailable(_)
        ));
    }

    #[test]
    fn a_redirect_is_not_followed_and_not_believed() {
        assert!(
            matches!(classify(StatusCode::FOUND, false, b""), StsAnswer::Unavailable(m) if m.contains("redirect"))
        );
    }

    #[test]
    fn a_4xx_is_a_rejection_but_throttling_and_5xx_are_unavailability() {
        let denied = br#"{"Error":{"Code":"SignatureDoesNotMatch","Message":"..."}}"#;
        assert_eq!(
            classify(StatusCode::FORBIDDEN, true, denied),
            StsAnswer::Rejected("STS answered 403 Forbidden: SignatureDoesNotMatch".to_owned())
        );
        assert!(matches!(
            classify(StatusCode::TOO_MANY_REQUESTS, true, b""),
            StsAnswer::Unavailable(_)
        ));
        let throttled = b"<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>";
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, false, throttled),
            StsAnswer::Unavailable(_)
        ));
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, true, b""),
            StsAnswer::Unavailable(_)
        ));
    }
}
