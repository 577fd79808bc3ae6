use crate::{check, Diagnostic, PolicyKind, Severity};

fn diags(text: &str, kind: Option<PolicyKind>) -> Vec<Diagnostic> {
    check(text, kind).diagnostics
}

/// Finds the one diagnostic whose message contains `needle`; asserts its severity and position.
#[track_caller]
fn expect(text: &str, kind: Option<PolicyKind>, needle: &str, severity: Severity, at: (u32, u32)) {
    let all = diags(text, kind);
    let found: Vec<&Diagnostic> = all.iter().filter(|d| d.message.contains(needle)).collect();
    assert_eq!(found.len(), 1, "want one `{needle}` in {all:#?}");
    assert_eq!(found[0].severity, severity, "{:?}", found[0]);
    assert_eq!((found[0].line, found[0].column), at, "{:?}", found[0]);
}

/// Line and column (1-based, characters) of the first `marker` in `text`, computed
/// independently of `LineIndex`.
fn pos(text: &str, marker: &str) -> (u32, u32) {
    let at = text.find(marker).expect("marker in text");
    let before = &text[..at];
    let line = before.matches('\n').count() as u32 + 1;
    let col = before.rsplit('\n').next().unwrap().chars().count() as u32 + 1;
    (line, col)
}

fn auth(statement: &str) -> String {
    format!("{{\"Version\": \"2012-10-17\",\n\"Statement\": [\n{statement}\n]}}")
}

const OK_AUTH: &str = r#"{"Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}"#;

#[test]
fn a_clean_auth_policy_has_no_diagnostics() {
    let checked = check(&auth(OK_AUTH), None);
    assert_eq!(checked.kind, PolicyKind::Auth);
    assert!(checked.diagnostics.is_empty(), "{:#?}", checked.diagnostics);
    assert!(checked.compile().is_some());
}

#[test]
fn kind_is_identity_without_any_principal() {
    let text = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}}"#;
    let checked = check(text, None);
    assert_eq!(checked.kind, PolicyKind::Identity);
    assert!(checked.diagnostics.is_empty(), "{:#?}", checked.diagnostics);
}

#[test]
fn malformed_json_is_one_error_with_its_position() {
    let checked = check("{\n  \"Version\": \"2012-10-17\",\n}", None);
    assert_eq!(checked.diagnostics.len(), 1);
    let d = &checked.diagnostics[0];
    assert_eq!((d.line, d.column, d.severity), (3, 1, Severity::Error));
    assert!(checked.compile().is_none());
}

#[test]
fn duplicate_effect_is_an_error_not_an_allow() {
    let text = auth(
        r#"{"Effect": "Deny", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}"#,
    );
    expect(
        &text,
        None,
        "duplicate key `Effect`",
        Severity::Error,
        (3, 20),
    );
    assert!(check(&text, None).compile().is_none());
}

#[test]
fn lower_case_effect_is_an_error() {
    let text = auth(r#"{"Effect": "allow", "Principal": "*", "Action": "*", "Resource": "*"}"#);
    expect(
        &text,
        None,
        "exactly `Allow` or `Deny`",
        Severity::Error,
        (3, 12),
    );
}

#[test]
fn unknown_elements_are_errors_with_a_hint() {
    let text = auth(r#"{"Effect": "Allow", "Principal": "*", "Actions": "*", "Resource": "*"}"#);
    expect(
        &text,
        None,
        "did you mean `Action`",
        Severity::Error,
        (3, 39),
    );
    let text = "{\"Version\": \"2012-10-17\", \"statement\": []}";
    expect(
        text,
        None,
        "unknown policy element `statement`",
        Severity::Error,
        (1, 27),
    );
}

#[test]
fn bad_version_is_an_error_and_missing_version_a_warning() {
    let text = r#"{"Version": "2012-10-18", "Statement": []}"#;
    expect(text, None, "`Version` must be", Severity::Error, (1, 13));
    let text = r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#;
    expect(text, None, "missing `Version`", Severity::Warning, (1, 1));
}

#[test]
fn missing_statement_is_an_error() {
    expect(
        r#"{"Version": "2012-10-17"}"#,
        None,
        "missing `Statement`",
        Severity::Error,
        (1, 1),
    );
    expect(
        r#"{"Version": "2012-10-17", "Statement": "x"}"#,
        None,
        "must be an object or an array",
        Severity::Error,
        (1, 40),
    );
}

#[test]
fn action_and_not_action_together_are_an_error() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "NotAction": "s3:*", "Resource": "*"}"#,
    );
    expect(
        &text,
        None,
        "`Action` or `NotAction`, not both",
        Severity::Error,
        (3, 54),
    );
    let text = auth(r#"{"Effect": "Allow", "Principal": "*", "Resource": "*"}"#);
    expect(&text, None, "missing `Action`", Severity::Error, (3, 1));
}

