//! Signed body digests through the whole stack: requests signed by aws-sigv4 over the real
//! payload hash (as requests-aws4auth and botocore sign by default), a real upstream that records
//! what it received, and tampered bodies under a correctly signed head.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use crate::sidecar_support;
use crate::support;

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::SignableBody;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use sha2::Digest;
use sidecar_support::*;
use support::*;
use trellis::auth::Mode;
use trellis::snapshot::SnapshotHandle;
use trellis_test_support::eventually_async;

/// What the upstream received of one request body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Received {
    path: String,
    len: usize,
    sha256: [u8; 32],
    /// The body reached its end; `false` when the request was aborted.
    complete: bool,
}

/// The upstream, answering `LEN SHA256 VERSION` of each body; `/early` answers `202` first
/// and reads afterwards, as a service that does not wait for the body.
#[derive(Debug, Clone)]
struct Recorder(Upstream);

impl Recorder {
    fn all(&self) -> Vec<Received> {
        self.0
            .received()
            .into_iter()
            .filter_map(|r| {
                let body = r.body.clone()?;
                Some(Received {
                    path: r.path().to_owned(),
                    len: body.len,
                    sha256: body.sha256,
                    complete: body.complete,
                })
            })
            .collect()
    }

    /// The records for `path`, once `n` of them arrived (bounded wait).
    async fn wait_for(&self, path: &str, n: usize) -> Vec<Received> {
        eventually_async(Duration::from_secs(10), || async {
            let got: Vec<Received> = self.all().into_iter().filter(|r| r.path == path).collect();
            (got.len() >= n).then_some(got)
        })
        .await
        .unwrap_or_else(|| panic!("fewer than {n} requests for {path}: {:?}", self.all()))
    }
}

async fn start() -> (TestProxy, Recorder, SnapshotHandle, tempfile::TempDir) {
    let rec = Recorder(Upstream::start(Behaviour {
        reply: Reply::Digest,
        ..Behaviour::default()
    }));
    let up = rec.0.addr;
    let dir = policy_dir();
    let mut handle = None;
    let proxy = TestProxy::start_with(
        ProxyOptions::new(up),
        make_auth(
            snapshot_config(dir.path()),
            settings(Mode::Enforce),
            &mut handle,
        ),
    )
    .await;
    (proxy, rec, handle.unwrap(), dir)
}

