//! What `Authenticate` and `Authorize` share: their settings (`--mode`, `--identity-policies`,
//! the verifier's region and skew, the ARNs), the snapshot cell they read, and the fact
//! `Authenticate` hands to `Authorize` so both decide on the same snapshot.
//!
//! The layers themselves are `layers::authenticate` and `layers::authorize`; the stack puts
//! them in place (`stack::Stack::service`).

use std::sync::Arc;

use arc_swap::ArcSwap;
use trellis_sigv4::VerifierConfig;

use crate::snapshot::Snapshot;

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Denied requests are answered `403`.
    #[default]
    Enforce,
    /// Denied requests are logged and counted, then forwarded.
    Audit,
}

impl Mode {
    /// The access-log spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Audit => "audit",
        }
    }
}

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

/// Everything the two auth layers read: the snapshot cell the reload task stores into, and the
/// settings. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Auth {
    snapshot: Arc<ArcSwap<Snapshot>>,
    settings: Arc<AuthSettings>,
}

impl Auth {
    /// Auth over `snapshot`'s current value at each request.
    pub fn new(snapshot: Arc<ArcSwap<Snapshot>>, settings: AuthSettings) -> Self {
        Self {
            snapshot,
            settings: Arc::new(settings),
        }
    }

    /// The snapshot cell.
    pub fn snapshot(&self) -> &Arc<ArcSwap<Snapshot>> {
        &self.snapshot
    }

    /// The settings.
    pub fn settings(&self) -> &Arc<AuthSettings> {
        &self.settings
    }
}

/// The snapshot a request is decided with, and who the caller is in it: recorded in the
/// request's `Outcome` by `Authenticate`, read by `Authorize`, so a reload between the two cannot pair a principal
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
