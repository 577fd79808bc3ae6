//! The request being decided: who, what, on which resource.

/// The caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal<'a> {
    /// An unsigned request (`aws:PrincipalType` = `Anonymous`).
    Anonymous,
    /// `arn` is the caller as it appears in error messages and matches session-specific
    /// Principal entries: `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`, a user ARN, or
    /// `arn:aws:iam::ACCT:root`. `principal_arn` is `aws:PrincipalArn` (the role ARN, with its
    /// path, for a session; otherwise the same as `arn`). `account` is the 12-digit account.
    Caller {
        arn: &'a str,
        principal_arn: &'a str,
        account: &'a str,
    },
}

/// One authorization question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    pub principal: Principal<'a>,
    pub action: &'a str,
    pub resource: &'a str,
}

/// `arn:PARTITION:sts::ACCT:assumed-role/ROLE` of a session ARN (without the `/SESSION`),
/// borrowed from it: the key under which Principal entries naming the role are indexed.
pub(crate) fn session_role_prefix(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let partition_end = rest.find(':')?;
    let after = &rest[partition_end..];
    let after = after.strip_prefix(":sts::")?;
    let account_end = after.find(':')?;
    let resource = after[account_end + 1..].strip_prefix("assumed-role/")?;
    let role_end = resource.find('/')?;
    if role_end == 0 || role_end + 1 >= resource.len() {
        return None;
    }
    let prefix_len = arn.len() - resource.len() + role_end;
    Some(&arn[..prefix_len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_role_prefix_borrows_the_role_part() {
        assert_eq!(
            session_role_prefix("arn:aws:sts::111122223333:assumed-role/checkout/task-1"),
            Some("arn:aws:sts::111122223333:assumed-role/checkout")
        );
        assert_eq!(
            session_role_prefix("arn:aws:iam::111122223333:role/checkout"),
            None
        );
        assert_eq!(
            session_role_prefix("arn:aws:sts::111122223333:assumed-role/checkout/"),
            None
        );
    }
}
