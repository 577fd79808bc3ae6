//! Who a verified token's caller is, in the terms of the snapshot in force: the ARN STS
//! returned (an assumed-role session or an IAM user), `aws:PrincipalArn` as IAM derives it
//! (the role ARN, or the listed role with its path), and what the principals file's `roles`
//! and `accounts` say about tags, identity policies and organization — STS returns none of
//! them. A role that is not listed is still that caller, with no tags and no policies.

use crate::principals::{
    IamIdentity, IdentityKind, PrincipalRecord, PrincipalStore, PrincipalType,
};
use crate::snapshot::{caller_view, CallerView};

use super::client::StsIdentity;

/// A token caller mapped onto one snapshot.
#[derive(Debug)]
pub struct TokenCaller {
    /// The caller as conditions and deny messages see it.
    pub record: PrincipalRecord,
    /// The handle of the listed role in the snapshot's principals (its identity policies'
    /// statement counters), `None` when the role is not listed.
    pub role: Option<usize>,
    /// Identity headers and log fields.
    pub view: CallerView,
}

/// Maps STS's answer onto `store`; `Err` says why the identity is not accepted.
pub fn map(sts: &StsIdentity, store: &PrincipalStore) -> Result<TokenCaller, String> {
    let (identity, session_name, principal_type) = parse_caller(&sts.arn)?;
    if identity.account != sts.account {
        return Err(format!(
            "STS returned the ARN `{}` for account `{}`",
            sts.arn, sts.account
        ));
    }
    let role = (identity.kind == IdentityKind::Role)
        .then(|| store.role(&identity.account, &identity.name))
        .flatten();
    let listed = role.and_then(|h| store.principals().get(h));
    let org = store.account(&identity.account);
    let record = PrincipalRecord {
        caller_arn: sts.arn.clone(),
        principal_arn: listed.map_or_else(|| identity.arn(), |r| r.principal_arn.clone()),
        account: identity.account.clone(),
        principal_type,
        identity: listed.map_or(identity, |r| r.identity.clone()),
        session_name,
        org_id: org.and_then(|o| o.org_id.clone()),
        org_paths: org.map(|o| o.org_paths.clone()).unwrap_or_default(),
        tags: listed.map(|r| r.tags.clone()).unwrap_or_default(),
        policies: listed.map(|r| r.policies.clone()).unwrap_or_default(),
        keys: Vec::new(),
    };
    let view = caller_view(&record).map_err(|e| e.0)?;
    Ok(TokenCaller { record, role, view })
}

/// `arn:P:sts::A:assumed-role/ROLE/SESSION` → the role and the session;
/// `arn:P:iam::A:user/[PATH/]NAME` → the user. Anything else (root, federated users) is not a
/// caller this proxy accepts.
fn parse_caller(arn: &str) -> Result<(IamIdentity, Option<String>, PrincipalType), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if let ["arn", partition, "sts", "", account, resource] = parts[..] {
        if let Some(rest) = resource.strip_prefix("assumed-role/") {
            if let Some((role, session)) = rest.split_once('/') {
                let role_arn = format!("arn:{partition}:iam::{account}:role/{role}");
                let identity = IamIdentity::parse(&role_arn)?;
                if session.is_empty() || session.contains('/') {
                    return Err(format!("`{arn}` has no session name"));
                }
                return Ok((
                    identity,
                    Some(session.to_owned()),
                    PrincipalType::AssumedRole,
                ));
            }
        }
        return Err(format!(
            "`{arn}` is not a role session: callers are role sessions or IAM users"
        ));
    }
    let identity = IamIdentity::parse(arn)?;
    match identity.kind {
        IdentityKind::User => Ok((identity, None, PrincipalType::User)),
        IdentityKind::Role => Err(format!("`{arn}` is a role, not a role session")),
    }
}

#[cfg(test)]
#[path = "identity_tests.rs"]
mod tests;