/// A head for `method url` signed by `key` over `payload` with aws-sigv4, the payload hash sent
/// and signed in `x-amz-content-sha256` (aws-sigv4 `PayloadChecksumKind::XAmzSha256`).
fn signed_head(
    method: &str,
    url: &str,
    key: (&str, &str),
    payload: SignableBody<'_>,
) -> http::request::Parts {
    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{sign, PayloadChecksumKind, SignableRequest, SigningSettings};
    use aws_smithy_runtime_api::client::identity::Identity;

    let uri: http::Uri = url.parse().unwrap();
    let host = uri.authority().unwrap().as_str().to_owned();
    let identity: Identity = Credentials::new(key.0, key.1, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.excluded_headers = None;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params: aws_sigv4::http_request::SigningParams<'_> =
        aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region("us-west-2")
            .name("vpc-lattice-svcs")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .unwrap()
            .into();
    let headers = [("host", host.as_str())];
    let signable = SignableRequest::new(method, url, headers.iter().copied(), payload).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = Request::builder()
        .method(method)
        .uri(url)
        .header("host", host.as_str())
        .body(())
        .unwrap();
    instructions.apply_to_request_http1x(&mut req);
    req.into_parts().0
}

/// `head` with `body`; for HTTP/2 without the `host` header (`:authority` carries it).
fn with_body(mut head: http::request::Parts, body: TestBody, h2: bool) -> Request<TestBody> {
    if h2 {
        head.headers.remove("host");
    }
    Request::from_parts(head, body)
}

fn text(body: &Bytes) -> String {
    String::from_utf8_lossy(body).into_owned()
}

const MISMATCH: &str =
    "XAmzContentSHA256Mismatch: The provided 'x-amz-content-sha256' header does not match what was computed.";

fn sha(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

#[tokio::test]
async fn a_body_signed_with_its_sha256_reaches_the_service_whole() {
    let (proxy, rec, _h, _d) = start().await;
    let body = br#"{"item":7,"qty":2}"#;
    for (h2, client) in [(false, h1_client()), (true, h2c_client())] {
        let head = signed_head(
            "POST",
            &proxy.url("/orders"),
            CHECKOUT,
            SignableBody::Bytes(body),
        );
        assert_eq!(
            head.headers["x-amz-content-sha256"],
            hex::encode(sha(body)).as_str()
        );
        let (status, _, got) = send(&client, with_body(head, full(&body[..]), h2)).await;
        assert_eq!(status, StatusCode::OK, "{}", text(&got));
        assert!(text(&got).starts_with(&format!("{} {}", body.len(), hex::encode(sha(body)))));
    }
    let got = rec.wait_for("/orders", 2).await;
    assert!(
        got.iter().all(|r| r.complete && r.sha256 == sha(body)),
        "{got:?}"
    );
    let m = proxy.metrics.encode().unwrap();
    assert_eq!(sample(&m, "trellis_requests_total{outcome=\"allowed\"}"), 2);
}

#[tokio::test]
async fn a_tampered_body_under_a_signed_digest_is_refused_and_never_reaches_the_service_whole() {
    let (proxy, rec, _h, _d) = start().await;
    let signed_body = br#"{"to":"alice","amount":10}"#;
    let tampered = br#"{"to":"mallory","amount":99999}"#;
    for (h2, client) in [(false, h1_client()), (true, h2c_client())] {
        let head = signed_head(
            "POST",
            &proxy.url("/orders"),
            CHECKOUT,
            SignableBody::Bytes(signed_body),
        );
        let (status, headers, got) = send(&client, with_body(head, full(&tampered[..]), h2)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "h2={h2}: {}", text(&got));
        assert_eq!(headers["x-amzn-errortype"], "XAmzContentSHA256Mismatch");
        assert!(headers.contains_key("x-amzn-requestid"));
        let got = text(&got);
        assert!(got.starts_with(MISMATCH), "{got}");
        assert!(got.contains(&hex::encode(sha(signed_body))), "{got}");
        assert!(got.contains(&hex::encode(sha(tampered))), "{got}");
    }
    // Whatever reached the service was aborted before the body's end.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(rec.all().iter().all(|r| !r.complete), "{:?}", rec.all());

    // The same connections still carry a correctly signed request.
    let head = signed_head(
        "POST",
        &proxy.url("/orders"),
        CHECKOUT,
        SignableBody::Bytes(signed_body),
    );
    let (status, _, got) = send(&h1_client(), with_body(head, full(&signed_body[..]), false)).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&got));

    let m = proxy.metrics.encode().unwrap();
    assert_eq!(
        sample(&m, "trellis_requests_total{outcome=\"bad_request\"}"),
        2
    );
    assert_eq!(sample(&m, "trellis_authn_total{result=\"signed\"}"), 3);
    let lines = proxy.log.wait_for(3).await;
    let refused: Vec<_> = lines.iter().filter(|l| l["responseCode"] == 400).collect();
    assert_eq!(refused.len(), 2);
    for l in refused {
        assert_eq!(l["failureReason"], "ClientProtocolError");
        assert_eq!(l["authnResult"], "signed");
    }
}

/// A streamed body of `total` bytes in `chunk`-byte frames with no length (sent chunked over
/// HTTP/1.1); with `tamper`, the last chunk's bytes are flipped.
fn generated(total: usize, chunk: usize, tamper: bool) -> TestBody {
    let chunks: Vec<Bytes> = generated_chunks(total, chunk).collect();
    let last = chunks.len() - 1;
    let frames = chunks.into_iter().enumerate().map(move |(i, c)| {
        let c = if tamper && i == last {
            Bytes::from(c.iter().map(|b| !b).collect::<Vec<u8>>())
        } else {
            c
        };
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Frame::data(c))
    });
    StreamBody::new(futures_util::stream::iter(frames)).boxed()
}

