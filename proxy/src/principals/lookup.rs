//! A request's caller found by ARN in the principals file, as `trellis run` would know it:
//! shared by `policy eval --principals` and `policy replay --principals`, so both decide as the
//! proxy does.

use trellis_policy::Principal;

use super::{IdentityKind, PrincipalRecord, PrincipalStore};

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
pub(crate) fn find_caller<'s>(
    store: &'s PrincipalStore,
    principal: &'s str,
) -> Option<KnownCaller<'s>> {
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
