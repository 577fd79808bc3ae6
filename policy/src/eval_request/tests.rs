use super::*;
use crate::{Context, Values};

fn get<'c>(ctx: &'c MapContext, name: &str) -> Option<Values<'c>> {
    let lower = name.to_ascii_lowercase();
    let key = Key::parse(&lower);
    ctx.get(&key)
}

fn one(ctx: &MapContext, name: &str) -> Option<String> {
    match get(ctx, name) {
        Some(Values::One(s)) => Some(s.to_owned()),
        _ => None,
    }
}

fn line(principal: &str) -> String {
    format!(
        r#"{{"principal": "{principal}", "action": "vpc-lattice-svcs:Invoke", "resource": "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-1/x"}}"#
    )
}

#[test]
fn session_principal_derives_role_arn_account_and_type() {
    let r = EvalRequest::parse(&line(
        "arn:aws:sts::111122223333:assumed-role/checkout/task-1",
    ))
    .unwrap();
    assert_eq!(
        one(&r.context, "aws:PrincipalArn").as_deref(),
        Some("arn:aws:iam::111122223333:role/checkout")
    );
    assert_eq!(
        one(&r.context, "aws:PrincipalAccount").as_deref(),
        Some("111122223333")
    );
    assert_eq!(
        one(&r.context, "aws:PrincipalType").as_deref(),
        Some("AssumedRole")
    );
    assert_eq!(
        r.request().principal,
        Principal::Caller {
            arn: "arn:aws:sts::111122223333:assumed-role/checkout/task-1",
            principal_arn: "arn:aws:iam::111122223333:role/checkout",
            account: "111122223333",
        }
    );
}

#[test]
fn account_id_principal_is_the_account_root() {
    let r = EvalRequest::parse(&line("111122223333")).unwrap();
    assert_eq!(
        r.request().principal,
        Principal::Caller {
            arn: "arn:aws:iam::111122223333:root",
            principal_arn: "arn:aws:iam::111122223333:root",
            account: "111122223333"
        }
    );
    assert_eq!(
        one(&r.context, "aws:PrincipalType").as_deref(),
        Some("Account")
    );
    let r = EvalRequest::parse(&line("arn:aws:iam::111122223333:root")).unwrap();
    assert_eq!(
        one(&r.context, "aws:PrincipalType").as_deref(),
        Some("Account")
    );
}

#[test]
fn user_role_and_federated_principals_get_their_types() {
    for (p, t) in [
        ("arn:aws:iam::111122223333:user/ana", "User"),
        (
            "arn:aws:iam::111122223333:role/team/checkout",
            "AssumedRole",
        ),
        (
            "arn:aws:sts::111122223333:federated-user/bob",
            "FederatedUser",
        ),
    ] {
        let r = EvalRequest::parse(&line(p)).unwrap();
        assert_eq!(
            one(&r.context, "aws:PrincipalType").as_deref(),
            Some(t),
            "{p}"
        );
        assert_eq!(one(&r.context, "aws:PrincipalArn").as_deref(), Some(p));
    }
}

#[test]
fn anonymous_principal_has_only_a_type() {
    let r = EvalRequest::parse(&line("anonymous")).unwrap();
    assert_eq!(r.request().principal, Principal::Anonymous);
    assert_eq!(
        one(&r.context, "aws:PrincipalType").as_deref(),
        Some("Anonymous")
    );
    assert!(get(&r.context, "aws:PrincipalArn").is_none());
    assert!(get(&r.context, "aws:PrincipalAccount").is_none());
}

#[test]
fn given_context_keys_are_not_overwritten() {
    let text = r#"{"principal": "111122223333", "action": "a:b", "resource": "r", "context": {"AWS:PrincipalType": "User"}}"#;
    let r = EvalRequest::parse(text).unwrap();
    assert_eq!(
        one(&r.context, "aws:PrincipalType").as_deref(),
        Some("User")
    );
}

#[test]
fn context_values_are_strings_lists_numbers_and_booleans() {
    let text = r#"{"principal": "anonymous", "action": "a:b", "resource": "r", "name": "t1", "expect": "Deny",
        "context": {"vpc-lattice-svcs:Port": 443, "aws:SecureTransport": true, "aws:PrincipalTag/team": "x",
                    "vpc-lattice-svcs:RequestQueryString/tag": ["a", "b"], "vpc-lattice-svcs:RequestQueryString/one": "c"}}"#;
    let r = EvalRequest::parse(text).unwrap();
    assert_eq!(r.name.as_deref(), Some("t1"));
    assert_eq!(r.expect, Some(Effect::Deny));
    assert_eq!(
        one(&r.context, "vpc-lattice-svcs:Port").as_deref(),
        Some("443")
    );
    assert_eq!(
        one(&r.context, "aws:SecureTransport").as_deref(),
        Some("true")
    );
    assert_eq!(
        one(&r.context, "aws:principaltag/TEAM").as_deref(),
        Some("x")
    );
    match get(&r.context, "vpc-lattice-svcs:RequestQueryString/tag") {
        Some(Values::Many(l)) => assert_eq!((l.len(), l.get(0), l.get(1)), (2, "a", "b")),
        other => panic!("{other:?}"),
    }
    // A known multivalued key given as one string is a one-element list.
    assert!(matches!(
        get(&r.context, "vpc-lattice-svcs:RequestQueryString/one"),
        Some(Values::Many(_))
    ));
}

#[test]
fn bad_lines_give_clear_errors() {
    let cases = [
        ("[1]", "must be a JSON object"),
        ("{", "not valid JSON"),
        (
            r#"{"action": "a:b", "resource": "r"}"#,
            "missing `principal`",
        ),
        (
            r#"{"principal": "anonymous", "resource": "r"}"#,
            "missing `action`",
        ),
        (
            r#"{"principal": "anonymous", "action": "a:b", "resource": 1}"#,
            "`resource` must be a string",
        ),
        (
            r#"{"principal": "bob", "action": "a:b", "resource": "r"}"#,
            "principal `bob` is not",
        ),
        (
            r#"{"principal": "arn:aws:iam::1:user/x", "action": "a:b", "resource": "r"}"#,
            "principal `arn:aws:iam::1:user/x`",
        ),
        (
            r#"{"principal": "anonymous", "action": "a:b", "resource": "r", "contxt": {}}"#,
            "unknown request field `contxt`",
        ),
        (
            r#"{"principal": "anonymous", "action": "a:b", "resource": "r", "expect": "allow"}"#,
            "`expect` must be",
        ),
        (
            r#"{"principal": "anonymous", "action": "a:b", "resource": "r", "context": {"k:x": null}}"#,
            "context key `k:x` must be",
        ),
        (
            r#"{"principal": "anonymous", "action": "a:b", "resource": "r", "context": {"k:x": "1", "K:X": "2"}}"#,
            "given twice",
        ),
    ];
    for (text, needle) in cases {
        let e = EvalRequest::parse(text).unwrap_err();
        assert!(e.contains(needle), "{text}: {e}");
    }
}
