use super::*;
use crate::error::{Authn, BadRequest, Denied, PolicyLayer, UpstreamError};
use crate::metrics::RequestOutcome;
use crate::normalize::PathError;
use http_body_util::BodyExt;

async fn parts(err: ProxyError) -> (StatusCode, Option<String>, String, String) {
    let res = respond(&err);
    let status = res.status();
    let et = res
        .headers()
        .get(&X_AMZN_ERRORTYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let ct = res.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, et, ct, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn denied_is_403_access_denied_with_one_line_body() {
    let msg = "User: anonymous is not authorized to perform: vpc-lattice-svcs:Invoke on resource: arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/ because no service-based policy allows the vpc-lattice-svcs:Invoke action";
    let (status, et, ct, body) = parts(ProxyError::Denied(Denied {
        message: msg.to_owned(),
        layer: PolicyLayer::Service,
    }))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(et.as_deref(), Some("AccessDeniedException"));
    assert_eq!(ct, "text/plain; charset=utf-8");
    assert_eq!(body, format!("AccessDeniedException: {msg}"));
    assert!(!body.contains('\n'));
}

#[tokio::test]
async fn authn_failure_is_403_with_its_error_type() {
    let (status, et, _, body) = parts(ProxyError::Authn(Authn {
        error_type: "InvalidSignatureException",
        message: "The request signature we calculated does not match the signature you provided."
            .to_owned(),
        metric_label: "bad_signature",
    }))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(et.as_deref(), Some("InvalidSignatureException"));
    assert!(body.starts_with("InvalidSignatureException: The request signature"));
}

#[tokio::test]
async fn other_errors_map_to_their_statuses_without_errortype() {
    let cases = [
        (
            ProxyError::BadRequest(BadRequest::Path(PathError::Nul)),
            StatusCode::BAD_REQUEST,
        ),
        (
            ProxyError::HeadersTooLarge {
                size: 70000,
                count: 3,
                max_size: 61440,
                max_count: 100,
            },
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ),
        (
            ProxyError::Upstream(UpstreamError::Unreachable("refused".into())),
            StatusCode::BAD_GATEWAY,
        ),
        (
            ProxyError::Upstream(UpstreamError::Protocol("reset".into())),
            StatusCode::BAD_GATEWAY,
        ),
        (
            ProxyError::Upstream(UpstreamError::Timeout(std::time::Duration::from_secs(1))),
            StatusCode::GATEWAY_TIMEOUT,
        ),
        (
            ProxyError::Internal("secret detail".into()),
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
    ];
    for (err, expected) in cases {
        let (status, et, _, body) = parts(err).await;
        assert_eq!(status, expected);
        assert!(et.is_none());
        assert!(!body.contains("secret detail"));
    }
}

#[test]
fn recording_an_authn_error_fills_the_outcome() {
    let outcome = Outcome::new();
    record(
        &outcome,
        &ProxyError::Authn(Authn {
            error_type: "ExpiredTokenException",
            message: "x".into(),
            metric_label: "expired",
        }),
    );
    assert_eq!(outcome.request_outcome(), RequestOutcome::AuthnFailed);
    assert_eq!(outcome.authn().unwrap().result, AuthnResult::Expired);
    assert_eq!(outcome.failure().unwrap().reason, "ClientAccessDenied");
}

#[test]
fn recording_a_denial_keeps_the_layer() {
    let outcome = Outcome::new();
    record(
        &outcome,
        &ProxyError::Denied(Denied {
            message: "m".into(),
            layer: PolicyLayer::Network,
        }),
    );
    assert_eq!(outcome.request_outcome(), RequestOutcome::Denied);
    assert_eq!(
        outcome.decision().unwrap().denied_layer,
        Some(PolicyLayer::Network)
    );
}

#[tokio::test]
async fn a_body_digest_mismatch_is_400_xamzcontentsha256mismatch_in_aws_wording() {
    let err = ProxyError::BodyDigest(crate::layers::body_digest::DigestMismatch {
        signed: [0xab; 32],
        computed: [0x01; 32],
    });
    let failure = classify(&err);
    assert_eq!(
        (failure.outcome, failure.reason),
        (RequestOutcome::BadRequest, "ClientProtocolError")
    );
    let (status, et, ct, body) = parts(err).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(et.as_deref(), Some("XAmzContentSHA256Mismatch"));
    assert_eq!(ct, "text/plain; charset=utf-8");
    assert!(
        body.starts_with("XAmzContentSHA256Mismatch: The provided 'x-amz-content-sha256' header does not match what was computed."),
        "{body}"
    );
    assert!(body.contains(&format!("ClientComputedContentSHA256: {}", "ab".repeat(32))));
    assert!(body.contains(&format!("ComputedContentSHA256: {}", "01".repeat(32))));
    assert!(body.contains("UNSIGNED-PAYLOAD"));
    assert!(!body.contains('\n'));
}

#[tokio::test]
async fn the_proxys_own_failures_show_callers_a_fixed_line_with_the_request_id() {
    let cases = [
        (
            ProxyError::Upstream(UpstreamError::Unreachable(
                "tcp connect error: Connection refused (os error 111)".into(),
            )),
            "BadGateway: ",
        ),
        (
            ProxyError::Upstream(UpstreamError::Protocol(
                "connection reset by 10.0.0.7".into(),
            )),
            "BadGateway: ",
        ),
        (
            ProxyError::Upstream(UpstreamError::Timeout(std::time::Duration::from_secs(15))),
            "GatewayTimeout: ",
        ),
        (
            ProxyError::Internal("slot 7 poisoned".into()),
            "InternalError: ",
        ),
    ];
    for (err, prefix) in cases {
        let detail = err.to_string();
        let res = respond_to(&err, Some("req-42"));
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.starts_with(prefix), "{body}");
        assert!(body.contains("request id req-42"), "{body}");
        assert!(!body.contains('\n'));
        for internal in ["os error", "10.0.0.7", "15s", "poisoned", "--upstream"] {
            assert!(!body.contains(internal), "{body} shows `{internal}`");
        }
        assert!(
            detail.contains("os error")
                || detail.contains("10.0.0.7")
                || detail.contains("15s")
                || detail.contains("poisoned"),
            "the detail for the log is kept: {detail}"
        );
    }
}
