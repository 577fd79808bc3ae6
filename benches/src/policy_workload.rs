//! A synthetic but realistic auth policy: many services and paths, principals of every form
//! (role, account, user, `*` narrowed by conditions), Allow and Deny statements, and the
//! condition operators policies actually use (StringEquals, StringLike, IpAddress, ArnLike).

use std::fmt::Write;
use trellis_policy::{Context, Key, KeyKind, Principal, Request, ValueList, Values};

pub const ACCOUNT: &str = "111122223333";

/// Services the statements spread over (enough that each service/path pair gets one group of
/// statements even at 10,000 statements, so matches do not grow with the policy).
const SERVICES: usize = 500;
/// Roles the statements name.
const ROLES: usize = 200;

pub fn service_arn(i: usize) -> String {
    format!("arn:aws:vpc-lattice:us-west-2:{ACCOUNT}:service/svc-{i:017x}")
}

/// An auth policy with `n` statements.
pub fn auth_policy(n: usize) -> String {
    let mut out = String::from("{\"Version\": \"2012-10-17\", \"Statement\": [\n");
    for i in 0..n {
        if i > 0 {
            out.push_str(",\n");
        }
        statement(&mut out, i);
    }
    out.push_str("\n]}");
    out
}

fn statement(out: &mut String, i: usize) {
    // Ten statement shapes per group; each group targets one service, path and role.
    let group = i / 10;
    let svc = service_arn(group % SERVICES);
    let path = [
        "orders",
        "users",
        "payments",
        "admin",
        "reports",
        "api.v1/Get",
    ][group / SERVICES % 6];
    let role = format!("arn:aws:iam::{ACCOUNT}:role/team/svc-{}", group % ROLES);
    let _ = match i % 10 {
        0..=3 => write!(
            out,
            r#"{{"Sid": "Role{i}", "Effect": "Allow", "Principal": {{"AWS": "{role}"}}, "Action": "vpc-lattice-svcs:Invoke", "Resource": "{svc}/{path}/*", "Condition": {{"StringEquals": {{"vpc-lattice-svcs:RequestMethod": ["GET", "POST"]}}}}}}"#
        ),
        4 | 5 => write!(
            out,
            r#"{{"Sid": "Acct{i}", "Effect": "Allow", "Principal": {{"AWS": "{:012}"}}, "Action": "vpc-lattice-svcs:Invoke", "Resource": "{svc}/{path}/*", "Condition": {{"StringEquals": {{"aws:PrincipalTag/team": "team-{}"}}, "IpAddress": {{"aws:SourceIp": ["10.{}.0.0/16", "2001:db8::/32"]}}}}}}"#,
            444_455_550_000u64 + (i % 97) as u64,
            i % 13,
            i % 256
        ),
        6 => write!(
            out,
            r#"{{"Sid": "Org{i}", "Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "{svc}/{path}/*", "Condition": {{"StringEquals": {{"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}, "ArnLike": {{"aws:PrincipalArn": "arn:aws:iam::*:role/team/svc-{}*"}}}}}}"#,
            group % ROLES
        ),
        7 => write!(
            out,
            r#"{{"Sid": "User{i}", "Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::{ACCOUNT}:user/user-{}"}}, "Action": "vpc-lattice-svcs:Invoke", "Resource": "{svc}/{path}/*"}}"#,
            i % 500
        ),
        8 => write!(
            out,
            r#"{{"Sid": "DenyAdmin{i}", "Effect": "Deny", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "{svc}/{path}/*", "Condition": {{"StringLike": {{"vpc-lattice-svcs:RequestPath": "/{path}/admin*"}}, "NotIpAddress": {{"aws:SourceIp": "10.0.0.0/8"}}}}}}"#
        ),
        _ => write!(
            out,
            r#"{{"Sid": "Anon{i}", "Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "{svc}/{path}/public/*", "Condition": {{"StringEquals": {{"aws:PrincipalType": "Anonymous"}}, "StringLike": {{"vpc-lattice-svcs:RequestHeader/user-agent": "curl/*"}}}}}}"#
        ),
    };
}

/// An identity policy such as a caller's role carries.
pub fn identity_policy() -> String {
    format!(
        r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": "vpc-lattice-svcs:Invoke", "Resource": "arn:aws:vpc-lattice:us-west-2:{ACCOUNT}:service/*"}}]}}"#
    )
}

/// The request under test: a session of role `svc-7` calling `GET /orders/42` on service 7.
#[derive(Debug)]
pub struct Call {
    pub session: String,
    pub role: String,
    pub resource: String,
    pub path: String,
    pub query_tags: Vec<String>,
}

impl Call {
    pub fn new() -> Call {
        Call {
            session: format!("arn:aws:sts::{ACCOUNT}:assumed-role/svc-7/task-1"),
            role: format!("arn:aws:iam::{ACCOUNT}:role/team/svc-7"),
            resource: format!("{}/orders/42", service_arn(7)),
            path: "/orders/42".into(),
            query_tags: vec!["a".into(), "b".into()],
        }
    }

    pub fn request(&self) -> Request<'_> {
        Request {
            principal: Principal::Caller {
                arn: &self.session,
                principal_arn: &self.role,
                account: ACCOUNT,
            },
            action: "vpc-lattice-svcs:Invoke",
            resource: &self.resource,
        }
    }
}

impl Default for Call {
    fn default() -> Self {
        Call::new()
    }
}

impl Context for Call {
    /// Looks values up the way the proxy does: by parsed key kind, no string building.
    fn get(&self, key: &Key<'_>) -> Option<Values<'_>> {
        use trellis_policy::GlobalKey as G;
        match key.kind {
            KeyKind::Global(g) => match g {
                G::PrincipalArn => Some(Values::One(&self.role)),
                G::PrincipalAccount => Some(Values::One(ACCOUNT)),
                G::PrincipalType => Some(Values::One("AssumedRole")),
                G::PrincipalOrgId => Some(Values::One("o-a1b2c3d4e5")),
                G::SourceIp => Some(Values::One("10.7.1.2")),
                G::LatticeRequestMethod => Some(Values::One("GET")),
                G::LatticeRequestPath => Some(Values::One(&self.path)),
                G::LatticePort => Some(Values::One("443")),
                _ => None,
            },
            KeyKind::PrincipalTag("team") => Some(Values::One("team-7")),
            KeyKind::RequestHeader("user-agent") => Some(Values::One("curl/8.5.0")),
            KeyKind::RequestQueryString("tag") => {
                Some(Values::Many(&self.query_tags as &dyn ValueList))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trellis_policy::{check, decide, LayerPolicy, Layers, PolicyKind, Reason};

    #[test]
    fn workload_policies_are_valid_and_the_call_is_allowed() {
        for n in [1, 100, 1000] {
            let checked = check(&auth_policy(n), Some(PolicyKind::Auth));
            assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
            let service = [checked.compile().unwrap()];
            let identity = [check(&identity_policy(), Some(PolicyKind::Identity))
                .compile()
                .unwrap()];
            let layers = Layers {
                network: LayerPolicy::Off,
                service: LayerPolicy::Policies(&service),
                identity: LayerPolicy::Policies(&identity),
            };
            let call = Call::new();
            let mut matches = Vec::new();
            let d = decide(&layers, &call.request(), &call, &mut matches);
            let want = if n == 1 {
                Reason::ImplicitDeny
            } else {
                Reason::Allowed
            };
            assert_eq!(d.reason, want, "n = {n}");
            if n >= 100 {
                assert!(matches.len() >= 2, "{matches:?}");
            }
        }
    }
}