#[tokio::test]
async fn a_large_multi_chunk_body_streams_and_is_checked() {
    const TOTAL: usize = 1 << 20;
    const CHUNK: usize = 16 << 10;
    let (proxy, rec, _h, _d) = start().await;
    let (_, digest) = generated_body(TOTAL, CHUNK);
    let digest_hex = hex::encode(digest);
    for (h2, client) in [(false, h1_client()), (true, h2c_client())] {
        let url = proxy.url("/orders/upload");
        let head = signed_head(
            "PUT",
            &url,
            CHECKOUT,
            SignableBody::Precomputed(digest_hex.clone()),
        );
        let (status, _, got) =
            send(&client, with_body(head, generated(TOTAL, CHUNK, false), h2)).await;
        assert_eq!(status, StatusCode::OK, "h2={h2}: {}", text(&got));
        assert!(
            text(&got).starts_with(&format!("{TOTAL} {digest_hex}")),
            "{}",
            text(&got)
        );

        let url = proxy.url("/orders/tampered");
        let head = signed_head(
            "PUT",
            &url,
            CHECKOUT,
            SignableBody::Precomputed(digest_hex.clone()),
        );
        let (status, headers, got) =
            send(&client, with_body(head, generated(TOTAL, CHUNK, true), h2)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "h2={h2}: {}", text(&got));
        assert_eq!(headers["x-amzn-errortype"], "XAmzContentSHA256Mismatch");
    }
    let whole = rec.wait_for("/orders/upload", 2).await;
    assert!(
        whole
            .iter()
            .all(|r| r.complete && r.len == TOTAL && r.sha256 == digest),
        "{whole:?}"
    );
    // The tampered uploads reached the service as they streamed, but never whole: the end was
    // held back and the request aborted.
    let tampered = rec.wait_for("/orders/tampered", 2).await;
    assert!(
        tampered.iter().all(|r| !r.complete && r.len < TOTAL),
        "{tampered:?}"
    );
}

#[tokio::test]
async fn an_empty_body_is_checked_against_the_empty_string_digest() {
    let (proxy, rec, _h, _d) = start().await;
    let client = h1_client();
    let head = signed_head(
        "GET",
        &proxy.url("/orders/7"),
        CHECKOUT,
        SignableBody::Bytes(b""),
    );
    let (status, _, got) = send(&client, with_body(head, full(""), false)).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&got));

    // Signed over a body that was then left out: refused before anything reaches the service.
    let head = signed_head(
        "POST",
        &proxy.url("/orders/8"),
        CHECKOUT,
        SignableBody::Bytes(b"x"),
    );
    let (status, headers, got) = send(&client, with_body(head, full(""), false)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", text(&got));
    assert_eq!(headers["x-amzn-errortype"], "XAmzContentSHA256Mismatch");
    assert!(text(&got).starts_with(MISMATCH));
    rec.wait_for("/orders/7", 1).await;
    assert!(
        rec.all().iter().all(|r| r.path != "/orders/8"),
        "{:?}",
        rec.all()
    );
}

#[tokio::test]
async fn unsigned_payload_bodies_pass_unchecked() {
    let (proxy, rec, _h, _d) = start().await;
    let (head, _) = signed("POST", &proxy.url("/orders"), CHECKOUT).into_parts();
    assert_eq!(head.headers["x-amz-content-sha256"], "UNSIGNED-PAYLOAD");
    let (status, _, got) = send(&h1_client(), with_body(head, full("any body"), false)).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&got));
    let got = rec.wait_for("/orders", 1).await;
    assert!(got[0].complete && got[0].sha256 == sha(b"any body"));
}

#[tokio::test]
async fn streaming_payload_values_are_refused_as_unverifiable() {
    let (proxy, rec, _h, _d) = start().await;
    let head = signed_head(
        "PUT",
        &proxy.url("/orders/upload"),
        CHECKOUT,
        SignableBody::Precomputed("STREAMING-AWS4-HMAC-SHA256-PAYLOAD".to_owned()),
    );
    let (status, headers, got) = send(&h1_client(), with_body(head, full("chunk"), false)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{}", text(&got));
    assert_eq!(headers["x-amzn-errortype"], "IncompleteSignatureException");
    assert!(text(&got).contains(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a lowercase hex SHA-256 digest"
    ));
    assert!(rec.all().is_empty());
}

#[tokio::test]
async fn a_service_that_answers_before_reading_never_receives_a_tampered_body_whole() {
    let (proxy, rec, _h, _d) = start().await;
    const TOTAL: usize = 256 << 10;
    let (_, digest) = generated_body(TOTAL, 16 << 10);
    let head = signed_head(
        "PUT",
        &proxy.url("/early"),
        OPS,
        SignableBody::Precomputed(hex::encode(digest)),
    );
    let res = within(
        20,
        h1_client().request(with_body(head, generated(TOTAL, 16 << 10, true), false)),
    )
    .await
    .unwrap();
    // The service's early answer may pass before the mismatch is known; either way the body
    // it reads is aborted, never complete.
    let status = res.status();
    assert!(
        status == StatusCode::ACCEPTED || status == StatusCode::BAD_REQUEST,
        "{status}"
    );
    let _ = within(20, res.into_body().collect()).await;
    let got = rec.wait_for("/early", 1).await;
    assert!(!got[0].complete && got[0].len < TOTAL, "{got:?}");
}
