use http::{HeaderValue, Method, Request, Version};

use super::Head;
use crate::upstream::OutBody;

#[test]
fn a_retried_head_is_the_head_that_was_sent() {
    let mut req = Request::new(());
    *req.method_mut() = Method::DELETE;
    *req.uri_mut() = "/orders/7?dry-run=1&x=%2F".parse().unwrap();
    let headers = req.headers_mut();
    headers.insert("host", HeaderValue::from_static("svc.local:8080"));
    headers.insert("x-amz-date", HeaderValue::from_static("20260101T000000Z"));
    headers.append("x-multi", HeaderValue::from_static("a"));
    headers.append("x-multi", HeaderValue::from_static("b"));
    headers.insert("x-opaque", HeaderValue::from_bytes(b"\xfe\xff ok").unwrap());
    let mut secret = HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=...");
    secret.set_sensitive(true);
    headers.insert("authorization", secret);

    let head = Head::copy(&req);
    let again: Request<OutBody<()>> = head.to_request(Version::HTTP_11).unwrap();
    assert_eq!(again.method(), req.method());
    assert_eq!(again.uri(), req.uri());
    assert_eq!(again.version(), Version::HTTP_11);
    assert_eq!(again.headers(), req.headers());
    assert!(again.headers()["authorization"].is_sensitive());
    assert!(!again.headers()["x-amz-date"].is_sensitive());
    assert!(matches!(again.body(), OutBody::Empty));
    let multi: Vec<_> = again.headers().get_all("x-multi").iter().collect();
    assert_eq!(multi, ["a", "b"]);
}
