//! Deciding a recorded request again with candidate policies (`trellis policy replay`).
//!
//! The request is rebuilt into the proxy's own [`RequestContext`] — settings, connection,
//! normalized path, headers, principal record and identity headers as they were — and decided
//! by the same `decide`, so a condition key is answered by the one implementation the proxy
//! uses.
//!
//! A layer with a candidate (`--network-policy`, `--service-policy`; the identity layer with
//! `--principals`) is evaluated again; every other layer keeps the result recorded in
//! `layers`. The layers are then combined as Lattice does: an explicit deny in any layer wins
//! (the first in the order network, service, identity), otherwise the first layer that did not
//! allow denies implicitly, otherwise the request is allowed.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};
use trellis_policy::{decide, CompiledPolicy, Effect, Layer, LayerPolicy, Layers, Matched};
use trellis_policy::{Principal, Reason, Request};

use crate::auth::{AuthSettings, IdentityPolicies, Mode};
use crate::caller_identity::CallerIdentity;
use crate::connection::ConnectionInfo;
use crate::decision_log::record::{LayerResult, RecordedPrincipal, RecordedRequest};
use crate::layers::authorize::{RequestContext, INVOKE};
use crate::normalize::NormalizedPath;
use crate::principals::{IamIdentity, PrincipalRecord, PrincipalStore, PrincipalType, Tag};
use crate::request_head::Xff;
use trellis_sigv4::VerifierConfig;

/// The candidate files; `None` keeps the layer's recorded result.
#[derive(Debug, Default)]
pub struct Candidates {
    pub network: Option<CompiledPolicy>,
    pub service: Option<CompiledPolicy>,
    /// Identity policies, tags and organization of the callers.
    pub principals: Option<PrincipalStore>,
}

/// A recorded line that cannot be decided again.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("header `{0}` is not a valid header name or value")]
    Header(String),
    #[error("`xff` must be `replace` or `append`, not `{0}`")]
    Xff(String),
    #[error("principal `{0}`: {1}")]
    Principal(String, String),
    #[error("`identityHeader` is not a valid header value")]
    IdentityHeader,
}

/// The new decision of one request, and what made the difference when it flipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    pub allowed_before: bool,
    pub allowed_after: bool,
    pub reason: Reason,
    pub layer: Option<Layer>,
    /// For a flipped decision: the statement (`service#2(DenyAdmin)`) or the missing allow
    /// (`service: no statement allows`) that made the difference.
    pub difference: Option<String>,
}

impl Replayed {
    /// Whether the decision flipped (a new reason for the same decision is no change).
    pub fn changed(&self) -> bool {
        self.allowed_before != self.allowed_after
    }
}

/// The fields of [`AuthSettings`] a line carries, to reuse the settings across lines.
#[derive(Debug, PartialEq, Eq)]
struct SettingsKey {
    service_arn: String,
    service_network_arn: Option<String>,
    source_vpc: Option<String>,
    source_vpc_owner: Option<String>,
    xff: Xff,
}

/// Decides recorded requests again; reuses its buffers across lines.
#[derive(Debug)]
pub struct Replayer<'c> {
    candidates: &'c Candidates,
    settings: Option<(SettingsKey, AuthSettings)>,
    matches: Vec<Matched>,
    resource: String,
    /// Callers rebuilt from earlier lines (not in the candidate principals file), reused while
    /// a line names the same caller with the same facts.
    rebuilt: Vec<PrincipalRecord>,
}

/// Rebuilt callers kept; a log of more distinct callers rebuilds the others per line.
const REBUILT_CALLERS: usize = 64;

const LAYERS: [Layer; 3] = [Layer::Network, Layer::Service, Layer::Identity];

fn label(m: &Matched) -> String {
    let mut s = format!("{}#{}", m.layer.as_str(), m.index);
    if let Some(sid) = &m.sid {
        s.push('(');
        s.push_str(sid);
        s.push(')');
    }
    s
}

fn parse_xff(text: &str) -> Result<Xff, ReplayError> {
    match text {
        "replace" => Ok(Xff::Replace),
        "append" => Ok(Xff::Append),
        other => Err(ReplayError::Xff(other.to_owned())),
    }
}

/// Whether `rec` (rebuilt from an earlier line) is the caller `p` of this line, field for
/// field: a log repeats its callers, and rebuilding one costs a dozen allocations.
fn same_principal(rec: &PrincipalRecord, p: &RecordedPrincipal<'_>) -> bool {
    rec.caller_arn == *p.arn
        && rec.principal_arn == *p.principal_arn
        && rec.account == *p.account
        && rec.principal_type.as_str() == p.principal_type
        && rec.session_name.as_deref() == p.session_name.as_deref()
        && rec.org_id.as_deref() == p.org_id.as_deref()
        && rec.org_paths == p.org_paths
        && rec.tags.len() == p.tags.len()
        && rec
            .tags
            .iter()
            .zip(&p.tags)
            .all(|(t, (k, v))| t.key == *k && t.value == *v)
}

