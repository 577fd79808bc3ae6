//! What a front door hands the pipeline: the original request as the proxy received it.

use std::net::{IpAddr, SocketAddr};

use http::header::{HeaderName, HOST};
use http::{HeaderMap, HeaderValue, Method, Request};

use crate::layers::ConnectionInfo;
use crate::request_head::names::X_FORWARDED_FOR;

/// Which proxy asked: logged in the access log's `authorizer` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontDoor {
    /// Envoy/Istio gRPC `Authorization/Check`.
    EnvoyGrpc,
    /// Envoy/Istio HTTP ext_authz service.
    EnvoyHttp,
    /// nginx `auth_request`.
    Nginx,
}

impl FrontDoor {
    /// The access-log spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EnvoyGrpc => "envoy-grpc",
            Self::EnvoyHttp => "envoy-http",
            Self::Nginx => "nginx",
        }
    }
}

/// The original request, as the proxy in front received it.
#[derive(Debug)]
pub struct RequestView {
    /// The method, exactly as sent (a lower-case method is refused by `Normalize`).
    pub method: Method,
    /// Path and query as sent, undecoded.
    pub target: String,
    /// The request's authority.
    pub host: Option<HeaderValue>,
    /// Every header line (pseudo-headers excluded).
    pub headers: HeaderMap,
    /// The caller's address and the port and scheme it connected to.
    pub connection: ConnectionInfo,
}

/// A view that cannot be built: the proxy sent something no request could be.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The method is not a token.
    #[error("the method `{0}` is not an HTTP method")]
    Method(String),
    /// The target does not parse as a path and query.
    #[error("the request target `{0}` is not a path")]
    Target(String),
    /// A header name or value cannot be sent in HTTP.
    #[error("the header `{0}` cannot be sent in HTTP")]
    Header(String),
}

impl RequestView {
    /// The request the pipeline decides on; `Host` carries the authority (as `Normalize` reads
    /// it), the extensions the connection facts (as the server inserts them).
    pub fn into_request(
        self,
    ) -> Result<(Request<http_body_util::Empty<bytes::Bytes>>, HeaderMap), ViewError> {
        let mut headers = self.headers;
        if let Some(host) = self.host {
            if !headers.contains_key(HOST) {
                headers.insert(HOST, host);
            }
        }
        let original = headers.clone();
        let mut req = Request::builder()
            .method(self.method)
            .uri(self.target.as_str())
            .body(http_body_util::Empty::new())
            .map_err(|_| ViewError::Target(self.target.chars().take(64).collect()))?;
        *req.headers_mut() = headers;
        req.extensions_mut().insert(self.connection);
        Ok((req, original))
    }
}

/// Parses a method sent as text.
pub fn method(text: &str) -> Result<Method, ViewError> {
    Method::from_bytes(text.as_bytes())
        .map_err(|_| ViewError::Method(text.chars().take(32).collect()))
}

/// Appends one header line whose value the caller owns (no copy).
pub fn push_header(
    headers: &mut HeaderMap,
    name: &str,
    value: bytes::Bytes,
) -> Result<(), ViewError> {
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| ViewError::Header(name.chars().take(64).collect()))?;
    let value = HeaderValue::from_maybe_shared(value)
        .map_err(|_| ViewError::Header(name.as_str().to_owned()))?;
    headers.append(name, value);
    Ok(())
}

/// The proxy in front appended the caller's address to `x-forwarded-for` (Envoy with
/// `use_remote_address`, nginx with `$proxy_add_x_forwarded_for`): the last entry is the
/// caller the proxy saw, and what precedes it is the caller's own list. Removes the last
/// entry and returns it; the header is removed when nothing precedes it.
pub fn take_last_forwarded(headers: &mut HeaderMap) -> Option<IpAddr> {
    let last = LastForwarded::read(headers)?;
    let ip = last.ip;
    last.take(headers);
    Some(ip)
}

/// The last `x-forwarded-for` entry and the list before it, read without changing the map: a
/// front door that takes the entry off only when it names a known peer reads it first.
#[derive(Debug)]
pub struct LastForwarded {
    /// The last entry.
    pub ip: IpAddr,
    /// The entries before it; `None` when nothing precedes it.
    rest: Option<HeaderValue>,
}

impl LastForwarded {
    /// The single `x-forwarded-for` line's last entry, when it is an address.
    pub fn read(headers: &HeaderMap) -> Option<Self> {
        let mut values = headers.get_all(&X_FORWARDED_FOR).iter();
        let value = values.next()?;
        if values.next().is_some() {
            // Two lines: not what a proxy writes; leave them for the header rules.
            return None;
        }
        let text = value.to_str().ok()?;
        let (rest, last) = match text.rsplit_once(',') {
            Some((rest, last)) => (Some(rest.trim()), last.trim()),
            None => (None, text.trim()),
        };
        let ip = last.parse::<IpAddr>().ok()?;
        let rest = rest
            .filter(|r| !r.is_empty())
            .and_then(|r| HeaderValue::from_str(r).ok());
        Some(Self { ip, rest })
    }

    /// Takes the entry off `headers` (the map it was read from).
    pub fn take(self, headers: &mut HeaderMap) {
        match self.rest {
            Some(v) => {
                headers.insert(X_FORWARDED_FOR.clone(), v);
            }
            None => {
                headers.remove(&X_FORWARDED_FOR);
            }
        }
    }
}

/// The connection facts for a caller at `remote` that reached `port` over `tls`.
pub fn connection(remote: SocketAddr, port: u16, tls: bool) -> ConnectionInfo {
    ConnectionInfo::new(
        remote,
        SocketAddr::new(IpAddr::from([0, 0, 0, 0]), port),
        tls,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_forwarded_entry_is_the_peer_and_the_rest_stays() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("192.0.2.1, 10.0.0.7"),
        );
        assert_eq!(
            take_last_forwarded(&mut h),
            Some("10.0.0.7".parse().unwrap())
        );
        assert_eq!(h.get("x-forwarded-for").unwrap(), "192.0.2.1");
        assert_eq!(
            take_last_forwarded(&mut h),
            Some("192.0.2.1".parse().unwrap())
        );
        assert!(h.get("x-forwarded-for").is_none());
        assert_eq!(take_last_forwarded(&mut h), None);
    }
}
