//! Validates the request head (header limits; host and header rules, see
//! [`crate::request_head`]) and computes the one [`NormalizedPath`] every later layer and the
//! upstream use.

// Every byte here comes from the caller: a slice out of range must be a refusal, not a panic.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use std::task::{Context, Poll};

use futures_util::future::{ready, Either, Ready};
use http::{HeaderMap, Method, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::ProxyBody;
use crate::error::{BadRequest, ProxyError};
use crate::normalize::{NormalizedPath, PathRules};
use crate::outcome::Outcome;
use crate::request_head::{self, HeaderRules};

/// Header limits of a request head; Lattice's are 60 KiB in total or 100 fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderLimits {
    /// Most bytes of all header names and values (plus 4 per field for `: ` and CRLF).
    pub max_bytes: usize,
    /// Most header fields.
    pub max_count: usize,
}

impl Default for HeaderLimits {
    fn default() -> Self {
        Self {
            max_bytes: 60 * 1024,
            max_count: 100,
        }
    }
}

/// Checks `headers` against `limits`.
pub fn check_headers(headers: &HeaderMap, limits: HeaderLimits) -> Result<(), ProxyError> {
    let count = headers.len();
    let size: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    if count > limits.max_count || size > limits.max_bytes {
        return Err(ProxyError::HeadersTooLarge {
            size,
            count,
            max_size: limits.max_bytes,
            max_count: limits.max_count,
        });
    }
    Ok(())
}

/// Normalizes the target of `req` under `rules`, after checking its method.
///
/// A method with a lower-case letter is refused: HTTP methods are case-sensitive and the policy
/// decides on `get`, but frameworks upper-case it and serve `GET`.
pub fn normalize_request<B>(
    req: &Request<B>,
    rules: PathRules,
) -> Result<NormalizedPath, ProxyError> {
    let method = req.method().as_str();
    if method.bytes().any(|b| b.is_ascii_lowercase()) {
        return Err(BadRequest::LowercaseMethod(method.chars().take(32).collect()).into());
    }
    let uri = req.uri();
    if uri.path_and_query().is_none() || (req.method() == Method::CONNECT && uri.path().is_empty())
    {
        return Err(BadRequest::Target(uri.to_string().chars().take(64).collect()).into());
    }
    NormalizedPath::with_rules(uri.path(), uri.query(), rules)
        .map_err(|e| BadRequest::Path(e).into())
}

/// Adds [`Normalize`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NormalizeLayer {
    limits: HeaderLimits,
    path_rules: PathRules,
    header_rules: HeaderRules,
}

impl NormalizeLayer {
    /// A layer enforcing `limits`.
    pub fn new(limits: HeaderLimits) -> Self {
        Self {
            limits,
            path_rules: PathRules::default(),
            header_rules: HeaderRules::default(),
        }
    }

    /// The layer reading paths under `path_rules` (default: no `;`).
    pub fn with_path_rules(self, path_rules: PathRules) -> Self {
        Self { path_rules, ..self }
    }

    /// The same layer applying `rules` to the host and headers (see [`request_head::settle`]).
    pub fn with_header_rules(self, header_rules: HeaderRules) -> Self {
        Self {
            header_rules,
            ..self
        }
    }
}

impl<S> Layer<S> for NormalizeLayer {
    type Service = Normalize<S>;
    fn layer(&self, inner: S) -> Normalize<S> {
        Normalize {
            inner,
            limits: self.limits,
            path_rules: self.path_rules,
            header_rules: self.header_rules,
        }
    }
}

/// Rejects oversized heads and bad paths; inserts [`NormalizedPath`] into the extensions.
#[derive(Debug, Clone)]
pub struct Normalize<S> {
    inner: S,
    limits: HeaderLimits,
    path_rules: PathRules,
    header_rules: HeaderRules,
}

