//! The request path as tower layers, outermost first:
//! `Audit → SetRequestId → Respond → Normalize → [Authenticate → Authorize] → IdentityHeaders → Forward`.
//!
//! Layers are thin: the rules they apply live in plain functions (`normalize`,
//! `caller_identity`, `layers::respond::respond`) tested without sockets. Below `Respond` every
//! service answers `Result<Response<ProxyBody>, ProxyError>`; from `Respond` outwards the error
//! type is `Infallible`, so a failure can never reach hyper and reset a connection.

pub mod audit;
pub mod authenticate;
pub mod authorize;
pub mod body_digest;
pub mod forward;
pub mod identity_headers;
pub mod normalize;
pub mod request_id;
pub mod respond;

/// Re-exported where the layers read it; it lives in a leaf module so the decision log can
/// hold it without depending on the layers.
pub use crate::connection::ConnectionInfo;
