//! What a snapshot works out ahead of requests for their `Outcome`: the caller's access-log
//! fields and the decision counters. Kept apart from `outcome` because the snapshot builds
//! them while an `Outcome` holds the snapshot its request was decided with.

use std::sync::Arc;

use smallvec::SmallVec;

/// The `trellis_authz_decisions_total` handles a decision increments (one per matched
/// statement of the deciding effect, or the `none` series).
pub type DecisionCounters = SmallVec<[prometheus::IntCounter; 4]>;

/// The caller's identity as the access log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerLog {
    /// `callerPrincipal` and `resolvedUser`: the session or user ARN, or `Anonymous`.
    pub principal: Arc<str>,
    /// `callerPrincipalOrgID`, `None` when unknown.
    pub org_id: Option<Arc<str>>,
    /// `callerPrincipalTags`: the tags as a JSON object text, `None` when there are none.
    pub tags_json: Option<Arc<str>>,
}
