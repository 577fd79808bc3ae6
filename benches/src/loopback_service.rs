//! The service behind every configuration of the comparison, and the authorizer nginx's
//! `auth_request` asks: both as cheap as hyper allows, so that what the generator measures
//! above the direct baseline is the system under test and not its upstream.
//!
//! Upstream mode answers `200` with a short fixed body; `/status/NNN` answers status `NNN`
//! (so the pass-through's status forwarding can be checked) and `/echo` streams the request
//! body back. Authorizer mode answers `204` to everything, as a trivial `auth_request`
//! authorizer does after its own (here: absent) checks.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body::Body as _;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

/// The fixed body of a `200` in upstream mode.
pub const BODY: &[u8] = b"hello from the loopback upstream\n";

/// What the service answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `200` with [`BODY`]; `/status/NNN` and `/echo` as described above.
    Upstream,
    /// `204` with no body.
    Authorizer,
}

type Body = BoxBody<Bytes, hyper::Error>;

fn full(bytes: &'static [u8]) -> Body {
    Full::new(Bytes::from_static(bytes))
        .map_err(|never| match never {})
        .boxed()
}

fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// `/status/NNN` → the status `NNN`, when it is one.
fn requested_status(path: &str) -> Option<StatusCode> {
    let code = path.strip_prefix("/status/")?;
    StatusCode::from_bytes(code.as_bytes()).ok()
}

async fn answer(mode: Mode, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    if mode == Mode::Authorizer {
        let mut resp = Response::new(empty());
        *resp.status_mut() = StatusCode::NO_CONTENT;
        return resp;
    }
    if path == "/echo" {
        return Response::new(req.into_body().boxed());
    }
    let status = requested_status(path).unwrap_or(StatusCode::OK);
    let body = req.into_body();
    if !body.is_end_stream() {
        // Read what the caller sent so the keep-alive connection stays usable.
        let _ = body.collect().await;
    }
    let mut resp = Response::new(full(BODY));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Serves `listener` forever (HTTP/1.1 and h2c).
pub async fn serve(listener: TcpListener, mode: Mode) {
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    loop {
        let Ok((stream, _peer)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let builder = Arc::clone(&builder);
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| async move {
                Ok::<_, Infallible>(answer(mode, req).await)
            });
            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}
