use crate::{check, check_for_service, Diagnostic, Severity};

const SVC: &str = "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";

fn policy(statement: &str) -> String {
    format!("{{\"Version\": \"2012-10-17\",\n\"Statement\": [\n{statement}\n]}}")
}

fn statement(resource: &str, condition: &str) -> String {
    format!(
        r#"{{"Effect": "Deny", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", {resource}{condition}}}"#
    )
}

fn warnings(text: &str) -> Vec<Diagnostic> {
    let checked = check_for_service(text, None, SVC);
    assert!(checked.compile().is_some(), "{:#?}", checked.diagnostics);
    checked.diagnostics
}

/// Line and column of the first `marker`, computed apart from `LineIndex`.
fn pos(text: &str, marker: &str) -> (u32, u32) {
    let at = text.find(marker).expect("marker in text");
    let before = &text[..at];
    let line = before.matches('\n').count() as u32 + 1;
    let col = before.rsplit('\n').next().unwrap().chars().count() as u32 + 1;
    (line, col)
}

#[track_caller]
fn one(text: &str, needle: &str, at: &str) -> Diagnostic {
    let all = warnings(text);
    let found: Vec<&Diagnostic> = all.iter().filter(|d| d.message.contains(needle)).collect();
    assert_eq!(found.len(), 1, "want one `{needle}` in {all:#?}");
    assert_eq!(found[0].severity, Severity::Warning);
    assert_eq!(
        (found[0].line, found[0].column),
        pos(text, at),
        "{:?}",
        found[0]
    );
    // Without the service, `check` stays silent about it.
    let plain = check(text, None).diagnostics;
    assert!(
        plain.iter().all(|d| !d.message.contains(needle)),
        "{plain:#?}"
    );
    found[0].clone()
}

#[test]
fn a_resource_of_another_account_region_or_service_is_warned_about_at_the_element() {
    for (resource, difference) in [
        (
            "arn:aws:vpc-lattice:us-west-2:444455556666:service/svc-0123456789abcdef0/*",
            "its account is `444455556666`, this service's is `111122223333`",
        ),
        (
            "arn:aws:vpc-lattice:eu-west-1:111122223333:service/svc-0123456789abcdef0/*",
            "its region is `eu-west-1`",
        ),
        (
            "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0fffffffffffffff0/admin/*",
            "it names `svc-0fffffffffffffff0`, this service is `svc-0123456789abcdef0`",
        ),
    ] {
        let text = policy(&statement(&format!(r#""Resource": ["{resource}"]"#), ""));
        let d = one(&text, "no `Resource` entry matches this service", "[\"arn");
        assert!(d.message.contains(difference), "{}", d.message);
        assert!(d.message.contains("never applies"), "{}", d.message);
        assert!(
            d.message.contains(&format!("`{SVC}/PATH`")),
            "{}",
            d.message
        );
    }
}

#[test]
fn a_statement_with_one_entry_for_this_service_is_not_warned_about() {
    for resource in [
        format!(
            r#""Resource": ["arn:aws:vpc-lattice:us-west-2:444455556666:service/svc-0fffffffffffffff0/*", "{SVC}/orders/*"]"#
        ),
        r#""Resource": "*""#.to_owned(),
        r#""Resource": "*/admin/*""#.to_owned(),
        r#""Resource": "arn:aws:vpc-lattice:*:111122223333:service/*""#.to_owned(),
        format!(r#""NotResource": "{SVC}/public/*""#),
    ] {
        let text = policy(&statement(&resource, ""));
        assert!(
            warnings(&text).is_empty(),
            "{resource}: {:#?}",
            warnings(&text)
        );
    }
}

#[test]
fn a_documentation_placeholder_keeps_its_one_warning() {
    let text = policy(&statement(
        r#""Resource": "arn:aws:vpc-lattice:region:account-id:service/service-id/*""#,
        "",
    ));
    let all = warnings(&text);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert!(all[0].message.contains("account `account-id`"), "{all:#?}");
}

#[test]
fn a_not_resource_of_another_service_excludes_nothing_here() {
    let text = policy(&statement(
        r#""NotResource": "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0fffffffffffffff0/public/*""#,
        "",
    ));
    let d = one(&text, "no `NotResource` entry matches", "\"arn");
    assert!(
        d.message.contains("applies to every request"),
        "{}",
        d.message
    );
}

#[test]
fn caller_values_no_caller_can_have_are_warned_about_at_the_value() {
    for (condition, value, advice) in [
        (
            r#""StringEquals": {"aws:PrincipalAccount": "account-id"}"#,
            "\"account-id\"",
            "12-digit account id",
        ),
        (
            r#""StringEquals": {"aws:PrincipalAccount": ["111122223333", "o-a1b2c3d4e5"]}"#,
            "\"o-a1b2",
            "`aws:PrincipalOrgID`",
        ),
        (
            r#""StringEquals": {"aws:PrincipalOrgID": "111122223333"}"#,
            "\"111122223333\"",
            "`aws:PrincipalAccount`",
        ),
        (
            r#""StringEquals": {"aws:PrincipalOrgID": "o-abc123"}"#,
            "\"o-abc123",
            "lower-case letters or digits",
        ),
        (
            r#""ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::account-id:role/checkout"}"#,
            "\"arn:aws:iam::account-id",
            "account `account-id`",
        ),
        (
            r#""ArnLike": {"aws:PrincipalArn": "arn:aws:sts::111122223333:assumed-role/checkout/*"}"#,
            "\"arn:aws:sts",
            "its role's ARN",
        ),
        (
            r#""StringLike": {"aws:PrincipalArn": "role/checkout"}"#,
            "\"role/checkout\"",
            "arn:aws:iam::ACCOUNT:role/NAME",
        ),
        (
            r#""ArnEquals": {"vpc-lattice-svcs:ServiceArn": "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0fffffffffffffff0"}"#,
            "\"arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0fff",
            "it names `svc-0fffffffffffffff0`",
        ),
    ] {
        let text = policy(&statement(
            r#""Resource": "*""#,
            &format!(r#", "Condition": {{{condition}}}"#),
        ));
        let d = one(&text, "so this value never matches", value);
        assert!(d.message.contains(advice), "{condition}: {}", d.message);
    }
}

#[test]
fn a_negated_operator_with_such_a_value_excludes_nobody() {
    let text = policy(&statement(
        r#""Resource": "*""#,
        r#", "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "ACCOUNT-ID"}}"#,
    ));
    let d = one(&text, "excludes no request with it", "\"ACCOUNT-ID\"");
    assert!(d.message.contains("`StringNotEquals`"), "{}", d.message);
}

#[test]
fn caller_values_that_can_match_are_not_warned_about() {
    for condition in [
        r#""StringEquals": {"aws:PrincipalAccount": ["111122223333", "${aws:PrincipalTag/account}"]}"#,
        r#""StringLike": {"aws:PrincipalAccount": "1111222233*"}"#,
        r#""StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}"#,
        r#""StringEqualsIgnoreCase": {"aws:PrincipalOrgID": "O-A1B2C3D4E5"}"#,
        r#""ArnLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/checkout", "arn:aws:iam::111122223333:root", "*"]}"#,
        r#""ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/ops/alice"}"#,
        r#""StringLike": {"vpc-lattice-svcs:ServiceArn": "arn:aws:vpc-lattice:*:111122223333:service/*"}"#,
    ] {
        let text = policy(&statement(
            r#""Resource": "*""#,
            &format!(r#", "Condition": {{{condition}}}"#),
        ));
        assert!(
            warnings(&text).is_empty(),
            "{condition}: {:#?}",
            warnings(&text)
        );
    }
}
