//! The gRPC front door: Envoy's `envoy.service.auth.v3.Authorization/Check`.
//!
//! Envoy sends the request line, the host and every header (with `encode_raw_headers`, each
//! line as sent; otherwise repeated names merged with `,`), the caller's address and the
//! listener's. An allowed request gets an `OkHttpResponse` that sets the identity headers and
//! removes what the sidecar would not forward; when the sidecar would forward another path
//! (normalized, presign parameters removed) the response sets `:path` to it, so the upstream
//! acts on the path the policy decided on.

mod wire;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use envoy_types::pb::envoy::config::core::v3::{HeaderValue, HeaderValueOption};
use envoy_types::pb::envoy::r#type::v3::HttpStatus;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{
    CheckResponse, DeniedHttpResponse, OkHttpResponse,
};
use envoy_types::pb::google::rpc::Status as RpcStatus;
use http::HeaderMap;
use tonic::codegen::BoxFuture;

use super::pipeline::{Pipeline, Verdict};
use super::view::{self, LastForwarded, RequestView, ViewError};
pub use wire::CheckMessage;
use wire::{AddressKind, Peer, PortSpecifier};

/// gRPC `OK`.
const GRPC_OK: i32 = 0;
/// gRPC `PERMISSION_DENIED`.
const GRPC_PERMISSION_DENIED: i32 = 7;
/// The one method served.
const CHECK_PATH: &str = "/envoy.service.auth.v3.Authorization/Check";

/// The `Authorization` service over the sidecar's pipeline.
#[derive(Debug, Clone)]
pub struct GrpcFront {
    pipeline: Pipeline,
}

impl GrpcFront {
    /// Answers checks with `pipeline` (built for [`FrontDoor::EnvoyGrpc`]).
    pub fn new(pipeline: Pipeline) -> Self {
        Self { pipeline }
    }

    /// Decides one `CheckRequest`.
    pub async fn decide(&self, req: CheckMessage) -> CheckResponse {
        let verdict = match request_view(req) {
            Ok(v) => self.pipeline.check(v).await,
            Err(e) => Verdict::refused(&e),
        };
        answer(verdict)
    }
}

/// `envoy.service.auth.v3.Authorization` over HTTP/2, as envoy-types' generated server serves
/// it (tonic's framing, limits and status codes, `UNIMPLEMENTED` for any other method), with
/// the request decoded as a [`CheckMessage`]: only the fields a check reads.
#[derive(Debug, Clone)]
pub struct AuthorizationServer {
    front: Arc<GrpcFront>,
}

impl AuthorizationServer {
    /// Serves `front`.
    pub fn new(front: GrpcFront) -> Self {
        Self {
            front: Arc::new(front),
        }
    }
}

impl<B> tower_service::Service<http::Request<B>> for AuthorizationServer
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != CHECK_PATH {
            return Box::pin(async {
                let mut res = http::Response::new(tonic::body::Body::default());
                res.headers_mut().insert(
                    tonic::Status::GRPC_STATUS,
                    (tonic::Code::Unimplemented as i32).into(),
                );
                res.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    tonic::metadata::GRPC_CONTENT_TYPE,
                );
                Ok(res)
            });
        }
        let check = Check(Arc::clone(&self.front));
        Box::pin(async move {
            let codec = tonic_prost::ProstCodec::<CheckResponse, CheckMessage>::default();
            Ok(tonic::server::Grpc::new(codec).unary(check, req).await)
        })
    }
}

/// One `Check` call.
struct Check(Arc<GrpcFront>);

impl tonic::server::UnaryService<CheckMessage> for Check {
    type Response = CheckResponse;
    type Future = BoxFuture<tonic::Response<CheckResponse>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<CheckMessage>) -> Self::Future {
        let front = Arc::clone(&self.0);
        Box::pin(async move {
            Ok(tonic::Response::new(
                front.decide(request.into_inner()).await,
            ))
        })
    }
}

fn socket(peer: Option<&Peer>) -> Option<SocketAddr> {
    let Some(AddressKind::SocketAddress(s)) = peer
        .and_then(|p| p.address.as_ref())
        .and_then(|a| a.address.as_ref())
    else {
        return None;
    };
    let ip: IpAddr = s.address.parse().ok()?;
    let port = match s.port_specifier {
        Some(PortSpecifier::PortValue(p)) => u16::try_from(p).ok()?,
        _ => 0,
    };
    Some(SocketAddr::new(ip, port))
}

