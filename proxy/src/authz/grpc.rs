//! The gRPC front door: Envoy's `envoy.service.auth.v3.Authorization/Check`.
//!
//! Envoy sends the request line, the host and every header (with `encode_raw_headers`, each
//! line as sent; otherwise repeated names merged with `,`), the caller's address and the
//! listener's. An allowed request gets an `OkHttpResponse` that sets the identity headers and
//! removes what the sidecar would not forward; when the sidecar would forward another path
//! (normalized, presign parameters removed) the response sets `:path` to it, so the upstream
//! acts on the path the policy decided on.

use std::net::{IpAddr, SocketAddr};

use envoy_types::pb::envoy::config::core::v3::address::Address as AddressKind;
use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier;
use envoy_types::pb::envoy::config::core::v3::{Address, HeaderValue, HeaderValueOption};
use envoy_types::pb::envoy::r#type::v3::HttpStatus;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::Peer;
use envoy_types::pb::envoy::service::auth::v3::authorization_server::Authorization;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{
    CheckRequest, CheckResponse, DeniedHttpResponse, OkHttpResponse,
};
use envoy_types::pb::google::rpc::Status as RpcStatus;
use http::HeaderMap;

use super::pipeline::{Pipeline, Verdict};
use super::view::{self, RequestView, ViewError};

pub use envoy_types::pb::envoy::service::auth::v3::authorization_server::AuthorizationServer;

/// gRPC `OK`.
const GRPC_OK: i32 = 0;
/// gRPC `PERMISSION_DENIED`.
const GRPC_PERMISSION_DENIED: i32 = 7;

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
    pub async fn decide(&self, req: CheckRequest) -> CheckResponse {
        let verdict = match request_view(req) {
            Ok(v) => self.pipeline.check(v).await,
            Err(e) => Verdict::refused(&e),
        };
        answer(verdict)
    }
}

#[tonic::async_trait]
impl Authorization for GrpcFront {
    async fn check(
        &self,
        request: tonic::Request<CheckRequest>,
    ) -> Result<tonic::Response<CheckResponse>, tonic::Status> {
        Ok(tonic::Response::new(
            self.decide(request.into_inner()).await,
        ))
    }
}

fn socket(peer: Option<&Peer>) -> Option<SocketAddr> {
    let Some(Address {
        address: Some(AddressKind::SocketAddress(s)),
    }) = peer.and_then(|p| p.address.as_ref())
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
pub fn request_view(req: CheckRequest) -> Result<RequestView, ViewError> {
    let attrs = req.attributes.unwrap_or_default();
    let source = socket(attrs.source.as_ref());
    let local = socket(attrs.destination.as_ref());
    let http = attrs.request.and_then(|r| r.http).unwrap_or_default();
    let mut headers = HeaderMap::new();
    match &http.header_map {
        Some(map) if !map.headers.is_empty() => {
            for h in &map.headers {
                if !h.key.starts_with(':') {
                    let value = if h.raw_value.is_empty() {
                        h.value.as_bytes()
                    } else {
                        &h.raw_value
                    };
                    view::push_header(&mut headers, &h.key, value)?;
                }
            }
        }
        _ => {
            for (k, v) in &http.headers {
                if !k.starts_with(':') {
                    view::push_header(&mut headers, k, v.as_bytes())?;
                }
            }
        }
    }
    let remote = source.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    // Envoy (`use_remote_address`) has appended the caller's address already: the sidecar
    // appends it itself, so it comes off the caller's list first.
    let mut probe = headers.clone();
    if view::take_last_forwarded(&mut probe) == Some(remote.ip()) {
        headers = probe;
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