/// The caller's record as the proxy knew it, rebuilt from the line.
fn recorded_principal(p: &RecordedPrincipal<'_>) -> Result<PrincipalRecord, ReplayError> {
    let err = |m: String| ReplayError::Principal(p.arn.to_string(), m);
    let principal_type = match &*p.principal_type {
        "User" => PrincipalType::User,
        "AssumedRole" => PrincipalType::AssumedRole,
        other => return Err(err(format!("unknown type `{other}`"))),
    };
    Ok(PrincipalRecord {
        caller_arn: p.arn.to_string(),
        principal_arn: p.principal_arn.to_string(),
        account: p.account.to_string(),
        principal_type,
        identity: IamIdentity::parse(&p.principal_arn).map_err(err)?,
        session_name: p.session_name.as_deref().map(str::to_owned),
        org_id: p.org_id.as_deref().map(str::to_owned),
        org_paths: p.org_paths.clone(),
        tags: p
            .tags
            .iter()
            .map(|(k, v)| Tag {
                key: k.to_string(),
                key_lower: k.to_ascii_lowercase(),
                value: v.to_string(),
            })
            .collect(),
        policies: Vec::new(),
        keys: Vec::new(),
    })
}

/// The index in `cache` of caller `p`, rebuilt and added when not there.
fn rebuild(
    cache: &mut Vec<PrincipalRecord>,
    p: &RecordedPrincipal<'_>,
) -> Result<usize, ReplayError> {
    if let Some(i) = cache.iter().position(|rec| same_principal(rec, p)) {
        return Ok(i);
    }
    let record = recorded_principal(p)?;
    if cache.len() < REBUILT_CALLERS {
        cache.push(record);
        Ok(cache.len() - 1)
    } else {
        // Full: the newest caller takes the last slot.
        let last = cache.len() - 1;
        cache[last] = record;
        Ok(last)
    }
}

/// Lattice's combination of per-layer results (see the module docs).
fn combine(results: &[(Layer, LayerResult); 3]) -> (Reason, Option<Layer>) {
    for wanted in [LayerResult::ExplicitDeny, LayerResult::ImplicitDeny] {
        if let Some((layer, result)) = results.iter().find(|(_, r)| *r == wanted) {
            return (
                result.reason().unwrap_or(Reason::ImplicitDeny),
                Some(*layer),
            );
        }
    }
    (Reason::Allowed, None)
}

impl SettingsKey {
    /// Whether `r` carries these settings (compared in place: most lines repeat them).
    fn matches(&self, r: &RecordedRequest<'_>, xff: Xff) -> bool {
        self.service_arn == *r.service_arn
            && self.service_network_arn.as_deref() == r.service_network_arn.as_deref()
            && self.source_vpc.as_deref() == r.source_vpc.as_deref()
            && self.source_vpc_owner.as_deref() == r.source_vpc_owner.as_deref()
            && self.xff == xff
    }
}

/// The settings of `r`, rebuilt only when they differ from the previous line's.
fn settings_for<'s>(
    cache: &'s mut Option<(SettingsKey, AuthSettings)>,
    r: &RecordedRequest<'_>,
) -> Result<&'s AuthSettings, ReplayError> {
    let xff = parse_xff(&r.xff)?;
    if cache.as_ref().is_some_and(|(k, _)| !k.matches(r, xff)) {
        *cache = None;
    }
    let (_, settings) = cache.get_or_insert_with(|| {
        let key = SettingsKey {
            service_arn: r.service_arn.to_string(),
            service_network_arn: r.service_network_arn.as_deref().map(str::to_owned),
            source_vpc: r.source_vpc.as_deref().map(str::to_owned),
            source_vpc_owner: r.source_vpc_owner.as_deref().map(str::to_owned),
            xff,
        };
        let arc = |s: &Option<String>| s.as_deref().map(Arc::from);
        let settings = AuthSettings {
            verifier: VerifierConfig {
                region: String::new(),
                service: VerifierConfig::LATTICE_SERVICE.to_owned(),
                max_clock_skew: Duration::ZERO,
            },
            service_arn: Arc::from(key.service_arn.as_str()),
            service_network_arn: arc(&key.service_network_arn),
            source_vpc: arc(&key.source_vpc),
            source_vpc_owner: arc(&key.source_vpc_owner),
            identity_policies: IdentityPolicies::Enforce,
            mode: Mode::Enforce,
            xff: key.xff,
            sts: None,
            enabled: true,
        };
        (key, settings)
    });
    Ok(settings)
}

impl<'c> Replayer<'c> {
    /// A replayer deciding with `candidates`.
    pub fn new(candidates: &'c Candidates) -> Self {
        Self {
            candidates,
            settings: None,
            matches: Vec::new(),
            resource: String::new(),
            rebuilt: Vec::new(),
        }
    }

