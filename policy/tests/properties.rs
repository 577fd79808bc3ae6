//! Properties of the public API: a matching Deny always wins, statement order never matters,
//! and parsing never panics.

// Helpers outside `#[test]` functions fail the test by panicking, as tests do.
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use proptest::prelude::*;
use trellis_policy::{
    check, decide_single, Effect, MapContext, PolicyKind, Principal, Reason, Request,
};

const SERVICE: &str = "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";

const PRINCIPALS: &[&str] = &[
    r#""Principal": "*""#,
    r#""Principal": {"AWS": "111122223333"}"#,
    r#""Principal": {"AWS": "arn:aws:iam::111122223333:role/checkout"}"#,
    r#""Principal": {"AWS": "arn:aws:iam::111122223333:user/ana"}"#,
    r#""NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:user/ana", "111122223333"]}"#,
];
const RESOURCES: &[&str] = &[
    r#""Resource": "*""#,
    r#""Resource": "SVC/orders/*""#,
    r#""Resource": "SVC/*/items""#,
    r#""NotResource": "SVC/admin*""#,
    r#""Resource": "SVC/users/${aws:username}/*""#,
];
const CONDITIONS: &[&str] = &[
    "",
    r#", "Condition": {"StringEquals": {"aws:PrincipalTag/team": ["payments", "risk"]}}"#,
    r#", "Condition": {"StringNotLike": {"vpc-lattice-svcs:RequestPath": "/admin*"}}"#,
    r#", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#,
    r#", "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/check*"}}"#,
    r#", "Condition": {"ForAllValues:StringEquals": {"vpc-lattice-svcs:RequestQueryString/tag": ["a"]}}"#,
    r#", "Condition": {"NumericLessThan": {"vpc-lattice-svcs:Port": 1024}}"#,
];
const PATHS: &[&str] = &["/", "/orders/7", "/a/items", "/admin/x", "/users/ana/1"];

fn statement(deny: bool, p: usize, r: usize, c: usize, sid: usize) -> String {
    let effect = if deny { "Deny" } else { "Allow" };
    format!(
        r#"{{"Sid": "S{sid}", "Effect": "{effect}", {}, "Action": "vpc-lattice-svcs:Invoke", {}{}}}"#,
        PRINCIPALS[p],
        RESOURCES[r].replace("SVC", SERVICE),
        CONDITIONS[c]
    )
}

fn parts() -> impl Strategy<Value = Vec<(bool, usize, usize, usize)>> {
    prop::collection::vec(
        (
            any::<bool>(),
            0..PRINCIPALS.len(),
            0..RESOURCES.len(),
            0..CONDITIONS.len(),
        ),
        0..12,
    )
}

fn policy_text(parts: &[(bool, usize, usize, usize)], order: &[usize]) -> String {
    let statements: Vec<String> = order
        .iter()
        .map(|&i| {
            let (d, p, r, c) = parts[i];
            statement(d, p, r, c, i)
        })
        .collect();
    format!(
        r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
        statements.join(",")
    )
}

fn caller(which: u8) -> Principal<'static> {
    match which % 4 {
        0 => Principal::Anonymous,
        1 => Principal::Caller {
            arn: "arn:aws:sts::111122223333:assumed-role/checkout/t",
            principal_arn: "arn:aws:iam::111122223333:role/checkout",
            account: "111122223333",
        },
        2 => Principal::Caller {
            arn: "arn:aws:iam::111122223333:user/ana",
            principal_arn: "arn:aws:iam::111122223333:user/ana",
            account: "111122223333",
        },
        _ => Principal::Caller {
            arn: "arn:aws:iam::444455556666:user/bob",
            principal_arn: "arn:aws:iam::444455556666:user/bob",
            account: "444455556666",
        },
    }
}

fn context(bits: u8) -> MapContext {
    let mut c = MapContext::new();
    if bits & 1 != 0 {
        c.insert_one("aws:PrincipalTag/team", "payments");
    }
    if bits & 2 != 0 {
        c.insert_one("aws:SourceIp", "10.9.8.7");
    }
    if bits & 4 != 0 {
        c.insert_many("vpc-lattice-svcs:RequestQueryString/tag", ["a"]);
    }
    if bits & 8 != 0 {
        c.insert_one("aws:username", "ana");
    }
    if bits & 16 != 0 {
        c.insert_one(
            "aws:PrincipalArn",
            "arn:aws:iam::111122223333:role/checkout",
        );
    }
    c.insert_one("vpc-lattice-svcs:Port", "443");
    c
}

fn decide_text(text: &str, who: u8, path: usize, bits: u8) -> (Reason, Vec<String>) {
    let checked = check(text, Some(PolicyKind::Auth));
    assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
    let policy = checked.compile().expect("compiles");
    let resource = format!("{SERVICE}{}", PATHS[path]);
    let request = Request {
        principal: caller(who),
        action: "vpc-lattice-svcs:Invoke",
        resource: &resource,
    };
    let ctx = context(bits);
    let mut matches = Vec::new();
    let d = decide_single(&policy, &request, &ctx, &mut matches);
    let mut sids: Vec<String> = matches
        .iter()
        .filter_map(|m| m.sid.as_deref().map(str::to_owned))
        .collect();
    sids.sort();
    (d.reason, sids)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn adding_a_matching_deny_never_yields_allow(
        parts in parts(),
        deny in (0..PRINCIPALS.len(), 0..RESOURCES.len(), 0..CONDITIONS.len()),
        who in any::<u8>(), path in 0..PATHS.len(), bits in any::<u8>(),
    ) {
        let order: Vec<usize> = (0..parts.len()).collect();
        let (before, _) = decide_text(&policy_text(&parts, &order), who, path, bits);
        let mut with_deny = parts.clone();
        with_deny.push((true, deny.0, deny.1, deny.2));
        let order: Vec<usize> = (0..with_deny.len()).collect();
        let (after, sids) = decide_text(&policy_text(&with_deny, &order), who, path, bits);
        let deny_matched = sids.contains(&format!("S{}", parts.len()));
        if deny_matched {
            prop_assert_eq!(after, Reason::ExplicitDeny);
        }
        if before.effect() == Effect::Deny {
            prop_assert_eq!(after.effect(), Effect::Deny);
        }
    }

    #[test]
    fn statement_order_never_changes_the_decision(
        parts in parts(),
        seed in any::<u64>(),
        who in any::<u8>(), path in 0..PATHS.len(), bits in any::<u8>(),
    ) {
        let order: Vec<usize> = (0..parts.len()).collect();
        let mut shuffled = order.clone();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let a = decide_text(&policy_text(&parts, &order), who, path, bits);
        let b = decide_text(&policy_text(&parts, &shuffled), who, path, bits);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        let checked = check(&text, None);
        prop_assert_eq!(checked.compile().is_some(), !checked.has_errors());
    }

    #[test]
    fn parse_never_panics_on_mutated_policies(
        parts in parts(),
        cut in any::<prop::sample::Index>(),
        insert in "[\\[\\]{}\",:*?$ a-zA-Z0-9\\\\]{0,4}",
    ) {
        let order: Vec<usize> = (0..parts.len()).collect();
        let text = policy_text(&parts, &order);
        let mut at = cut.index(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let mutated = format!("{}{}{}", &text[..at], insert, &text[at..]);
        for kind in [None, Some(PolicyKind::Auth), Some(PolicyKind::Identity)] {
            let checked = check(&mutated, kind);
            prop_assert_eq!(checked.compile().is_some(), !checked.has_errors());
        }
    }
}
