//! The caller identity the upstream receives (`x-amzn-lattice-identity`,
//! `x-amzn-lattice-identity-tags`), formatted once per principal when a snapshot is built,
//! never per request.

use http::HeaderValue;

/// An authenticated caller's precomputed identity headers; `Authenticate` inserts it into the
/// request extensions for signed callers only, `IdentityHeaders` copies it onto the request.
#[derive(Debug, Clone)]
pub struct CallerIdentity {
    /// `x-amzn-lattice-identity`.
    pub identity: HeaderValue,
    /// `x-amzn-lattice-identity-tags`.
    pub tags: HeaderValue,
}

/// A header value could not be built because a field holds a character not allowed in HTTP
/// headers (a control character such as a newline).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("identity field `{field}` contains a character not allowed in an HTTP header; remove control characters from it")]
pub struct InvalidIdentityField {
    /// The field name.
    pub field: &'static str,
}

/// The caller facts from which the headers are formatted.
#[derive(Debug, Clone, Copy)]
pub struct IdentityFields<'a> {
    /// `Principal=`: the session ARN for assumed roles, else the user/role ARN.
    pub principal: &'a str,
    /// `PrincipalOrgID=` (empty when unknown; the key is kept).
    pub org_id: &'a str,
    /// `SessionName=` (empty for users).
    pub session_name: &'a str,
    /// Principal tags, written as `principal-<key>=<value>` in the given order.
    pub tags: &'a [(&'a str, &'a str)],
}

impl CallerIdentity {
    /// Formats both headers from the caller's fields.
    pub fn new(fields: &IdentityFields<'_>) -> Result<Self, InvalidIdentityField> {
        Ok(Self {
            identity: HeaderValue::try_from(identity_header(fields))
                .map_err(|_| InvalidIdentityField { field: "identity" })?,
            tags: HeaderValue::try_from(identity_tags_header(fields))
                .map_err(|_| InvalidIdentityField { field: "tags" })?,
        })
    }
}

/// `Principal=<arn>; PrincipalOrgID=<org>; SessionName=<session>; Type=AWS_IAM`, as observed
/// from real Lattice (`"; "` separators, empty values kept).
pub fn identity_header(f: &IdentityFields<'_>) -> String {
    format!(
        "Principal={}; PrincipalOrgID={}; SessionName={}; Type=AWS_IAM",
        f.principal, f.org_id, f.session_name
    )
}

/// `principal=<arn>;principalorgid=<org>;principal-<tag>=<value>...` with `;` in values
/// escaped as `\;` (and `\` as `\\`, so the escaping can be undone unambiguously).
pub fn identity_tags_header(f: &IdentityFields<'_>) -> String {
    let mut s = String::with_capacity(64 + f.principal.len());
    s.push_str("principal=");
    push_escaped(&mut s, f.principal);
    s.push_str(";principalorgid=");
    push_escaped(&mut s, f.org_id);
    for (k, v) in f.tags {
        s.push_str(";principal-");
        push_escaped(&mut s, k);
        s.push('=');
        push_escaped(&mut s, v);
    }
    s
}

fn push_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        if c == ';' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:sts::111122223333:assumed-role/checkout/task-1";

    #[test]
    fn identity_header_keeps_empty_values() {
        let f = IdentityFields {
            principal: ARN,
            org_id: "",
            session_name: "task-1",
            tags: &[],
        };
        assert_eq!(
            identity_header(&f),
            "Principal=arn:aws:sts::111122223333:assumed-role/checkout/task-1; PrincipalOrgID=; SessionName=task-1; Type=AWS_IAM"
        );
    }

    #[test]
    fn tags_header_escapes_semicolons() {
        let f = IdentityFields {
            principal: ARN,
            org_id: "o-a1b2c3d4e5",
            session_name: "task-1",
            tags: &[("team", "payments"), ("cost", "a;b\\c")],
        };
        assert_eq!(
            identity_tags_header(&f),
            "principal=arn:aws:sts::111122223333:assumed-role/checkout/task-1;principalorgid=o-a1b2c3d4e5;principal-team=payments;principal-cost=a\\;b\\\\c"
        );
    }

    #[test]
    fn control_characters_are_refused() {
        let f = IdentityFields {
            principal: "arn\nx",
            org_id: "",
            session_name: "",
            tags: &[],
        };
        assert_eq!(
            CallerIdentity::new(&f).unwrap_err(),
            InvalidIdentityField { field: "identity" }
        );
        let ok = IdentityFields {
            principal: ARN,
            org_id: "",
            session_name: "",
            tags: &[],
        };
        assert!(CallerIdentity::new(&ok).is_ok());
    }
}