/// The original request of a `CheckRequest`.
pub fn request_view(req: CheckMessage) -> Result<RequestView, ViewError> {
    let attrs = req.attributes.unwrap_or_default();
    let source = socket(attrs.source.as_ref());
    let local = socket(attrs.destination.as_ref());
    let mut http = attrs.request.and_then(|r| r.http).unwrap_or_default();
    // The decoded message owns each value: the header map takes them over without a copy.
    let mut headers;
    match http.header_map.take() {
        Some(map) if !map.headers.is_empty() => {
            headers = HeaderMap::with_capacity(map.headers.len());
            for h in map.headers {
                if !h.key.starts_with(':') {
                    let value = if h.raw_value.is_empty() {
                        Bytes::from(h.value)
                    } else {
                        h.raw_value
                    };
                    view::push_header(&mut headers, &h.key, value)?;
                }
            }
        }
        _ => {
            headers = HeaderMap::with_capacity(http.headers.len());
            for (k, v) in std::mem::take(&mut http.headers) {
                if !k.starts_with(':') {
                    view::push_header(&mut headers, &k, Bytes::from(v))?;
                }
            }
        }
    }
    let remote = source.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    // Envoy (`use_remote_address`) has appended the caller's address already: the sidecar
    // appends it itself, so it comes off the caller's list first.
    if let Some(last) = LastForwarded::read(&headers).filter(|l| l.ip == remote.ip()) {
        last.take(&mut headers);
    }
    let host = (!http.host.is_empty())
        .then(|| http::HeaderValue::from_str(&http.host))
        .transpose()
        .map_err(|_| ViewError::Header("host".to_owned()))?;
    Ok(RequestView {
        method: view::method(&http.method)?,
        target: http.path,
        host,
        headers,
        connection: view::connection(
            remote,
            local.map_or(0, |l| l.port()),
            http.scheme == "https",
        ),
    })
}

fn option(name: &str, value: &http::HeaderValue) -> HeaderValueOption {
    let (value, raw_value) = match value.to_str() {
        Ok(text) => (text.to_owned(), Vec::new()),
        Err(_) => (String::new(), value.as_bytes().to_vec()),
    };
    HeaderValueOption {
        header: Some(HeaderValue {
            key: name.to_owned(),
            value,
            raw_value,
        }),
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
        ..Default::default()
    }
}

