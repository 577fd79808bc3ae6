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
    // Byte scans, not `str::find`: this runs once per decision, on a short ARN.
    let bytes = arn.as_bytes();
    let colon_after = |from: usize| {
        bytes
            .get(from..)?
            .iter()
            .position(|&b| b == b':')
            .map(|i| from + i)
    };
    if !bytes.starts_with(b"arn:") {
        return None;
    }
    let partition_end = colon_after(4)?;
    let account_start = partition_end + b":sts::".len();
    if bytes.get(partition_end..account_start)? != b":sts::" {
        return None;
    }
    let account_end = colon_after(account_start)?;
    let resource_start = account_end + 1 + b"assumed-role/".len();
    if bytes.get(account_end + 1..resource_start)? != b"assumed-role/" {
        return None;
    }
    let role_len = bytes
        .get(resource_start..)?
        .iter()
        .position(|&b| b == b'/')?;
    if role_len == 0 || resource_start + role_len + 1 >= bytes.len() {
        return None;
    }
    // Every index is at an ASCII byte, so a char boundary.
    arn.get(..resource_start + role_len)
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
        for not_a_session in [
            "",
            "arn:",
            "arn:aws",
            "arn:aws:sts::",
            "arn:aws:sts::111122223333",
            "arn:aws:sts::111122223333:",
            "arn:aws:sts::111122223333:assumed-role/",
            "arn:aws:sts::111122223333:assumed-role//task",
            "arn:aws:sts::111122223333:assumed-role/checkout",
            "arn:aws:sts:us-east-1:111122223333:assumed-role/checkout/task",
            "arn:aws:sts::111122223333:federated-user/checkout/task",
            "xarn:aws:sts::111122223333:assumed-role/checkout/task",
        ] {
            assert_eq!(session_role_prefix(not_a_session), None, "{not_a_session}");
        }
        assert_eq!(
            session_role_prefix("arn:aws-cn:sts::1:assumed-role/r/s/t"),
            Some("arn:aws-cn:sts::1:assumed-role/r")
        );
        assert_eq!(
            session_role_prefix("arn:é:sts::1:assumed-role/rôle/s"),
            Some("arn:é:sts::1:assumed-role/rôle")
        );
    }
}
