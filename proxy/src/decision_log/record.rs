//! A decision-log line as `trellis policy replay` reads it back (format version 1; README
//! "Decision log" documents every field).

use std::borrow::Cow;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use trellis_policy::Reason;

/// The `v` of every line this version writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// What one layer decided (`layers.network` …): `Off` when it was not evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayerResult {
    Off,
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

impl LayerResult {
    /// The layer's reason, `None` when off.
    pub fn reason(self) -> Option<Reason> {
        match self {
            LayerResult::Off => None,
            LayerResult::Allowed => Some(Reason::Allowed),
            LayerResult::ExplicitDeny => Some(Reason::ExplicitDeny),
            LayerResult::ImplicitDeny => Some(Reason::ImplicitDeny),
        }
    }
}

/// `principal`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordedPrincipal<'a> {
    #[serde(borrow)]
    pub arn: Cow<'a, str>,
    #[serde(borrow)]
    pub principal_arn: Cow<'a, str>,
    #[serde(borrow)]
    pub account: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    pub principal_type: Cow<'a, str>,
    #[serde(default, borrow)]
    pub session_name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub org_id: Option<Cow<'a, str>>,
    #[serde(default)]
    pub org_paths: Vec<String>,
    #[serde(default, borrow)]
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// `layers`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedLayers {
    pub network: LayerResult,
    pub service: LayerResult,
    pub identity: LayerResult,
}

/// One entry of `statements`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedStatement<'a> {
    #[serde(borrow)]
    pub layer: Cow<'a, str>,
    pub index: u32,
    #[serde(borrow)]
    pub sid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub effect: Cow<'a, str>,
}

/// One line.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordedRequest<'a> {
    pub v: u32,
    pub time: u64,
    #[serde(borrow)]
    pub principal: Option<RecordedPrincipal<'a>>,
    #[serde(borrow)]
    pub identity_header: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub identity_tags_header: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub method: Cow<'a, str>,
    #[serde(borrow)]
    pub path: Cow<'a, str>,
    #[serde(borrow)]
    pub query: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub source: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
    pub tls: bool,
    #[serde(borrow)]
    pub service_arn: Cow<'a, str>,
    #[serde(borrow)]
    pub service_network_arn: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub source_vpc: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub source_vpc_owner: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub xff: Cow<'a, str>,
    #[serde(borrow)]
    pub decision: Cow<'a, str>,
    #[serde(borrow)]
    pub reason: Cow<'a, str>,
    #[serde(borrow)]
    pub layer: Option<Cow<'a, str>>,
    pub layers: RecordedLayers,
    #[serde(borrow)]
    pub statements: Vec<RecordedStatement<'a>>,
}

/// Why a line cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("not a decision-log record: {0}")]
    Json(#[from] serde_json::Error),
    #[error("format version {0} is not supported (this trellis reads version {FORMAT_VERSION}); replay with the trellis version that wrote the log")]
    Version(u32),
}

impl<'a> RecordedRequest<'a> {
    /// Parses one line (without its `\n`).
    pub fn parse(line: &'a str) -> Result<Self, RecordError> {
        #[derive(Deserialize)]
        struct VersionOnly {
            v: u32,
        }
        // A line of another version fails as a version, not as the fields that differ.
        let record: Self = serde_json::from_str(line).map_err(|e| {
            match serde_json::from_str::<VersionOnly>(line) {
                Ok(VersionOnly { v }) if v != FORMAT_VERSION => RecordError::Version(v),
                _ => RecordError::Json(e),
            }
        })?;
        if record.v != FORMAT_VERSION {
            return Err(RecordError::Version(record.v));
        }
        Ok(record)
    }

    /// Whether the recorded decision allowed.
    pub fn allowed(&self) -> bool {
        self.decision == "Allow"
    }
}