#[test]
fn resource_and_not_resource_together_are_an_error() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "NotResource": "*"}"#,
    );
    expect(
        &text,
        None,
        "`Resource` or `NotResource`, not both",
        Severity::Error,
        (3, 71),
    );
    let text = auth(r#"{"Effect": "Allow", "Principal": "*", "Action": "*"}"#);
    expect(&text, None, "missing `Resource`", Severity::Error, (3, 1));
}

#[test]
fn principal_in_an_identity_policy_is_an_error() {
    let text = auth(OK_AUTH);
    expect(
        &text,
        Some(PolicyKind::Identity),
        "not allowed in an identity policy",
        Severity::Error,
        (3, 21),
    );
}

#[test]
fn missing_principal_in_an_auth_policy_is_an_error() {
    let text = auth(r#"{"Effect": "Allow", "Action": "*", "Resource": "*"}"#);
    expect(
        &text,
        Some(PolicyKind::Auth),
        "missing `Principal`",
        Severity::Error,
        (3, 1),
    );
}

#[test]
fn principal_and_not_principal_together_are_an_error() {
    let text = auth(
        r#"{"Effect": "Deny", "Principal": "*", "NotPrincipal": "*", "Action": "*", "Resource": "*"}"#,
    );
    expect(
        &text,
        None,
        "`Principal` or `NotPrincipal`, not both",
        Severity::Error,
        (3, 38),
    );
}

#[test]
fn bare_arn_principal_is_an_error() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "arn:aws:iam::111122223333:root", "Action": "*", "Resource": "*"}"#,
    );
    expect(
        &text,
        None,
        "a bare string other than",
        Severity::Error,
        (3, 34),
    );
}

#[test]
fn partial_wildcards_in_principals_are_errors() {
    for p in [
        "arn:aws:iam::*:role/x",
        "arn:aws:iam::111122223333:role/*",
        "arn:aws:sts::111122223333:assumed-role/r/*",
    ] {
        let text = auth(&format!(
            r#"{{"Effect": "Allow", "Principal": {{"AWS": "{p}"}}, "Action": "*", "Resource": "*"}}"#
        ));
        expect(
            &text,
            None,
            "wildcard in principal",
            Severity::Error,
            (3, 42),
        );
    }
}

#[test]
fn unknown_principal_key_is_an_error() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": {"Account": "111122223333"}, "Action": "*", "Resource": "*"}"#,
    );
    expect(
        &text,
        None,
        "unknown principal type `Account`",
        Severity::Error,
        (3, 35),
    );
}

#[test]
fn malformed_principal_arns_are_errors() {
    for p in [
        "arn:aws:iam::1111:root",
        "arn:aws:iam::111122223333:group/g",
        "alice",
        "arn:aws:s3:::bucket",
    ] {
        let text = auth(&format!(
            r#"{{"Effect": "Allow", "Principal": {{"AWS": ["{p}"]}}, "Action": "*", "Resource": "*"}}"#
        ));
        expect(
            &text,
            None,
            "invalid AWS principal",
            Severity::Error,
            (3, 43),
        );
    }
}

#[test]
fn not_principal_with_allow_is_a_warning() {
    let text = auth(
        r#"{"Effect": "Allow", "NotPrincipal": {"AWS": "111122223333"}, "Action": "*", "Resource": "*"}"#,
    );
    expect(
        &text,
        None,
        "`NotPrincipal` with `Allow`",
        Severity::Warning,
        (3, 21),
    );
}

