use super::*;

fn headers(values: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for v in values {
        h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
    }
    h
}

#[test]
fn a_bearer_token_that_is_not_an_identity_token_stays_anonymous() {
    assert!(bearer_token(&headers(&["Bearer eyJhbGciOi"])).is_none());
    assert!(bearer_token(&headers(&[])).is_none());
    assert!(bearer_token(&headers(&["AWS4-HMAC-SHA256 Credential=x"])).is_none());
}

#[test]
fn an_identity_token_is_found_whatever_the_case_of_bearer() {
    for v in [
        "Bearer k8s-aws-v1.abc",
        "bearer k8s-aws-v1.abc",
        "BEARER  k8s-aws-v1.abc",
    ] {
        assert_eq!(
            bearer_token(&headers(&[v])).unwrap().unwrap(),
            "k8s-aws-v1.abc"
        );
    }
}

#[test]
fn an_identity_token_beside_another_authorization_header_is_refused() {
    let h = headers(&["AWS4-HMAC-SHA256 Credential=x", "Bearer k8s-aws-v1.abc"]);
    assert!(
        matches!(bearer_token(&h), Some(Err(ProxyError::Authn(a))) if a.error_type == "IncompleteSignatureException")
    );
}

#[test]
fn presigned_sigv4_material_in_the_query_is_a_second_credential() {
    assert!(has_presigned_query("/a?x=1&X-Amz-Signature=ab"));
    assert!(has_presigned_query("/a?x-amz-credential=ab"));
    assert!(!has_presigned_query("/a?x=1"));
    assert!(!has_presigned_query("/a"));
}

#[test]
fn without_an_audience_an_identity_token_is_refused_never_anonymous() {
    let snapshot = Arc::new(
        crate::snapshot::load(
            &crate::snapshot::SnapshotConfig {
                network_auth: crate::snapshot::AuthType::None,
                network_policy: None,
                service_auth: crate::snapshot::AuthType::None,
                service_policy: None,
                principals: None,
            },
            &crate::metrics::Metrics::new("test").unwrap(),
            &crate::snapshot::Reporter::stderr(),
        )
        .unwrap(),
    );
    let h = headers(&["Bearer k8s-aws-v1.abc"]);
    match check(None, &h, "/", &snapshot, SystemTime::now()) {
        TokenCheck::Ready(Err(ProxyError::Authn(a))) => {
            assert_eq!(a.error_type, "IncompleteSignatureException");
            assert!(a.message.contains("--sts-audience"));
        }
        _ => panic!("expected a refusal"),
    }
}
