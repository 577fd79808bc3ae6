//! What the two auth layers share: their settings, and the fact `Authenticate` hands to
//! `Authorize` so both work on the same snapshot.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::sigv4::VerifierConfig;
use crate::snapshot::Snapshot;
use crate::stack::Mode;

use super::authenticate::AuthenticateLayer;
use super::authorize::AuthorizeLayer;

/// `--identity-policies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdentityPolicies {
    /// A signed caller also needs an allow from its own identity policies (Lattice).
    #[default]
    Enforce,
    /// Only the auth policies decide.
    Ignore,
}

/// The fixed (non-reloadable) inputs of authentication and authorization.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Region, signing name, clock skew.
    pub verifier: VerifierConfig,
    /// `--service-arn`: the resource prefix and `vpc-lattice-svcs:ServiceArn`.
    pub service_arn: Arc<str>,
    /// `--service-network-arn`.
    pub service_network_arn: Option<Arc<str>>,
    /// `--source-vpc`.
    pub source_vpc: Option<Arc<str>>,
    /// `--source-vpc-owner`.
    pub source_vpc_owner: Option<Arc<str>>,
    /// `--identity-policies`.
    pub identity_policies: IdentityPolicies,
    /// `--mode`.
    pub mode: Mode,
    /// `--xff`: the `x-forwarded-for` the upstream gets, which is also what a policy reading
    /// `RequestHeader/x-forwarded-for` sees.
    pub xff: crate::request_head::Xff,
    /// `--sts-audience`: the identity-token verifier; `None` refuses such tokens.
    pub sts: Option<Arc<crate::sts::TokenVerifier>>,
    /// Whether any level is `AWS_IAM`; with both `NONE` Lattice checks no signature and adds no
    /// identity, and neither do we.
    pub enabled: bool,
}

/// The snapshot a request is decided with, and who the caller is in it: inserted by
/// `Authenticate`, read by `Authorize`, so a reload between the two cannot pair a principal
/// handle with another file's principals.
#[derive(Debug, Clone)]
pub struct AuthenticatedCaller {
    /// The snapshot loaded once for this request.
    pub snapshot: Arc<Snapshot>,
    /// The principal handle of a signed caller (for an identity-token caller, of its role
    /// listed in `roles`); `None` for anonymous or an unlisted role.
    pub principal: Option<usize>,
    /// The caller of an STS identity token, mapped onto `snapshot`.
    pub token: Option<Arc<crate::sts::TokenCaller>>,
}

/// The auth slot of the stack: `Authenticate` outside, `Authorize` inside.
pub type AuthLayers = tower_layer::Stack<AuthorizeLayer, AuthenticateLayer>;

/// Both layers over one snapshot cell.
pub fn auth_layers(snapshot: Arc<ArcSwap<Snapshot>>, settings: AuthSettings) -> AuthLayers {
    let settings = Arc::new(settings);
    tower_layer::Stack::new(
        AuthorizeLayer::new(Arc::clone(&settings)),
        AuthenticateLayer::new(snapshot, settings),
    )
}