#[test]
fn invoke_service_typo_is_a_warning() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "vpc-lattice:InvokeService", "Resource": "*"}"#,
    );
    expect(
        &text,
        None,
        "`vpc-lattice:InvokeService` is not an action",
        Severity::Warning,
        (3, 49),
    );
    assert!(!check(&text, None).has_errors());
}

#[test]
fn actions_of_other_services_are_warnings() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "*", "Action": ["s3:*", "vpc-lattice-svcs:*"], "Resource": "*"}"#,
    );
    expect(
        &text,
        None,
        "action `s3:*` can never match",
        Severity::Warning,
        (3, 50),
    );
    let text =
        auth(r#"{"Effect": "Deny", "Principal": "*", "NotAction": ["s3:*"], "Resource": "*"}"#);
    assert!(diags(&text, None).is_empty());
}

#[test]
fn action_without_a_service_prefix_is_an_error() {
    let text =
        auth(r#"{"Effect": "Allow", "Principal": "*", "Action": "Invoke", "Resource": "*"}"#);
    expect(
        &text,
        None,
        "`Invoke` is not an action",
        Severity::Error,
        (3, 49),
    );
}

#[test]
fn empty_arrays_are_warnings() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": {"AWS": []}, "Action": [], "Resource": [], "Condition": {"StringEquals": {"aws:PrincipalTag/team": []}}}"#,
    );
    let all = diags(&text, None);
    let warnings: Vec<_> = all
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .collect();
    assert_eq!(warnings.len(), 4, "{all:#?}");
    assert!(!check(&text, None).has_errors());
    assert_eq!((warnings[0].line, warnings[0].column), (3, 42));
}

#[test]
fn empty_condition_is_a_warning() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {}}"#,
    );
    expect(&text, None, "empty `Condition`", Severity::Warning, (3, 84));
}

#[test]
fn identity_resource_must_be_an_arn() {
    let text = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*/rates"}}"#;
    expect(
        text,
        Some(PolicyKind::Identity),
        "must be an ARN",
        Severity::Error,
        pos(text, "\"*/rates\""),
    );
    let text =
        auth(r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*/rates"}"#);
    assert!(diags(&text, None).is_empty());
}

#[test]
fn identity_sid_must_be_alphanumeric_and_unique() {
    let text = "{\"Version\": \"2012-10-17\", \"Statement\": [\n{\"Sid\": \"a-b\", \"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"},\n{\"Sid\": \"x\", \"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"},\n{\"Sid\": \"x\", \"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}]}";
    expect(text, None, "must be alphanumeric", Severity::Error, (2, 9));
    expect(
        text,
        None,
        "duplicate `Sid` `x` (first at 3:9)",
        Severity::Error,
        (4, 9),
    );
}

#[test]
fn duplicate_sid_in_an_auth_policy_is_a_warning() {
    let s =
        r#"{"Sid": "Same-1", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}"#;
    let text = auth(&format!("{s},\n{s}"));
    expect(
        &text,
        None,
        "duplicate `Sid` `Same-1`",
        Severity::Warning,
        (4, 9),
    );
}

#[test]
fn id_in_an_identity_policy_is_a_warning() {
    let text = r#"{"Version": "2012-10-17", "Id": "x", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#;
    expect(
        text,
        None,
        "`Id` is for resource",
        Severity::Warning,
        (1, 27),
    );
}

#[test]
fn unknown_operator_and_null_if_exists_are_errors() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEqual": {"aws:username": "a"}, "NullIfExists": {"aws:username": "true"}}}"#,
    );
    expect(
        &text,
        None,
        "unknown condition operator `StringEqual`",
        Severity::Error,
        pos(&text, "\"StringEqual\""),
    );
    expect(
        &text,
        None,
        "`NullIfExists` is not an operator",
        Severity::Error,
        pos(&text, "\"NullIfExists\""),
    );
}

