//! `Principal` / `NotPrincipal` entries and how they match a caller.

use crate::request::{session_role_prefix, Principal};

/// One `AWS` principal value, in its matching form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A 12-digit account id or `arn:…:iam::ACCT:root`: everyone in the account.
    Account(Box<str>),
    /// A user, role session or federated user ARN: that principal only.
    Arn(Box<str>),
    /// A role ARN: the role and its sessions. `session_prefix` is
    /// `arn:PARTITION:sts::ACCT:assumed-role/NAME` (session ARNs drop the role path; role names
    /// are unique per account, so the name identifies the role).
    Role {
        arn: Box<str>,
        session_prefix: Box<str>,
    },
    /// `Service`, `Federated`, `CanonicalUser`: never a SigV4 IAM caller.
    Foreign,
}

/// The entries of a `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PrincipalSet {
    /// `"*"` or `{"AWS": "*"}`: everyone, anonymous included.
    pub(crate) any: bool,
    pub(crate) entries: Vec<Entry>,
}

/// A statement's principal rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalRule {
    /// Identity policies have no principal element: the caller is implied.
    Implied,
    Principal(PrincipalSet),
    NotPrincipal(PrincipalSet),
}

impl Entry {
    /// Whether the entry names this caller (or, for an account or role, contains it).
    fn matches(&self, arn: &str, principal_arn: &str, account: &str) -> bool {
        match self {
            Entry::Account(a) => **a == *account,
            Entry::Arn(x) => **x == *arn || **x == *principal_arn,
            Entry::Role {
                arn: role,
                session_prefix,
            } => {
                **role == *arn
                    || **role == *principal_arn
                    || session_role_prefix(arn) == Some(&**session_prefix)
            }
            Entry::Foreign => false,
        }
    }
}

impl PrincipalSet {
    pub(crate) fn matches(&self, principal: &Principal<'_>) -> bool {
        if self.any {
            return true;
        }
        match *principal {
            Principal::Anonymous => false,
            Principal::Caller {
                arn,
                principal_arn,
                account,
            } => self
                .entries
                .iter()
                .any(|e| e.matches(arn, principal_arn, account)),
        }
    }

    /// NotPrincipal (Trellis rule): a caller is spared only if every level of its identity is
    /// listed — session ARN, role and account for a session; user (or root) and account
    /// otherwise. Anonymous is spared only by `"*"`.
    pub(crate) fn spares(&self, principal: &Principal<'_>) -> bool {
        if self.any {
            return true;
        }
        let Principal::Caller {
            arn,
            principal_arn,
            account,
        } = *principal
        else {
            return false;
        };
        let arn_listed = self.entries.iter().any(|e| match e {
            Entry::Arn(x) => **x == *arn,
            Entry::Role { arn: role, .. } => **role == *arn,
            Entry::Account(a) => is_root_of(arn, a),
            Entry::Foreign => false,
        });
        let role_listed = session_role_prefix(arn).is_none()
            || self.entries.iter().any(|e| match e {
                Entry::Role {
                    arn: role,
                    session_prefix,
                } => {
                    **role == *principal_arn || session_role_prefix(arn) == Some(&**session_prefix)
                }
                _ => false,
            });
        let account_listed = self
            .entries
            .iter()
            .any(|e| matches!(e, Entry::Account(a) if **a == *account));
        arn_listed && role_listed && account_listed
    }
}

impl PrincipalRule {
    #[inline]
    pub(crate) fn matches(&self, principal: &Principal<'_>) -> bool {
        match self {
            PrincipalRule::Implied => true,
            PrincipalRule::Principal(set) => set.matches(principal),
            PrincipalRule::NotPrincipal(set) => !set.spares(principal),
        }
    }
}

/// Whether `arn` is `arn:PARTITION:iam::ACCOUNT:root`.
fn is_root_of(arn: &str, account: &str) -> bool {
    arn.strip_suffix(":root")
        .and_then(|s| s.strip_suffix(account))
        .and_then(|s| s.strip_suffix("::"))
        .and_then(|s| s.strip_suffix(":iam"))
        .is_some_and(|s| s.starts_with("arn:") && !s[4..].contains(':'))
}

/// Parses an `AWS` principal value (not `"*"`). Errors are messages for the user.
pub(crate) fn parse_aws(value: &str) -> Result<Entry, String> {
    if value.contains(['*', '?']) {
        return Err(format!(
            "wildcard in principal `{value}`: `*` is only valid as the whole value; to match roles by pattern use `\"Principal\": \"*\"` with an `ArnLike` condition on `aws:PrincipalArn`"
        ));
    }
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Entry::Account(value.into()));
    }
    let bad = || {
        format!(
            "invalid AWS principal `{value}`: use `*`, a 12-digit account id, or an IAM user, role, root, assumed-role session or federated-user ARN"
        )
    };
    let [_, partition, service, _, account, resource] =
        crate::scalar::principal_arn_parts(value).ok_or_else(bad)?;
    match service {
        "iam" => {
            if resource == "root" {
                Ok(Entry::Account(account.into()))
            } else if let Some(path) = resource.strip_prefix("role/") {
                let name = path.rsplit('/').next().unwrap_or("");
                if name.is_empty() {
                    return Err(bad());
                }
                Ok(Entry::Role {
                    arn: value.into(),
                    session_prefix: format!("arn:{partition}:sts::{account}:assumed-role/{name}")
                        .into(),
                })
            } else if resource
                .strip_prefix("user/")
                .is_some_and(|p| !p.is_empty() && !p.ends_with('/'))
            {
                Ok(Entry::Arn(value.into()))
            } else {
                Err(bad())
            }
        }
        "sts" => {
            let ok = match resource.split_once('/') {
                Some(("assumed-role", rest)) => rest
                    .split_once('/')
                    .is_some_and(|(r, s)| !r.is_empty() && !s.is_empty()),
                Some(("federated-user", rest)) => !rest.is_empty(),
                _ => false,
            };
            if ok {
                Ok(Entry::Arn(value.into()))
            } else {
                Err(bad())
            }
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests;