    /// Decides `r` again with the candidates.
    pub fn replay(&mut self, r: &RecordedRequest<'_>) -> Result<Replayed, ReplayError> {
        let settings = settings_for(&mut self.settings, r)?;
        let mut headers = HeaderMap::with_capacity(r.headers.len());
        for (name, value) in &r.headers {
            let bad = || ReplayError::Header(name.to_string());
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?,
                HeaderValue::from_str(value).map_err(|_| bad())?,
            );
        }
        let identity = match (&r.identity_header, &r.identity_tags_header) {
            (Some(id), tags) => Some(CallerIdentity {
                identity: HeaderValue::from_str(id).map_err(|_| ReplayError::IdentityHeader)?,
                tags: HeaderValue::from_str(tags.as_deref().unwrap_or(""))
                    .map_err(|_| ReplayError::IdentityHeader)?,
            }),
            (None, _) => None,
        };
        let conn = match (r.source, r.local) {
            (Some(remote), Some(local)) => Some(ConnectionInfo::new(remote, local, r.tls)),
            _ => None,
        };
        let path = NormalizedPath::from_recorded(&r.path, r.query.as_deref());
        let candidates = self.candidates;
        let known = match (&candidates.principals, &r.principal) {
            (Some(store), Some(p)) => crate::principals::find_caller(store, &p.arn),
            _ => None,
        };
        let rebuilt = match (&known, &r.principal) {
            (None, Some(p)) => Some(rebuild(&mut self.rebuilt, p)?),
            _ => None,
        };
        let rebuilt = rebuilt.map(|i| &self.rebuilt[i]);
        let record: Option<&PrincipalRecord> = known.map(|k| k.record).or(rebuilt);
        const NO_POLICIES: &[CompiledPolicy] = &[];
        let replay_identity =
            candidates.principals.is_some() && r.layers.identity != LayerResult::Off;
        let layer_of = |p: &'c Option<CompiledPolicy>| {
            p.as_ref().map_or(LayerPolicy::Off, |p| {
                LayerPolicy::Policies(std::slice::from_ref(p))
            })
        };
        let layers = Layers {
            network: layer_of(&candidates.network),
            service: layer_of(&candidates.service),
            identity: match known {
                Some(k) if replay_identity => LayerPolicy::Policies(&k.record.policies),
                _ if replay_identity => LayerPolicy::Policies(NO_POLICIES),
                _ => LayerPolicy::Off,
            },
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(r.time);
        let context = RequestContext::new(
            settings,
            conn.as_ref(),
            &r.method,
            &path,
            &headers,
            record,
            now,
        )
        .with_caller(identity.as_ref());
        self.resource.clear();
        self.resource.push_str(&settings.service_arn);
        self.resource.push_str(path.path());
        let principal = match (record, &r.principal) {
            (Some(rec), Some(p)) => Principal::Caller {
                arn: &p.arn,
                principal_arn: &rec.principal_arn,
                account: &rec.account,
            },
            _ => Principal::Anonymous,
        };
        let request = Request {
            principal,
            action: INVOKE,
            resource: &self.resource,
        };
        decide(&layers, &request, &context, &mut self.matches);
        let recorded = [r.layers.network, r.layers.service, r.layers.identity];
        let replayed = [
            candidates.network.is_some(),
            candidates.service.is_some(),
            replay_identity,
        ];
        let mut results = [(Layer::Network, LayerResult::Off); 3];
        for (i, layer) in LAYERS.into_iter().enumerate() {
            let result = if replayed[i] {
                crate::decision_log::layer_result(true, layer, &self.matches)
            } else {
                recorded[i]
            };
            results[i] = (layer, result);
        }
        let (reason, layer) = combine(&results);
        let allowed_before = r.allowed();
        let allowed_after = reason == Reason::Allowed;
        let difference =
            (allowed_before != allowed_after).then(|| self.difference(r, reason, layer));
        Ok(Replayed {
            allowed_before,
            allowed_after,
            reason,
            layer,
            difference,
        })
    }

    /// What made a flipped decision flip: the denying statement or missing allow now, or the
    /// statement that no longer denies / now allows in the layer that denied before.
    fn difference(&self, r: &RecordedRequest<'_>, reason: Reason, layer: Option<Layer>) -> String {
        let first = |layer: Layer, effect: Effect| {
            self.matches
                .iter()
                .find(|m| m.layer == layer && m.effect == effect)
                .map(label)
        };
        match (reason, layer) {
            (Reason::ExplicitDeny, Some(l)) => {
                first(l, Effect::Deny).unwrap_or_else(|| format!("{}: explicit deny", l.as_str()))
            }
            (_, Some(l)) => format!("{}: no statement allows", l.as_str()),
            (_, None) => {
                let before = r.layer.as_deref().unwrap_or("-");
                let layer = LAYERS.into_iter().find(|l| l.as_str() == before);
                if r.reason == "ExplicitDeny" {
                    let denied = r
                        .statements
                        .iter()
                        .find(|s| s.layer == before && s.effect == "Deny")
                        .map(|s| match &s.sid {
                            Some(sid) => format!("{}#{}({sid})", s.layer, s.index),
                            None => format!("{}#{}", s.layer, s.index),
                        });
                    format!(
                        "{} no longer denies",
                        denied.unwrap_or_else(|| format!("{before}: explicit deny"))
                    )
                } else {
                    layer.and_then(|l| first(l, Effect::Allow)).map_or_else(
                        || format!("{before}: now allows"),
                        |s| format!("{s} now allows"),
                    )
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