#[test]
fn malformed_typed_values_are_errors() {
    let cases = [
        (
            "IpAddress",
            "aws:SourceIp",
            "10.0.0.0/33",
            "not an IP address",
        ),
        (
            "NumericLessThan",
            "vpc-lattice-svcs:Port",
            "44x",
            "not a number",
        ),
        (
            "DateGreaterThan",
            "aws:CurrentTime",
            "2030-02-30",
            "not a date",
        ),
        ("BinaryEquals", "aws:SomeKey", "not*base64", "not base64"),
    ];
    for (op, key, value, needle) in cases {
        let text = auth(&format!(
            r#"{{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {{"{op}": {{"{key}": "{value}"}}}}}}"#
        ));
        expect(
            &text,
            None,
            needle,
            Severity::Error,
            pos(&text, &format!("\"{value}\"")),
        );
    }
}

#[test]
fn condition_value_of_the_wrong_type_is_an_error() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:username": {"a": 1}}}}"#,
    );
    expect(
        &text,
        None,
        "must be strings, numbers or booleans",
        Severity::Error,
        pos(&text, "{\"a\": 1}"),
    );
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEquals": "x"}}"#,
    );
    expect(
        &text,
        None,
        "block must be an object",
        Severity::Error,
        (3, 101),
    );
}

#[test]
fn json_numbers_and_booleans_are_valid_condition_values() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"NumericEquals": {"vpc-lattice-svcs:Port": 443}, "Bool": {"aws:SecureTransport": true}}}"#,
    );
    assert!(diags(&text, None).is_empty(), "{:#?}", diags(&text, None));
}

#[test]
fn wildcard_in_string_equals_is_a_warning() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"vpc-lattice-svcs:RequestPath": "/api/*"}}}"#,
    );
    expect(
        &text,
        None,
        "use `StringLike` for wildcards",
        Severity::Warning,
        pos(&text, "\"/api/*\""),
    );
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"vpc-lattice-svcs:RequestPath": "/a${*}"}}}"#,
    );
    assert!(diags(&text, None).is_empty());
}

#[test]
fn lattice_key_case_and_unknown_lattice_keys_are_warnings() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"vpc-lattice-svcs:requestmethod": "GET", "vpc-lattice-svcs:Method": "GET"}}}"#,
    );
    expect(
        &text,
        None,
        "documented as `vpc-lattice-svcs:RequestMethod`",
        Severity::Warning,
        pos(&text, "\"vpc-lattice-svcs:requestmethod\""),
    );
    expect(
        &text,
        None,
        "is not a VPC Lattice condition key",
        Severity::Warning,
        pos(&text, "\"vpc-lattice-svcs:Method\""),
    );
}

#[test]
fn keys_differing_only_by_case_are_a_warning() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalTag/team": "a", "aws:PrincipalTag/Team": "b"}}}"#,
    );
    expect(
        &text,
        None,
        "differ only by case",
        Severity::Warning,
        pos(&text, "\"aws:PrincipalTag/Team\""),
    );
}

#[test]
fn set_operator_on_single_valued_key_is_a_warning() {
    let text = auth(
        r#"{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"ForAnyValue:StringEquals": {"aws:PrincipalTag/team": "a"}}}"#,
    );
    expect(
        &text,
        None,
        "is single-valued",
        Severity::Warning,
        pos(&text, "\"aws:PrincipalTag/team\""),
    );
}

#[test]
fn plain_operator_on_multivalued_key_is_a_warning() {
    let text = auth(
        r#"{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"vpc-lattice-svcs:RequestQueryString/tag": "a"}}}"#,
    );
    expect(
        &text,
        None,
        "is multivalued",
        Severity::Warning,
        pos(&text, "\"vpc-lattice-svcs:RequestQueryString/tag\""),
    );
}

#[test]
fn for_all_values_in_allow_without_null_guard_is_a_warning() {
    let body =
        r#""ForAllValues:StringEquals": {"vpc-lattice-svcs:RequestQueryString/tag": ["a", "b"]}"#;
    let text = auth(&format!(
        r#"{{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {{{body}}}}}"#
    ));
    expect(
        &text,
        None,
        "add `\"Null\"",
        Severity::Warning,
        pos(&text, "\"vpc-lattice-svcs:RequestQueryString/tag\""),
    );
    let text = auth(&format!(
        r#"{{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {{{body}, "Null": {{"vpc-lattice-svcs:RequestQueryString/tag": "false"}}}}}}"#
    ));
    assert!(diags(&text, None).is_empty(), "{:#?}", diags(&text, None));
}

