//! The decision log (CONTRACT §11, `--decision-log FILE`): one JSON line per decided request
//! holding everything `trellis policy replay` needs to decide it again — and no secret.
//!
//! The request path only gathers references and cheap clones into a [`DecisionEntry`] (the
//! snapshot the caller was found in, the headers, the matched statements) and `try_send`s it;
//! everything is formatted by the access log's writer task ([`crate::access_log`]), which drops
//! and counts (`trellis_decision_log_dropped_total`) when it falls behind. With the flag off
//! the handle is not even in the request's extensions.

pub mod record;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use http::{HeaderMap, Method};
use serde::Serialize;
use trellis_policy::{Decision, Effect, Layer, Matched};

use crate::access_log::{AccessLog, LogLine};
use crate::caller_identity::CallerIdentity;
use crate::connection::ConnectionInfo;
use crate::normalize::NormalizedPath;
use crate::principals::PrincipalRecord;
use crate::request_head::Xff;
use crate::snapshot::Snapshot;
use crate::sts::TokenCaller;

pub use self::record::{LayerResult, RecordedRequest, FORMAT_VERSION};

/// The sending side; `Audit` puts a clone into the extensions of every request when enabled.
pub type DecisionLog = AccessLog<DecisionEntry>;

/// Headers never written: credentials and session state.
pub const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "cookie",
    "proxy-authorization",
    "x-amz-security-token",
];

/// A header value is cut to this many bytes (at a character boundary).
pub const MAX_HEADER_VALUE: usize = 256;

/// Where the caller's facts live, kept by reference until the writer formats them.
#[derive(Debug)]
pub enum CallerRef {
    /// A caller of the principals file: its handle in this snapshot.
    Listed(Arc<Snapshot>, usize),
    /// An identity-token caller.
    Token(Arc<TokenCaller>),
}

impl CallerRef {
    fn record(&self) -> Option<&PrincipalRecord> {
        match self {
            CallerRef::Listed(snapshot, handle) => snapshot.principals().principals().get(*handle),
            CallerRef::Token(token) => Some(&token.record),
        }
    }
}

/// One decided request, as gathered on the request path.
#[derive(Debug)]
pub struct DecisionEntry {
    pub time: SystemTime,
    pub caller: Option<CallerRef>,
    pub identity: Option<CallerIdentity>,
    pub method: Method,
    pub path: NormalizedPath,
    pub headers: HeaderMap,
    pub conn: Option<ConnectionInfo>,
    pub service_arn: Arc<str>,
    pub service_network_arn: Option<Arc<str>>,
    pub source_vpc: Option<Arc<str>>,
    pub source_vpc_owner: Option<Arc<str>>,
    pub xff: Xff,
    /// Which layers were evaluated: network, service, identity.
    pub evaluated: [bool; 3],
    pub decision: Decision,
    pub matched: Vec<Matched>,
}

/// What a layer decided, recovered from the statements that matched in it: the engine
/// collects every matching statement, and a layer denies explicitly on any `Deny`, allows on
/// any `Allow`, and otherwise denies implicitly.
pub fn layer_result(evaluated: bool, layer: Layer, matched: &[Matched]) -> LayerResult {
    if !evaluated {
        return LayerResult::Off;
    }
    let mut result = LayerResult::ImplicitDeny;
    for m in matched.iter().filter(|m| m.layer == layer) {
        match m.effect {
            Effect::Deny => return LayerResult::ExplicitDeny,
            Effect::Allow => result = LayerResult::Allowed,
        }
    }
    result
}

fn xff_name(xff: Xff) -> &'static str {
    match xff {
        Xff::Replace => "replace",
        Xff::Append => "append",
    }
}

/// `value` cut to at most [`MAX_HEADER_VALUE`] bytes without splitting a character.
pub fn cut_value(value: &str) -> &str {
    if value.len() <= MAX_HEADER_VALUE {
        return value;
    }
    let mut end = MAX_HEADER_VALUE;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

#[derive(Serialize)]
struct PrincipalLine<'a> {
    arn: &'a str,
    #[serde(rename = "principalArn")]
    principal_arn: &'a str,
    account: &'a str,
    #[serde(rename = "type")]
    principal_type: &'a str,
    #[serde(rename = "sessionName", skip_serializing_if = "Option::is_none")]
    session_name: Option<&'a str>,
    #[serde(rename = "orgId", skip_serializing_if = "Option::is_none")]
    org_id: Option<&'a str>,
    #[serde(rename = "orgPaths")]
    org_paths: &'a [String],
    tags: Vec<(&'a str, &'a str)>,
}