/// The `CheckResponse` for `verdict`.
pub fn answer(verdict: Verdict) -> CheckResponse {
    match verdict {
        Verdict::Allow {
            set,
            remove,
            target,
        } => {
            let mut headers: Vec<HeaderValueOption> =
                set.iter().map(|(n, v)| option(n.as_str(), v)).collect();
            if let Some(t) = target
                .as_deref()
                .and_then(|t| http::HeaderValue::from_str(t).ok())
            {
                headers.push(option(":path", &t));
            }
            CheckResponse {
                status: Some(RpcStatus {
                    code: GRPC_OK,
                    ..Default::default()
                }),
                http_response: Some(HttpResponse::OkResponse(OkHttpResponse {
                    headers,
                    headers_to_remove: remove.iter().map(|n| n.as_str().to_owned()).collect(),
                    ..Default::default()
                })),
                ..Default::default()
            }
        }
        Verdict::Deny {
            status,
            headers,
            body,
        } => CheckResponse {
            status: Some(RpcStatus {
                code: GRPC_PERMISSION_DENIED,
                ..Default::default()
            }),
            http_response: Some(HttpResponse::DeniedResponse(DeniedHttpResponse {
                status: Some(HttpStatus {
                    code: i32::from(status.as_u16()),
                }),
                headers: headers.iter().map(|(n, v)| option(n.as_str(), v)).collect(),
                body: String::from_utf8_lossy(&body).into_owned(),
            })),
            ..Default::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::config::core::v3::address::Address as FullAddressKind;
    use envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier as FullPort;
    use envoy_types::pb::envoy::config::core::v3::{
        Address, HeaderMap as FullHeaderMap, SocketAddress,
    };
    use envoy_types::pb::envoy::service::auth::v3::attribute_context::{
        HttpRequest, Peer as FullPeer, Request,
    };
    use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest};
    use prost::Message;

    fn peer(ip: &str, port: u32) -> Option<FullPeer> {
        Some(FullPeer {
            address: Some(Address {
                address: Some(FullAddressKind::SocketAddress(SocketAddress {
                    address: ip.to_owned(),
                    port_specifier: Some(FullPort::PortValue(port)),
                    ..Default::default()
                })),
            }),
            principal: "spiffe://example/caller".to_owned(),
            labels: [("app".to_owned(), "caller".to_owned())].into(),
            ..Default::default()
        })
    }

    fn line(key: &str, value: &str, raw: &[u8]) -> HeaderValue {
        HeaderValue {
            key: key.to_owned(),
            value: value.to_owned(),
            raw_value: raw.to_vec(),
        }
    }

    /// What Envoy sends with `encode_raw_headers`, encoded as the full message.
    fn envoy_check() -> Vec<u8> {
        CheckRequest {
            attributes: Some(AttributeContext {
                source: peer("192.0.2.10", 40000),
                destination: peer("10.0.0.2", 10000),
                request: Some(Request {
                    time: Some(Default::default()),
                    http: Some(HttpRequest {
                        id: "4b0c7cf5-6c3e-4a8e-9d1a-7f2c1f0e9b11".to_owned(),
                        method: "GET".to_owned(),
                        path: "/a%2Fb/../c?x=1&y".to_owned(),
                        host: "svc.example".to_owned(),
                        scheme: "https".to_owned(),
                        protocol: "HTTP/1.1".to_owned(),
                        size: 0,
                        header_map: Some(FullHeaderMap {
                            headers: vec![
                                line(":authority", "", b"svc.example"),
                                line(":path", "", b"/a%2Fb/../c?x=1&y"),
                                line("accept", "", b"*/*"),
                                line("x-odd", "", b"caf\xe9"),
                                line("x-forwarded-for", "", b"203.0.113.9, 192.0.2.10"),
                                line("x-two", "", b"a"),
                                line("x-two", "", b"b"),
                                line("x-plain", "text", b""),
                            ],
                        }),
                        ..Default::default()
                    }),
                }),
                context_extensions: [("k".to_owned(), "v".to_owned())].into(),
                ..Default::default()
            }),
        }
        .encode_to_vec()
    }

    #[test]
    fn the_fields_a_check_reads_decode_as_envoy_sent_them() {
        let msg = CheckMessage::decode(Bytes::from(envoy_check())).unwrap();
        let view = request_view(msg).unwrap();
        assert_eq!(view.method, http::Method::GET);
        assert_eq!(view.target, "/a%2Fb/../c?x=1&y");
        assert_eq!(view.host.unwrap(), "svc.example");
        assert_eq!(view.connection.remote, "192.0.2.10:40000".parse().unwrap());
        assert_eq!(view.connection.local.port(), 10000);
        assert!(view.connection.tls);
        let h = &view.headers;
        assert!(h.get(":authority").is_none() && h.get(":path").is_none());
        assert_eq!(h.get("accept").unwrap(), "*/*");
        assert_eq!(h.get("x-odd").unwrap().as_bytes(), b"caf\xe9");
        // The peer Envoy appended comes off; the caller's own list stays.
        assert_eq!(h.get("x-forwarded-for").unwrap(), "203.0.113.9");
        let two: Vec<_> = h.get_all("x-two").iter().collect();
        assert_eq!(two, ["a", "b"]);
        assert_eq!(h.get("x-plain").unwrap(), "text");
        assert_eq!(h.len(), 6);
    }

    #[test]
    fn a_forwarded_entry_that_is_not_the_peer_stays() {
        let mut full = CheckRequest::decode(envoy_check().as_slice()).unwrap();
        let http = full
            .attributes
            .as_mut()
            .and_then(|a| a.request.as_mut())
            .and_then(|r| r.http.as_mut())
            .unwrap();
        http.header_map = None;
        http.headers = [
            ("x-forwarded-for".to_owned(), "198.51.100.1".to_owned()),
            ("accept".to_owned(), "*/*".to_owned()),
        ]
        .into();
        let msg = CheckMessage::decode(full.encode_to_vec().as_slice()).unwrap();
        let view = request_view(msg).unwrap();
        assert_eq!(view.headers.get("x-forwarded-for").unwrap(), "198.51.100.1");
        assert_eq!(view.headers.get("accept").unwrap(), "*/*");
    }

    #[test]
    fn the_last_address_member_sent_is_the_one_read() {
        let mut bytes = envoy_check();
        // A later `Address` for the source whose member is a pipe: the source is not a socket.
        let later = CheckRequest {
            attributes: Some(AttributeContext {
                source: Some(FullPeer {
                    address: Some(Address {
                        address: Some(FullAddressKind::Pipe(Default::default())),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        };
        bytes.extend(later.encode_to_vec());
        let view = request_view(CheckMessage::decode(bytes.as_slice()).unwrap()).unwrap();
        assert_eq!(view.connection.remote, "0.0.0.0:0".parse().unwrap());
    }
}