#[test]
fn variable_under_old_or_missing_version_is_a_warning() {
    let text = r#"{"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "arn:aws:s3:::b/${aws:username}"}}"#;
    expect(
        text,
        None,
        "plain text here",
        Severity::Warning,
        pos(text, "${"),
    );
}

#[test]
fn malformed_variables_are_errors() {
    let cases = [
        ("/${aws:username", "no closing `}`"),
        ("/${}", "empty variable"),
        ("/${aws:user name}", "contains a space"),
        ("/${aws:username,'x'}", "must be written `, 'text'`"),
        ("/${aws:username, 'x}", "no closing `'`"),
    ];
    for (value, needle) in cases {
        let text = auth(&format!(
            r#"{{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {{"StringLike": {{"vpc-lattice-svcs:RequestPath": "{value}"}}}}}}"#
        ));
        expect(&text, None, needle, Severity::Error, pos(&text, "${"));
    }
}

#[test]
fn variables_in_action_or_typed_operators_are_errors() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:${aws:username}", "Resource": "*"}"#,
    );
    expect(
        &text,
        None,
        "not allowed in `Action`",
        Severity::Error,
        pos(&text, "\"vpc-lattice-svcs:${"),
    );
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"NumericEquals": {"vpc-lattice-svcs:Port": "${aws:username}"}}}"#,
    );
    expect(
        &text,
        None,
        "not allowed with `NumericEquals`",
        Severity::Error,
        pos(&text, "${"),
    );
}

#[test]
fn variable_outside_the_resource_part_is_an_error() {
    let text = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:vpc-lattice:${aws:username}:1:service/x"}}"#;
    expect(
        text,
        None,
        "only in the resource part",
        Severity::Error,
        (1, 108),
    );
}

#[test]
fn characters_outside_latin1_are_a_warning() {
    let text = "{\"Version\": \"2012-10-17\", \"Statement\": {\"Sid\": \"\u{2713}\", \"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"*\", \"Resource\": \"*\"}}";
    expect(text, None, "U+2713", Severity::Warning, (1, 49));
}

#[test]
fn auth_policy_over_10_kb_is_a_warning() {
    let statements = vec![OK_AUTH; 120].join(",\n");
    let text = auth(&statements);
    assert!(text.len() > 10 * 1024);
    expect(
        &text,
        None,
        "at most 10240 bytes",
        Severity::Warning,
        (1, 1),
    );
}

#[test]
fn identity_policy_over_6144_characters_is_a_warning() {
    let s = r#"{"Effect": "Allow", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}"#;
    let text = format!(
        "{{\"Version\": \"2012-10-17\", \"Statement\": [{}]}}",
        vec![s; 100].join(", ")
    );
    expect(&text, None, "at most 6144", Severity::Warning, (1, 1));
}

#[test]
fn all_diagnostics_are_reported_at_once_in_text_order() {
    let text = "{\"Statement\": [\n{\"Effect\": \"allow\", \"Principal\": \"*\", \"Action\": \"x\", \"Resource\": \"*\"},\n{\"Effect\": \"Allow\", \"Principal\": \"bob\", \"Action\": \"*\", \"Resource\": \"*\"}]}";
    let all = diags(text, None);
    assert_eq!(all.len(), 4, "{all:#?}");
    let positions: Vec<(u32, u32)> = all.iter().map(|d| (d.line, d.column)).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);
    assert_eq!(all[0].severity, Severity::Warning);
    assert_eq!(all[0].to_string(), "1:1: warning: missing `Version`: add `\"Version\": \"2012-10-17\"` (without it, policy variables are plain text)");
}

