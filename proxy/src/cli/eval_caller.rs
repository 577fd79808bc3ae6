//! `policy eval --principals FILE`: the caller of a request as `trellis run` would know it —
//! its session, identity policies, tags and organization from the principals file — so `eval`
//! and the proxy decide alike.

use trellis_policy::{Context, Key, MapContext, Principal, Values};

use crate::principals::{IdentityKind, PrincipalRecord, PrincipalStore};

/// A request's caller found in the principals file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KnownCaller<'s> {
    pub(crate) record: &'s PrincipalRecord,
    /// The caller ARN: the record's, or the role session the request names.
    pub(crate) arn: &'s str,
}

impl<'s> KnownCaller<'s> {
    /// The principal as the proxy would see it.
    pub(crate) fn principal(&self) -> Principal<'s> {
        Principal::Caller {
            arn: self.arn,
            principal_arn: &self.record.principal_arn,
            account: &self.record.account,
        }
    }
}

/// The record for `principal` (a request's `principal` field): by its caller ARN (the session
/// with `session_name`), its user or role ARN, or another session of a listed role.
pub(crate) fn find<'s>(store: &'s PrincipalStore, principal: &'s str) -> Option<KnownCaller<'s>> {
    let records = store.principals();
    if let Some(record) = records
        .iter()
        .find(|r| r.caller_arn == principal)
        .or_else(|| records.iter().find(|r| r.principal_arn == principal))
    {
        return Some(KnownCaller {
            record,
            arn: &record.caller_arn,
        });
    }
    // arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION
    let parts: Vec<&str> = principal.splitn(6, ':').collect();
    let ["arn", partition, "sts", "", account, resource] = parts[..] else {
        return None;
    };
    let (role, session) = resource.strip_prefix("assumed-role/")?.split_once('/')?;
    if session.is_empty() {
        return None;
    }
    records
        .iter()
        .find(|r| {
            let id = &r.identity;
            id.kind == IdentityKind::Role
                && id.partition == partition
                && id.account == account
                && id.name == role
        })
        .map(|record| KnownCaller {
            record,
            arn: principal,
        })
}

/// The request's context over the caller's keys: a key the request gives in `context` wins;
/// otherwise the principals file answers the keys `trellis run` takes from it (the principal
/// keys, organization, tags); every other key comes from the request.
pub(crate) struct CallerContext<'a> {
    pub(crate) given: &'a MapContext,
    /// Lower-cased names of the keys the request's `context` gives.
    pub(crate) explicit: &'a [String],
    pub(crate) caller: KnownCaller<'a>,
}

impl Context for CallerContext<'_> {
    fn get(&self, key: &Key<'_>) -> Option<Values<'_>> {
        if self.explicit.iter().any(|k| k == key.name) {
            return self.given.get(key);
        }
        self.caller
            .record
            .condition_value(key)
            .or_else(|| self.given.get(key))
    }
}
