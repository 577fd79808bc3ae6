//! The condition keys of one request, answered from the request, the connection, the
//! settings and the principal directly: nothing is formatted unless a policy asks for it, and
//! then only once per request.

use std::cell::OnceCell;
use std::time::SystemTime;

use http::{HeaderMap, HeaderValue};
use trellis_policy::{Context, GlobalKey, Key, KeyKind, Values};

use super::query_groups::QueryGroups;
use crate::auth::AuthSettings;
use crate::caller_identity::CallerIdentity;
use crate::connection::ConnectionInfo;
use crate::layers::identity_headers::{forwarded, target_header};
use crate::normalize::NormalizedPath;
use crate::principals::PrincipalRecord;
use crate::request_head::is_proxy_written;

/// The request as policy conditions see it.
#[derive(Debug)]
pub struct RequestContext<'a> {
    pub(crate) settings: &'a AuthSettings,
    pub(crate) conn: Option<&'a ConnectionInfo>,
    pub(crate) method: &'a str,
    pub(crate) path: &'a NormalizedPath,
    pub(crate) headers: &'a HeaderMap,
    /// `None` for anonymous callers.
    pub(crate) principal: Option<&'a PrincipalRecord>,
    /// The identity headers the upstream will get (signed callers).
    pub(crate) caller: Option<&'a CallerIdentity>,
    pub(crate) now: SystemTime,
    lazy: Lazy,
}

#[derive(Debug, Default)]
struct Lazy {
    current_time: OnceCell<String>,
    epoch_time: OnceCell<String>,
    /// `x-forwarded-for` and `x-amzn-lattice-target` as forwarded.
    forwarded_for: OnceCell<Option<HeaderValue>>,
    target: OnceCell<Option<String>>,
    /// Decoded query values by lower-cased key.
    query: OnceCell<QueryGroups>,
}

impl<'a> RequestContext<'a> {
    /// A context over one request.
    pub fn new(
        settings: &'a AuthSettings,
        conn: Option<&'a ConnectionInfo>,
        method: &'a str,
        path: &'a NormalizedPath,
        headers: &'a HeaderMap,
        principal: Option<&'a PrincipalRecord>,
        now: SystemTime,
    ) -> Self {
        Self {
            settings,
            conn,
            method,
            path,
            headers,
            principal,
            caller: None,
            now,
            lazy: Lazy::default(),
        }
    }

    /// The same context for a signed caller whose identity headers the upstream will get.
    pub fn with_caller(self, caller: Option<&'a CallerIdentity>) -> Self {
        Self { caller, ..self }
    }

    /// The value of the one line of header `name`. A header a policy reads never comes on
    /// two lines here: `authorize` refuses such a request first (see
    /// [`crate::request_head::repeated_read_header`]), and `Normalize` already wrote the
    /// request's authority into `host` and removed what is not forwarded.
    fn header(&self, name: &str) -> Option<Values<'_>> {
        if let Some(owned) = self.owned_header(name) {
            return owned;
        }
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(Values::One)
    }

    /// A header whose forwarded value the proxy decides, read as the upstream will get it
    /// (`Some`), or `None` for every other header. The caller's own lines of these are removed
    /// or replaced after the decision, so deciding on them would decide on something the
    /// service never sees: the credentials are not forwarded, the identity and target headers
    /// are the proxy's, `x-forwarded-*` are rewritten per `--xff` and the connection.
    fn owned_header(&self, name: &str) -> Option<Option<Values<'_>>> {
        if !is_proxy_written(name) {
            return None;
        }
        let value = match name {
            "x-amzn-lattice-identity" => self.caller.and_then(|c| c.identity.to_str().ok()),
            "x-amzn-lattice-identity-tags" => self.caller.and_then(|c| c.tags.to_str().ok()),
            "x-amzn-lattice-target" => self
                .lazy
                .target
                .get_or_init(|| {
                    target_header(
                        &self.settings.service_arn,
                        self.settings.service_network_arn.as_deref(),
                    )
                    .and_then(|v| v.to_str().ok().map(str::to_owned))
                })
                .as_deref(),
            "x-forwarded-for" => {
                let conn = self.conn?;
                self.lazy
                    .forwarded_for
                    .get_or_init(|| forwarded::forwarded_for(self.headers, conn, self.settings.xff))
                    .as_ref()
                    .and_then(|v| v.to_str().ok())
            }
            "x-forwarded-port" => self.conn?.local_port_text().to_str().ok(),
            "x-forwarded-proto" => {
                let conn = self.conn?;
                Some(if conn.tls { "https" } else { "http" })
            }
            // The credentials, `x-amzn-lattice-network` and `x-amzn-source-vpc`: never forwarded.
            _ => None,
        };
        Some(value.map(Values::One))
    }

    fn query(&self, name: &str) -> Option<Values<'_>> {
        let groups = self
            .lazy
            .query
            .get_or_init(|| QueryGroups::new(self.path.query_pairs()));
        groups.get(name).map(|v| Values::Many(v))
    }
}

/// `2026-11-23T13:33:40Z`.
pub fn iso8601(t: SystemTime) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from(t)
        .format(&format)
        .unwrap_or_default()
}

impl Context for RequestContext<'_> {
    fn get(&self, key: &Key<'_>) -> Option<Values<'_>> {
        let s = self.settings;
        match key.kind {
            KeyKind::Global(g) => match g {
                GlobalKey::SourceIp => self
                    .conn
                    .and_then(|c| c.remote_ip_text().to_str().ok())
                    .map(Values::One),
                GlobalKey::CurrentTime => Some(Values::One(
                    self.lazy.current_time.get_or_init(|| iso8601(self.now)),
                )),
                GlobalKey::EpochTime => Some(Values::One(self.lazy.epoch_time.get_or_init(|| {
                    self.now
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs())
                        .to_string()
                }))),
                GlobalKey::SecureTransport => self
                    .conn
                    .map(|c| Values::One(if c.tls { "true" } else { "false" })),
                GlobalKey::LatticePort => self
                    .conn
                    .and_then(|c| c.local_port_text().to_str().ok())
                    .map(Values::One),
                GlobalKey::LatticeRequestMethod => Some(Values::One(self.method)),
                GlobalKey::LatticeRequestPath => Some(Values::One(self.path.path())),
                GlobalKey::LatticeServiceArn => Some(Values::One(&s.service_arn)),
                GlobalKey::LatticeServiceNetworkArn => {
                    s.service_network_arn.as_deref().map(Values::One)
                }
                GlobalKey::LatticeSourceVpc => s.source_vpc.as_deref().map(Values::One),
                GlobalKey::LatticeSourceVpcOwnerAccount => {
                    s.source_vpc_owner.as_deref().map(Values::One)
                }
                _ => self.principal_value(key),
            },
            KeyKind::RequestHeader(name) => self.header(name),
            KeyKind::RequestQueryString(name) => self.query(name),
            _ => self.principal_value(key),
        }
    }
}

impl RequestContext<'_> {
    fn principal_value(&self, key: &Key<'_>) -> Option<Values<'_>> {
        match self.principal {
            Some(p) => p.condition_value(key),
            None => matches!(key.kind, KeyKind::Global(GlobalKey::PrincipalType))
                .then_some(Values::One("Anonymous")),
        }
    }
}
