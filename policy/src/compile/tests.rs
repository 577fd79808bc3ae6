//! The index only prunes: evaluation through it must find exactly the statements a linear
//! scan finds.

use super::*;
use crate::fixtures::SERVICE;
use crate::{check, MapContext, Principal};
use proptest::prelude::*;

const PRINCIPALS: &[&str] = &[
    r#""Principal": "*""#,
    r#""Principal": {"AWS": "111122223333"}"#,
    r#""Principal": {"AWS": "arn:aws:iam::111122223333:root"}"#,
    r#""Principal": {"AWS": "arn:aws:iam::111122223333:role/checkout"}"#,
    r#""Principal": {"AWS": "arn:aws:iam::111122223333:role/team/checkout"}"#,
    r#""Principal": {"AWS": "arn:aws:sts::111122223333:assumed-role/checkout/task-1"}"#,
    r#""Principal": {"AWS": "arn:aws:iam::111122223333:user/ana"}"#,
    r#""Principal": {"AWS": ["arn:aws:iam::444455556666:user/bob", "arn:aws:iam::111122223333:role/checkout"]}"#,
    r#""Principal": {"AWS": "444455556666"}"#,
    r#""NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:user/ana", "111122223333"]}"#,
    r#""Principal": {"Service": "example.amazonaws.com"}"#,
];

const ACTIONS: &[&str] = &[
    r#""Action": "vpc-lattice-svcs:Invoke""#,
    r#""Action": "*""#,
    r#""Action": "vpc-lattice-svcs:Connect""#,
    r#""Action": ["s3:*", "vpc-lattice-svcs:In*"]"#,
    r#""NotAction": "s3:*""#,
    r#""NotAction": "vpc-lattice-svcs:Invoke""#,
];

const RESOURCES: &[&str] = &[
    r#""Resource": "*""#,
    r#""Resource": "SVC/*""#,
    r#""Resource": "SVC/orders/*""#,
    r#""Resource": "SVC/orders/7""#,
    r#""Resource": "*/rates""#,
    r#""Resource": ["SVC/a/*", "SVC/orders/*"]"#,
    r#""NotResource": "SVC/admin*""#,
    r#""Resource": "SVC/users/${aws:username}/*""#,
    r#""Resource": "SVC/orders*""#,
    r#""Resource": []"#,
];

const CONDITIONS: &[&str] = &[
    "",
    r#", "Condition": {"StringEquals": {"aws:PrincipalTag/team": "payments"}}"#,
    r#", "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": "payments"}}"#,
];

const CALLERS: &[(&str, &str, &str)] = &[
    ("", "", ""),
    (
        "arn:aws:sts::111122223333:assumed-role/checkout/task-1",
        "arn:aws:iam::111122223333:role/team/checkout",
        "111122223333",
    ),
    (
        "arn:aws:sts::111122223333:assumed-role/checkout/task-2",
        "arn:aws:iam::111122223333:role/checkout",
        "111122223333",
    ),
    (
        "arn:aws:iam::111122223333:user/ana",
        "arn:aws:iam::111122223333:user/ana",
        "111122223333",
    ),
    (
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::111122223333:root",
        "111122223333",
    ),
    (
        "arn:aws:iam::444455556666:user/bob",
        "arn:aws:iam::444455556666:user/bob",
        "444455556666",
    ),
];

const REQUEST_ACTIONS: &[&str] = &[
    "vpc-lattice-svcs:Invoke",
    "VPC-LATTICE-SVCS:INVOKE",
    "vpc-lattice-svcs:Connect",
    "s3:GetObject",
];
const PATHS: &[&str] = &[
    "/",
    "/orders",
    "/orders/7",
    "/orders/7/items",
    "/a/b",
    "/rates",
    "/admin/x",
    "/users/ana/1",
];