impl<S, B> Service<Request<B>> for Normalize<S>
where
    S: Service<Request<B>, Response = Response<ProxyBody>, Error = ProxyError>,
{
    type Response = Response<ProxyBody>;
    type Error = ProxyError;
    type Future = Either<Ready<Result<Response<ProxyBody>, ProxyError>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        if let Err(e) = check_headers(req.headers(), self.limits) {
            return Either::Left(ready(Err(e)));
        }
        // Before authentication and authorization: the host they read is the one forwarded,
        // and no header they read is removed afterwards.
        if let Err(e) = request_head::settle(&mut req, &self.header_rules) {
            return Either::Left(ready(Err(BadRequest::Header(e).into())));
        }
        match normalize_request(&req, self.path_rules) {
            Ok(path) => {
                if let Some(outcome) = req.extensions().get::<Outcome>() {
                    outcome.set_path(path.shared_path());
                }
                req.extensions_mut().insert(path);
                Either::Right(self.inner.call(req))
            }
            Err(e) => Either::Left(ready(Err(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::PathError;
    use http::HeaderValue;

    #[test]
    fn header_limits_count_fields_and_bytes() {
        let mut h = HeaderMap::new();
        h.insert("a", HeaderValue::from_static("1"));
        let limits = HeaderLimits {
            max_bytes: 10,
            max_count: 1,
        };
        assert!(check_headers(&h, limits).is_ok());
        h.insert("b", HeaderValue::from_static("2"));
        assert!(matches!(
            check_headers(&h, limits),
            Err(ProxyError::HeadersTooLarge { count: 2, .. })
        ));
        let mut big = HeaderMap::new();
        big.insert("a", HeaderValue::from_static("0123456789"));
        assert!(matches!(
            check_headers(&big, limits),
            Err(ProxyError::HeadersTooLarge { size: 15, .. })
        ));
    }

    #[test]
    fn request_targets_are_normalized_with_query_kept() {
        let req = Request::get("/a/%2e%2e/b//c?x=%2F").body(()).unwrap();
        let p = normalize_request(&req, PathRules::default()).unwrap();
        assert_eq!(p.path(), "/b/c");
        assert_eq!(p.query(), Some("x=%2F"));
        assert_eq!(p.path_and_query(), "/b/c?x=%2F");
        // The access log's path shares the buffer and stops before the query.
        assert_eq!(&*p.shared_path(), "/b/c");
        assert_eq!(&*crate::normalize::SharedPath::from("/raw%2f"), "/raw%2f");
    }

    #[test]
    fn authority_form_and_bad_paths_are_bad_requests() {
        let connect = Request::connect("example.com:443").body(()).unwrap();
        assert!(matches!(
            normalize_request(&connect, PathRules::default()),
            Err(ProxyError::BadRequest(BadRequest::Target(_)))
        ));
        let bad = Request::get("/a%2fb").body(()).unwrap();
        assert!(matches!(
            normalize_request(&bad, PathRules::default()),
            Err(ProxyError::BadRequest(BadRequest::Path(_)))
        ));
    }

    #[test]
    fn a_method_with_a_lower_case_letter_is_refused() {
        for method in ["get", "Get", "gET", "delete", "propfind"] {
            let req = Request::builder()
                .method(method)
                .uri("/a")
                .body(())
                .unwrap();
            let err = normalize_request(&req, PathRules::default()).unwrap_err();
            assert!(
                matches!(&err, ProxyError::BadRequest(BadRequest::LowercaseMethod(m)) if m == method),
                "{method}: {err:?}"
            );
            assert_eq!(
                err.to_string(),
                format!("request method `{method}` contains a lower-case letter; send the method in upper case, such as `GET`")
            );
        }
        for method in ["GET", "DELETE", "PROPFIND", "M-SEARCH"] {
            let req = Request::builder()
                .method(method)
                .uri("/a")
                .body(())
                .unwrap();
            assert!(
                normalize_request(&req, PathRules::default()).is_ok(),
                "{method}"
            );
        }
    }

    #[test]
    fn path_rules_reach_the_normalizer() {
        let req = Request::get("/a;v=1/b").body(()).unwrap();
        assert!(matches!(
            normalize_request(&req, PathRules::default()),
            Err(ProxyError::BadRequest(BadRequest::Path(
                PathError::Semicolon
            )))
        ));
        let allowed = PathRules {
            allow_semicolons: true,
        };
        assert_eq!(normalize_request(&req, allowed).unwrap().path(), "/a;v=1/b");
    }
}