#[test]
fn check_value_reports_positions_in_the_whole_document() {
    let text = "{\"principals\": [{\"policies\": [\n  {\"Version\": \"2012-10-17\", \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"x\"}}]}]}";
    let doc = crate::json::parse(text).unwrap();
    let policy = &doc.get("principals").unwrap();
    let crate::json::Kind::Array(items) = &policy.kind else {
        panic!()
    };
    let crate::json::Kind::Array(policies) = &items[0].get("policies").unwrap().kind else {
        panic!()
    };
    let checked = crate::check_value(&policies[0], text, Some(PolicyKind::Identity));
    assert_eq!(checked.diagnostics.len(), 1, "{:#?}", checked.diagnostics);
    assert_eq!(
        (checked.diagnostics[0].line, checked.diagnostics[0].column),
        pos(text, "\"x\"")
    );
}

#[test]
fn variables_in_condition_keys_are_errors() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalTag/${aws:username}": "a"}}}"#,
    );
    expect(
        &text,
        None,
        "not allowed in condition keys",
        Severity::Error,
        pos(&text, "\"aws:PrincipalTag/${"),
    );
}

#[test]
fn variables_in_a_principal_are_errors() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/${aws:username}"}, "Action": "*", "Resource": "*"}"#,
    );
    let at = pos(&text, "\"arn:aws:iam::111122223333:user/$");
    expect(
        &text,
        None,
        "policy variables are not allowed in `Principal`",
        Severity::Error,
        at,
    );
}

#[test]
fn a_resource_that_cannot_match_a_lattice_service_is_a_warning_at_its_position() {
    for (resource, advice) in [
        ("/admin/*", "`*/admin/*`"),
        ("arn:aws:s3:::bucket/*", "`s3` resource"),
        (
            "arn:aws:vpc-latice:us-west-2:111122223333:service/svc-0123456789abcdef0/*",
            "write `vpc-lattice`",
        ),
    ] {
        let text = auth(&format!(
            r#"{{"Effect": "Deny", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": ["*/ok", "{resource}"]}}"#
        ));
        let at = pos(&text, &format!("\"{resource}\""));
        expect(
            &text,
            None,
            "never matches a VPC Lattice service",
            Severity::Warning,
            at,
        );
        expect(&text, None, advice, Severity::Warning, at);
        assert!(check(&text, None).compile().is_some());
    }
}

#[test]
fn resources_that_can_match_a_lattice_service_are_not_warned_about() {
    for resource in [
        "*",
        "*/*",
        "arn:aws:vpc-lattice:*:*:service/*",
        "arn:aws-us-gov:vpc-lattice:us-gov-west-1:111122223333:service/svc-0123456789abcdef0/*",
    ] {
        let text = auth(&OK_AUTH.replace(
            "\"Resource\": \"*\"",
            &format!("\"Resource\": \"{resource}\""),
        ));
        assert!(
            diags(&text, None).is_empty(),
            "{resource}: {:#?}",
            diags(&text, None)
        );
    }
}

#[test]
fn a_not_resource_that_cannot_match_excludes_nothing() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "NotResource": "/admin/*"}"#,
    );
    expect(
        &text,
        None,
        "excludes nothing",
        Severity::Warning,
        pos(&text, "\"/admin/*\""),
    );
}

#[test]
fn an_identity_policy_resource_is_checked_against_lattice_services_too() {
    let text = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "vpc-lattice-svcs:Invoke", "Resource": "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0"}]}"#;
    expect(
        text,
        Some(PolicyKind::Identity),
        "without a path",
        Severity::Warning,
        pos(text, "\"arn:aws:vpc-lattice"),
    );
    // An action outside Lattice is warned about once, on the action; its resource is not.
    let text = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}]}"#;
    let all = diags(text, Some(PolicyKind::Identity));
    assert_eq!(all.len(), 1, "{all:#?}");
    assert!(all[0].message.contains("s3:GetObject"));
}

#[test]
fn an_unknown_aws_condition_key_is_a_warning_with_the_closest_key() {
    let text = auth(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincpalOrgID": "o-a1b2c3d4e5", "aws:SourceArn": "x"}}}"#,
    );
    expect(
        &text,
        None,
        "`aws:PrincpalOrgID` is not an AWS global condition key, so it is never present: did you mean `aws:PrincipalOrgID`?",
        Severity::Warning,
        pos(&text, "\"aws:PrincpalOrgID\""),
    );
    assert_eq!(diags(&text, None).len(), 1, "{:#?}", diags(&text, None));
}