fn statement(p: usize, a: usize, r: usize, c: usize, deny: bool) -> String {
    let effect = if deny { "Deny" } else { "Allow" };
    let resource = RESOURCES[r].replace("SVC", SERVICE);
    format!(
        r#"{{"Effect": "{effect}", {}, {}, {resource}{}}}"#,
        PRINCIPALS[p], ACTIONS[a], CONDITIONS[c]
    )
}

fn statements() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        (
            0..PRINCIPALS.len(),
            0..ACTIONS.len(),
            0..RESOURCES.len(),
            0..CONDITIONS.len(),
            any::<bool>(),
        )
            .prop_map(|(p, a, r, c, d)| statement(p, a, r, c, d)),
        0..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn index_finds_exactly_what_a_linear_scan_finds(
        statements in statements(),
        caller in 0..CALLERS.len(),
        action in 0..REQUEST_ACTIONS.len(),
        path in 0..PATHS.len(),
        tagged in any::<bool>(),
    ) {
        let text = format!(r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#, statements.join(","));
        let checked = check(&text, Some(PolicyKind::Auth));
        prop_assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
        let policy = checked.compile().unwrap();
        let (arn, principal_arn, account) = CALLERS[caller];
        let principal = if arn.is_empty() { Principal::Anonymous } else { Principal::Caller { arn, principal_arn, account } };
        let resource = format!("{SERVICE}{}", PATHS[path]);
        let request = Request { principal, action: REQUEST_ACTIONS[action], resource: &resource };
        let mut ctx = MapContext::new();
        ctx.insert_one("aws:username", "ana");
        if tagged {
            ctx.insert_one("aws:PrincipalTag/team", "payments");
        }
        let mut matches = Vec::new();
        policy.evaluate(&request, &ctx, Layer::Service, &mut matches);
        let found: Vec<u32> = matches.iter().map(|m| m.index).collect();
        let expected: Vec<u32> = policy.inner.statements.iter().enumerate()
            .filter(|(_, s)| s.matches(&request, &ctx))
            .map(|(i, _)| i as u32)
            .collect();
        prop_assert_eq!(found, expected);
    }
}

#[test]
fn compiled_policy_is_send_sync_and_cheap_to_clone() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<CompiledPolicy>();
    let text = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}}"#;
    let policy = check(text, None).compile().unwrap();
    let copy = policy.clone();
    assert!(Arc::ptr_eq(&policy.inner, &copy.inner));
    assert_eq!(copy.statement_count(), 1);
    assert_eq!(copy.kind(), PolicyKind::Auth);
    let infos: Vec<_> = copy.statements().collect();
    assert_eq!(
        infos,
        [StatementInfo {
            index: 0,
            sid: None,
            effect: Effect::Allow
        }]
    );
}

#[test]
fn keys_read_lists_condition_keys_and_variables_once_in_order() {
    let text = r#"{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke",
         "Resource": "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/t/${vpc-lattice-svcs:RequestHeader/X-Tenant}/*",
         "Condition": {"StringEquals": {"vpc-lattice-svcs:RequestHeader/X-Debug": "true",
                                        "aws:PrincipalTag/team": "${vpc-lattice-svcs:RequestHeader/x-team}"},
                       "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/${vpc-lattice-svcs:RequestHeader/x-role}"},
                       "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*",
         "Condition": {"StringLike": {"vpc-lattice-svcs:RequestHeader/x-debug": "t*"}}}]}"#;
    let policy = check(text, None).compile().unwrap();
    let names: Vec<&str> = policy.keys_read().iter().map(|k| k.name).collect();
    assert_eq!(
        names,
        [
            "vpc-lattice-svcs:requestheader/x-tenant",
            "vpc-lattice-svcs:requestheader/x-debug",
            "aws:principaltag/team",
            "vpc-lattice-svcs:requestheader/x-team",
            "aws:principalarn",
            "vpc-lattice-svcs:requestheader/x-role",
            "aws:sourceip",
        ]
    );
    assert!(matches!(
        policy.keys_read()[0].kind,
        crate::KeyKind::RequestHeader("x-tenant")
    ));
}