#[derive(Serialize)]
struct StatementLine<'a> {
    layer: &'a str,
    index: u32,
    sid: Option<&'a str>,
    effect: &'a str,
}

#[derive(Serialize)]
struct LayersLine {
    network: LayerResult,
    service: LayerResult,
    identity: LayerResult,
}

#[derive(Serialize)]
struct EntryLine<'a> {
    v: u32,
    time: u64,
    principal: Option<PrincipalLine<'a>>,
    #[serde(rename = "identityHeader")]
    identity_header: Option<&'a str>,
    #[serde(rename = "identityTagsHeader")]
    identity_tags_header: Option<&'a str>,
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    headers: Vec<(&'a str, std::borrow::Cow<'a, str>)>,
    source: Option<SocketAddr>,
    local: Option<SocketAddr>,
    tls: bool,
    #[serde(rename = "serviceArn")]
    service_arn: &'a str,
    #[serde(rename = "serviceNetworkArn")]
    service_network_arn: Option<&'a str>,
    #[serde(rename = "sourceVpc")]
    source_vpc: Option<&'a str>,
    #[serde(rename = "sourceVpcOwner")]
    source_vpc_owner: Option<&'a str>,
    xff: &'static str,
    decision: &'static str,
    reason: &'static str,
    layer: Option<&'static str>,
    layers: LayersLine,
    statements: Vec<StatementLine<'a>>,
}

impl LogLine for DecisionEntry {
    fn write_line(&self, buf: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let record = self.caller.as_ref().and_then(CallerRef::record);
        let principal = record.map(|p| PrincipalLine {
            arn: &p.caller_arn,
            principal_arn: &p.principal_arn,
            account: &p.account,
            principal_type: p.principal_type.as_str(),
            session_name: p.session_name.as_deref(),
            org_id: p.org_id.as_deref(),
            org_paths: &p.org_paths,
            tags: p
                .tags
                .iter()
                .map(|t| (t.key.as_str(), t.value.as_str()))
                .collect(),
        });
        let headers = self
            .headers
            .iter()
            .filter(|(name, _)| !SECRET_HEADERS.contains(&name.as_str()))
            .map(|(name, value)| {
                let text = String::from_utf8_lossy(value.as_bytes());
                let text = match text {
                    std::borrow::Cow::Borrowed(s) => std::borrow::Cow::Borrowed(cut_value(s)),
                    std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(cut_value(&s).to_owned()),
                };
                (name.as_str(), text)
            })
            .collect();
        let [network, service, identity] = self.evaluated;
        let line = EntryLine {
            v: FORMAT_VERSION,
            time: self
                .time
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            principal,
            identity_header: self
                .identity
                .as_ref()
                .and_then(|c| c.identity.to_str().ok()),
            identity_tags_header: self.identity.as_ref().and_then(|c| c.tags.to_str().ok()),
            method: self.method.as_str(),
            path: self.path.path(),
            query: self.path.query(),
            headers,
            source: self.conn.as_ref().map(|c| c.remote),
            local: self.conn.as_ref().map(|c| c.local),
            tls: self.conn.as_ref().is_some_and(|c| c.tls),
            service_arn: &self.service_arn,
            service_network_arn: self.service_network_arn.as_deref(),
            source_vpc: self.source_vpc.as_deref(),
            source_vpc_owner: self.source_vpc_owner.as_deref(),
            xff: xff_name(self.xff),
            decision: self.decision.effect.as_str(),
            reason: self.decision.reason.as_str(),
            layer: self.decision.layer.map(Layer::as_str),
            layers: LayersLine {
                network: layer_result(network, Layer::Network, &self.matched),
                service: layer_result(service, Layer::Service, &self.matched),
                identity: layer_result(identity, Layer::Identity, &self.matched),
            },
            statements: self
                .matched
                .iter()
                .map(|m| StatementLine {
                    layer: m.layer.as_str(),
                    index: m.index,
                    sid: m.sid.as_deref(),
                    effect: m.effect.as_str(),
                })
                .collect(),
        };
        serde_json::to_writer(&mut *buf, &line)?;
        buf.push(b'\n');
        Ok(())
    }
}

#[cfg(test)]
mod tests;
