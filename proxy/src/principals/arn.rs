//! The IAM identities a principals file may name, parsed once so every derived value (the
//! session ARN, `aws:PrincipalArn`, the account) comes from one place.

/// Partitions whose ARNs we accept.
const PARTITIONS: [&str; 3] = ["aws", "aws-cn", "aws-us-gov"];

/// An IAM user or role, as named by `arn` in the principals file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamIdentity {
    pub partition: String,
    pub account: String,
    pub kind: IdentityKind,
    /// The path between the type and the name, `/` when none (`role/team/checkout` → `/team/`).
    pub path: String,
    /// The user or role name.
    pub name: String,
}

/// Whether the ARN names a user or a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityKind {
    User,
    Role,
}

impl IamIdentity {
    /// Parses `arn:PARTITION:iam::ACCOUNT:(user|role)/[PATH/]NAME`; the error says what is wrong.
    pub fn parse(arn: &str) -> Result<IamIdentity, String> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, partition, service, region, account, resource] = parts[..] else {
            return Err(format!(
                "`{arn}` is not an ARN: expected `arn:aws:iam::ACCOUNT:role/NAME` or `arn:aws:iam::ACCOUNT:user/NAME`"
            ));
        };
        if prefix != "arn" || !PARTITIONS.contains(&partition) {
            return Err(format!(
                "`{arn}` is not an ARN of a known partition: it must start with `arn:aws:`, `arn:aws-cn:` or `arn:aws-us-gov:`"
            ));
        }
        if service != "iam" || !region.is_empty() {
            return Err(format!(
                "`{arn}` is not an IAM ARN: callers are IAM users or roles, `arn:{partition}:iam::ACCOUNT:role/NAME`"
            ));
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "`{arn}` has account `{account}`: an account id is 12 digits"
            ));
        }
        let (kind, rest) = if let Some(rest) = resource.strip_prefix("role/") {
            (IdentityKind::Role, rest)
        } else if let Some(rest) = resource.strip_prefix("user/") {
            (IdentityKind::User, rest)
        } else {
            return Err(format!(
                "`{arn}` names `{resource}`: a caller must be a `role/NAME` or a `user/NAME`"
            ));
        };
        let (path, name) = match rest.rfind('/') {
            Some(slash) => (format!("/{}", &rest[..=slash]), &rest[slash + 1..]),
            None => ("/".to_owned(), rest),
        };
        if name.is_empty() || !name.chars().all(is_name_char) || name.len() > 64 {
            return Err(format!(
                "`{arn}` has the name `{name}`: IAM names are 1 to 64 of A-Z a-z 0-9 and `+=,.@_-`"
            ));
        }
        if path.contains("//") || !path.chars().all(|c| c == '/' || is_name_char(c)) {
            return Err(format!(
                "`{arn}` has the path `{path}`: a path is `/`-separated names of A-Z a-z 0-9 and `+=,.@_-`"
            ));
        }
        Ok(IamIdentity {
            partition: partition.to_owned(),
            account: account.to_owned(),
            kind,
            path,
            name: name.to_owned(),
        })
    }

    /// The ARN as IAM spells it (also `aws:PrincipalArn`).
    pub fn arn(&self) -> String {
        let kind = match self.kind {
            IdentityKind::User => "user",
            IdentityKind::Role => "role",
        };
        format!(
            "arn:{}:iam::{}:{kind}{}{}",
            self.partition, self.account, self.path, self.name
        )
    }

    /// The STS ARN of a session of this role. The role path is dropped, as STS does.
    pub fn session_arn(&self, session: &str) -> String {
        format!(
            "arn:{}:sts::{}:assumed-role/{}/{session}",
            self.partition, self.account, self.name
        )
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

/// STS role session names: 2 to 64 of `[\w+=,.@-]`.
pub fn check_session_name(name: &str) -> Result<(), String> {
    if (2..=64).contains(&name.len()) && name.chars().all(is_name_char) {
        Ok(())
    } else {
        Err(format!(
            "session name `{name}` is invalid: STS session names are 2 to 64 of A-Z a-z 0-9 and `+=,.@_-`"
        ))
    }
}

/// AWS Organizations ids: `o-` and 10 to 32 lowercase letters or digits.
pub fn check_org_id(id: &str) -> Result<(), String> {
    let ok = id.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "organization id `{id}` is invalid: it is `o-` followed by 10 to 32 lowercase letters or digits"
        ))
    }
}

