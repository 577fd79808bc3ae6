//! Callers (CONTRACT §5 derivation) and `Principal`/`NotPrincipal` (iam.md §5).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    Signed {
        /// The caller as named in answers: session, user, role or root ARN.
        arn: String,
        /// `aws:PrincipalArn`: the role ARN for a session, else `arn`.
        principal_arn: String,
        account: String,
        kind: &'static str,
    },
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `arn:aws:SERVICE::ACCOUNT:RESOURCE` → (service, account, resource).
fn split_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[1] != "aws" || !parts[3].is_empty() {
        return None;
    }
    Some((parts[2], parts[4], parts[5]))
}

impl Caller {
    /// CONTRACT §5 and policy-api.md: `anonymous`, an account id, a root/user/role ARN, a role
    /// session or a federated user.
    pub fn derive(principal: &str) -> Result<Caller, String> {
        if principal == "anonymous" {
            return Ok(Caller::Anonymous);
        }
        let signed = |arn: String, principal_arn: String, account: &str, kind| Caller::Signed {
            arn,
            principal_arn,
            account: account.to_string(),
            kind,
        };
        if is_account_id(principal) {
            let root = format!("arn:aws:iam::{principal}:root");
            return Ok(signed(root.clone(), root, principal, "Account"));
        }
        let (service, account, resource) =
            split_arn(principal).ok_or_else(|| format!("not a principal: `{principal}`"))?;
        if !is_account_id(account) {
            return Err(format!("bad account in `{principal}`"));
        }
        let whole = principal.to_string();
        match service {
            "iam" if resource == "root" => Ok(signed(whole.clone(), whole, account, "Account")),
            "iam" if resource.starts_with("user/") => {
                Ok(signed(whole.clone(), whole, account, "User"))
            }
            "iam" if resource.starts_with("role/") => {
                Ok(signed(whole.clone(), whole, account, "AssumedRole"))
            }
            "sts" if resource.starts_with("assumed-role/") => {
                let mut parts = resource["assumed-role/".len()..].splitn(2, '/');
                let role = parts.next().unwrap_or_default();
                let role_arn = format!("arn:aws:iam::{account}:role/{role}");
                Ok(signed(whole, role_arn, account, "AssumedRole"))
            }
            "sts" if resource.starts_with("federated-user/") => {
                Ok(signed(whole.clone(), whole, account, "FederatedUser"))
            }
            _ => Err(format!("not a principal: `{principal}`")),
        }
    }

    pub fn is_anonymous(&self) -> bool {
        matches!(self, Caller::Anonymous)
    }

    pub fn principal_type(&self) -> &'static str {
        match self {
            Caller::Anonymous => "Anonymous",
            Caller::Signed { kind, .. } => kind,
        }
    }
}

/// The `AWS` entries of a principal element, or `None` for `"*"` (everyone).
fn aws_entries(p: &Value) -> Option<Vec<String>> {
    match p {
        Value::String(s) if s == "*" => None,
        Value::Object(map) => Some(map.get("AWS").map(super::string_list).unwrap_or_default()),
        _ => Some(Vec::new()),
    }
}

/// The account an account-level entry names (`111122223333` or `arn:aws:iam::111122223333:root`).
fn entry_account(entry: &str) -> Option<&str> {
    if is_account_id(entry) {
        return Some(entry);
    }
    match split_arn(entry)? {
        ("iam", account, "root") => Some(account),
        _ => None,
    }
}

/// The account and role name of a role ARN entry (its path dropped: a session ARN carries only
/// the role name).
fn entry_role(entry: &str) -> Option<(&str, &str)> {
    match split_arn(entry)? {
        ("iam", account, resource) if resource.starts_with("role/") => {
            Some((account, resource.rsplit('/').next()?))
        }
        _ => None,
    }
}

/// The account and role name of a session caller.
fn session_role(arn: &str) -> Option<(&str, &str)> {
    match split_arn(arn)? {
        ("sts", account, resource) if resource.starts_with("assumed-role/") => Some((
            account,
            resource["assumed-role/".len()..].split('/').next()?,
        )),
        _ => None,
    }
}

/// Whether the role entry names the caller's role (the caller is the role or one of its sessions).
fn names_role(entry: &str, arn: &str, principal_arn: &str) -> bool {
    entry == principal_arn
        || (entry_role(entry).is_some() && entry_role(entry) == session_role(arn))
}

/// `Principal`: `"*"`/`{"AWS":"*"}` is everyone (anonymous too); an account is everyone in it;
/// a role is the role and its sessions; a session, a user: exactly that one.
pub fn matches(p: &Value, caller: &Caller) -> bool {
    let Some(entries) = aws_entries(p) else {
        return true;
    };
    entries.iter().any(|e| {
        if e == "*" {
            return true;
        }
        let Caller::Signed {
            arn,
            principal_arn,
            account,
            ..
        } = caller
        else {
            return false;
        };
        if let Some(a) = entry_account(e) {
            return a == account;
        }
        if entry_role(e).is_some() {
            return names_role(e, arn, principal_arn);
        }
        e == arn
    })
}

/// `NotPrincipal`: the caller is spared only when every level of its identity is listed
/// (session, role and account; user and account; account) — iam.md §5.1.
pub fn spared(p: &Value, caller: &Caller) -> bool {
    let Some(entries) = aws_entries(p) else {
        return true;
    };
    if entries.iter().any(|e| e == "*") {
        return true;
    }
    let Caller::Signed {
        arn,
        principal_arn,
        account,
        ..
    } = caller
    else {
        return false;
    };
    let account_listed = entries
        .iter()
        .any(|e| entry_account(e) == Some(account.as_str()));
    let is_root = entry_account(arn).is_some();
    let is_session = session_role(arn).is_some();
    let is_role = entry_role(arn).is_some();
    let self_listed = entries.iter().any(|e| e == arn);
    let role_listed = entries
        .iter()
        .any(|e| entry_role(e).is_some() && names_role(e, arn, principal_arn));
    if is_root {
        account_listed
    } else if is_session {
        self_listed && role_listed && account_listed
    } else if is_role {
        role_listed && account_listed
    } else {
        self_listed && account_listed
    }
}