/// Organization paths: `o-…/r-…/[ou-…/]*`, ending with `/`.
pub fn check_org_path(path: &str, org_id: Option<&str>) -> Result<(), String> {
    let segments: Vec<&str> = path.split('/').collect();
    let well_formed = path.ends_with('/')
        && segments.len() >= 3
        && check_org_id(segments[0]).is_ok()
        && segments[1].starts_with("r-")
        && segments[2..segments.len() - 1]
            .iter()
            .all(|s| s.starts_with("ou-"));
    if !well_formed {
        return Err(format!(
            "organization path `{path}` is invalid: write it as `o-ORG/r-ROOT/ou-UNIT/…/`, ending with `/`"
        ));
    }
    match org_id {
        Some(org) if org != segments[0] => Err(format!(
            "organization path `{path}` is in `{}` but `org_id` is `{org}`: they must agree",
            segments[0]
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_with_path_keeps_it_in_the_arn_and_drops_it_in_the_session_arn() {
        let role = IamIdentity::parse("arn:aws:iam::111122223333:role/team/checkout").unwrap();
        assert_eq!(role.kind, IdentityKind::Role);
        assert_eq!(role.path, "/team/");
        assert_eq!(role.arn(), "arn:aws:iam::111122223333:role/team/checkout");
        assert_eq!(
            role.session_arn("task-1"),
            "arn:aws:sts::111122223333:assumed-role/checkout/task-1"
        );
    }

    #[test]
    fn user_arn_round_trips() {
        let user = IamIdentity::parse("arn:aws-cn:iam::111122223333:user/ana").unwrap();
        assert_eq!(user.kind, IdentityKind::User);
        assert_eq!(user.arn(), "arn:aws-cn:iam::111122223333:user/ana");
    }

    #[test]
    fn malformed_arns_are_rejected_with_the_reason() {
        for (arn, needle) in [
            ("role/checkout", "is not an ARN"),
            (
                "arn:aws:sts::111122223333:assumed-role/r/s",
                "is not an IAM ARN",
            ),
            ("arn:aws:iam::1111:role/x", "12 digits"),
            ("arn:aws:iam::111122223333:group/x", "a caller must be"),
            ("arn:aws:iam::111122223333:role/", "has the name"),
            ("arn:aws:iam::111122223333:role/a*b", "has the name"),
            ("arn:foo:iam::111122223333:role/x", "known partition"),
        ] {
            let err = IamIdentity::parse(arn).unwrap_err();
            assert!(err.contains(needle), "{arn}: {err}");
        }
    }

    #[test]
    fn org_ids_and_paths_are_checked() {
        assert!(check_org_id("o-a1b2c3d4e5").is_ok());
        assert!(check_org_id("o-short").is_err());
        assert!(check_org_path(
            "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/",
            Some("o-a1b2c3d4e5")
        )
        .is_ok());
        assert!(check_org_path("o-a1b2c3d4e5/r-ab12/", None).is_ok());
        assert!(check_org_path("o-a1b2c3d4e5/r-ab12", None).is_err());
        assert!(check_org_path("o-a1b2c3d4e5/r-ab12/", Some("o-zzzzzzzzzz"))
            .unwrap_err()
            .contains("must agree"));
    }

    #[test]
    fn session_names_follow_sts_rules() {
        assert!(check_session_name("checkout-task-1").is_ok());
        assert!(check_session_name("x").is_err());
        assert!(check_session_name("has space").is_err());
    }
}
