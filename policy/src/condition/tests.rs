use crate::fixtures::{cond, ctx, holds, with_condition};
use crate::MapContext;

fn many(key: &str, values: &[&str]) -> MapContext {
    let mut c = MapContext::new();
    c.insert_many(key, values.iter().copied());
    c
}

const TEAM_X: &str = r#"{"aws:PrincipalTag/team": "x"}"#;

#[test]
fn positive_operator_on_missing_key_is_false() {
    assert!(!cond(
        &format!(r#"{{"StringEquals": {TEAM_X}}}"#),
        &ctx(&[])
    ));
    assert!(!cond(
        r#"{"StringLike": {"vpc-lattice-svcs:RequestHeader/x-a": "*"}}"#,
        &ctx(&[])
    ));
}

#[test]
fn negated_operator_on_missing_key_is_true() {
    assert!(cond(
        &format!(r#"{{"StringNotEquals": {TEAM_X}}}"#),
        &ctx(&[])
    ));
    assert!(cond(
        r#"{"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/checkout"}}"#,
        &ctx(&[])
    ));
    assert!(cond(
        r#"{"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#,
        &ctx(&[])
    ));
}

#[test]
fn if_exists_on_missing_key_is_true_even_when_negated() {
    assert!(cond(
        &format!(r#"{{"StringEqualsIfExists": {TEAM_X}}}"#),
        &ctx(&[])
    ));
    assert!(cond(
        &format!(r#"{{"StringNotEqualsIfExists": {TEAM_X}}}"#),
        &ctx(&[])
    ));
    // Present: the operator applies as usual.
    assert!(!cond(
        &format!(r#"{{"StringEqualsIfExists": {TEAM_X}}}"#),
        &ctx(&[("aws:PrincipalTag/team", "y")])
    ));
}

#[test]
fn negated_operator_with_several_values_is_nor() {
    let c = r#"{"StringNotEquals": {"aws:PrincipalTag/team": ["a", "b"]}}"#;
    assert!(!cond(c, &ctx(&[("aws:PrincipalTag/team", "a")])));
    assert!(!cond(c, &ctx(&[("aws:PrincipalTag/team", "b")])));
    assert!(cond(c, &ctx(&[("aws:PrincipalTag/team", "c")])));
}

#[test]
fn positive_operator_with_several_values_is_or() {
    let c = r#"{"StringEquals": {"aws:PrincipalTag/team": ["a", "b"]}}"#;
    assert!(cond(c, &ctx(&[("aws:PrincipalTag/team", "b")])));
    assert!(!cond(c, &ctx(&[("aws:PrincipalTag/team", "c")])));
}

#[test]
fn several_keys_and_operators_are_anded() {
    let c = r#"{"StringEquals": {"aws:PrincipalTag/team": "a", "vpc-lattice-svcs:RequestMethod": "GET"}, "Bool": {"aws:SecureTransport": "true"}}"#;
    let full = ctx(&[
        ("aws:PrincipalTag/team", "a"),
        ("vpc-lattice-svcs:RequestMethod", "GET"),
        ("aws:SecureTransport", "true"),
    ]);
    assert!(cond(c, &full));
    let partial = ctx(&[
        ("aws:PrincipalTag/team", "a"),
        ("vpc-lattice-svcs:RequestMethod", "GET"),
    ]);
    assert!(!cond(c, &partial));
}

#[test]
fn condition_key_names_are_case_insensitive() {
    assert!(cond(
        r#"{"StringEquals": {"AWS:PRINCIPALTAG/TEAM": "x"}}"#,
        &ctx(&[("aws:PrincipalTag/team", "x")])
    ));
    assert!(cond(
        r#"{"IpAddress": {"AWS:SOURCEIP": "10.0.0.0/8"}}"#,
        &ctx(&[("aws:SourceIp", "10.1.2.3")])
    ));
}

#[test]
fn string_equals_is_exact_case_sensitive_and_star_is_literal() {
    let c = r#"{"StringEquals": {"vpc-lattice-svcs:RequestPath": "/a*"}}"#;
    assert!(cond(c, &ctx(&[("vpc-lattice-svcs:RequestPath", "/a*")])));
    assert!(!cond(c, &ctx(&[("vpc-lattice-svcs:RequestPath", "/ab")])));
    let c = r#"{"StringEquals": {"vpc-lattice-svcs:RequestMethod": "GET"}}"#;
    assert!(!cond(c, &ctx(&[("vpc-lattice-svcs:RequestMethod", "get")])));
}

#[test]
fn string_equals_ignore_case_ignores_case_only() {
    let c = r#"{"StringEqualsIgnoreCase": {"aws:PrincipalType": "anonymous"}}"#;
    assert!(cond(c, &ctx(&[("aws:PrincipalType", "Anonymous")])));
    assert!(!cond(c, &ctx(&[("aws:PrincipalType", "Anonymous2")])));
    let c = r#"{"StringNotEqualsIgnoreCase": {"aws:PrincipalType": "anonymous"}}"#;
    assert!(!cond(c, &ctx(&[("aws:PrincipalType", "ANONYMOUS")])));
    assert!(cond(
        r#"{"StringEqualsIgnoreCase": {"aws:username": "ÉLAN"}}"#,
        &ctx(&[("aws:username", "élan")])
    ));
}

#[test]
fn string_like_globs_the_whole_value() {
    let c = r#"{"StringLike": {"vpc-lattice-svcs:RequestPath": ["/api", "/api/*"]}}"#;
    for (path, want) in [
        ("/api", true),
        ("/api/v1/x", true),
        ("/apix", false),
        ("/v/api", false),
    ] {
        assert_eq!(
            cond(c, &ctx(&[("vpc-lattice-svcs:RequestPath", path)])),
            want,
            "{path}"
        );
    }
    let c = r#"{"StringNotLike": {"vpc-lattice-svcs:RequestPath": "/admin*"}}"#;
    assert!(!cond(
        c,
        &ctx(&[("vpc-lattice-svcs:RequestPath", "/admin/x")])
    ));
    assert!(cond(
        c,
        &ctx(&[("vpc-lattice-svcs:RequestPath", "/public")])
    ));
}

#[test]
fn numbers_compare_by_value() {
    let port = |p: &str| ctx(&[("vpc-lattice-svcs:Port", p)]);
    assert!(cond(
        r#"{"NumericLessThan": {"vpc-lattice-svcs:Port": "443.5"}}"#,
        &port("443")
    ));
    assert!(!cond(
        r#"{"NumericGreaterThan": {"vpc-lattice-svcs:Port": "443"}}"#,
        &port("443")
    ));
    assert!(cond(
        r#"{"NumericGreaterThanEquals": {"vpc-lattice-svcs:Port": 443}}"#,
        &port("443")
    ));
    assert!(cond(
        r#"{"NumericLessThan": {"vpc-lattice-svcs:Port": "1000"}}"#,
        &port("999")
    ));
    assert!(cond(
        r#"{"NumericLessThanEquals": {"vpc-lattice-svcs:Port": "8080"}}"#,
        &port("8080.0")
    ));
    assert!(cond(
        r#"{"NumericEquals": {"vpc-lattice-svcs:Port": "0443"}}"#,
        &port("443")
    ));
    assert!(!cond(
        r#"{"NumericNotEquals": {"vpc-lattice-svcs:Port": ["80", "443"]}}"#,
        &port("443")
    ));
    assert!(cond(
        r#"{"NumericNotEquals": {"vpc-lattice-svcs:Port": ["80", "443"]}}"#,
        &port("8443")
    ));
}

#[test]
fn unparsable_request_value_matches_no_policy_value() {
    let port = ctx(&[("vpc-lattice-svcs:Port", "http")]);
    assert!(!cond(
        r#"{"NumericEquals": {"vpc-lattice-svcs:Port": "80"}}"#,
        &port
    ));
    assert!(cond(
        r#"{"NumericNotEquals": {"vpc-lattice-svcs:Port": "80"}}"#,
        &port
    ));
    let ip = ctx(&[("aws:SourceIp", "not-an-ip")]);
    assert!(!cond(
        r#"{"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}"#,
        &ip
    ));
    assert!(cond(
        r#"{"NotIpAddress": {"aws:SourceIp": "0.0.0.0/0"}}"#,
        &ip
    ));
}

#[test]
fn dates_compare_as_instants_in_either_form() {
    let now = |t: &str| ctx(&[("aws:CurrentTime", t)]);
    assert!(cond(
        r#"{"DateEquals": {"aws:CurrentTime": "2026-11-23T12:00:00Z"}}"#,
        &now("1795435200")
    ));
    assert!(cond(
        r#"{"DateEquals": {"aws:CurrentTime": "1795435200"}}"#,
        &now("2026-11-23T14:00:00+02:00")
    ));
    assert!(cond(
        r#"{"DateLessThan": {"aws:CurrentTime": "2030-01-01"}}"#,
        &now("2029-12-31T23:59:59Z")
    ));
    assert!(!cond(
        r#"{"DateGreaterThan": {"aws:CurrentTime": "2030-01-01"}}"#,
        &now("2030-01-01T00:00:00Z")
    ));
    assert!(cond(
        r#"{"DateGreaterThanEquals": {"aws:CurrentTime": "2030-01-01"}}"#,
        &now("2030-01-01T00:00:00Z")
    ));
    assert!(cond(
        r#"{"DateNotEquals": {"aws:CurrentTime": "2030-01-01"}}"#,
        &now("2030-01-02")
    ));
    assert!(cond(
        r#"{"DateLessThanEquals": {"aws:EpochTime": "2030-01-01"}}"#,
        &ctx(&[("aws:EpochTime", "1700000000")])
    ));
}

#[test]
fn epoch_time_works_with_numeric_operators() {
    assert!(cond(
        r#"{"NumericGreaterThan": {"aws:EpochTime": 1700000000}}"#,
        &ctx(&[("aws:EpochTime", "1795435200")])
    ));
}

#[test]
fn bool_compares_true_and_false() {
    let c = r#"{"Bool": {"aws:SecureTransport": true}}"#;
    assert!(cond(c, &ctx(&[("aws:SecureTransport", "true")])));
    assert!(cond(c, &ctx(&[("aws:SecureTransport", "TRUE")])));
    assert!(!cond(c, &ctx(&[("aws:SecureTransport", "false")])));
    assert!(!cond(c, &ctx(&[("aws:SecureTransport", "yes")])));
    assert!(cond(
        r#"{"BoolIfExists": {"aws:SecureTransport": "false"}}"#,
        &ctx(&[])
    ));
}

#[test]
fn binary_equals_compares_decoded_bytes() {
    let c = r#"{"BinaryEquals": {"aws:SomeBinary": "aGVsbG8="}}"#;
    assert!(cond(c, &ctx(&[("aws:SomeBinary", "aGVsbG8=")])));
    assert!(cond(c, &ctx(&[("aws:SomeBinary", "aGVsbG8")])));
    assert!(!cond(c, &ctx(&[("aws:SomeBinary", "aGVsbA==")])));
    assert!(!cond(c, &ctx(&[("aws:SomeBinary", "%%%")])));
}

#[test]
fn ip_address_matches_v4_and_v6_ranges() {
    let ip = |a: &str| ctx(&[("aws:SourceIp", a)]);
    let c = r#"{"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:DB8::/32"]}}"#;
    assert!(cond(c, &ip("10.200.0.1")));
    assert!(cond(c, &ip("2001:db8::1")));
    assert!(!cond(c, &ip("11.0.0.1")));
    assert!(!cond(c, &ip("::ffff:10.0.0.1")));
    assert!(cond(
        r#"{"IpAddress": {"aws:SourceIp": "192.0.2.7"}}"#,
        &ip("192.0.2.7")
    ));
    assert!(!cond(
        r#"{"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#,
        &ip("10.0.0.1")
    ));
}

#[test]
fn arn_like_matches_part_by_part_unlike_string_like() {
    let value =
        "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt";
    let c = ctx(&[("aws:SomeArn", value)]);
    let pattern = "arn:aws:someservice:*:111122223333:finance/*";
    assert!(cond(
        &format!(r#"{{"StringLike": {{"aws:SomeArn": "{pattern}"}}}}"#),
        &c
    ));
    assert!(!cond(
        &format!(r#"{{"ArnLike": {{"aws:SomeArn": "{pattern}"}}}}"#),
        &c
    ));
}

#[test]
fn arn_equals_is_arn_like() {
    let c = ctx(&[(
        "aws:PrincipalArn",
        "arn:aws:iam::111122223333:role/team/checkout",
    )]);
    assert!(cond(
        r#"{"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::*:role/*/checkout"}}"#,
        &c
    ));
    assert!(cond(
        r#"{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/team/checkout"}}"#,
        &c
    ));
    assert!(!cond(
        r#"{"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}}"#,
        &c
    ));
    assert!(cond(
        r#"{"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"}}"#,
        &c
    ));
    // Case-sensitive parts.
    assert!(!cond(
        r#"{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/team/Checkout"}}"#,
        &c
    ));
}

#[test]
fn arn_operator_on_a_non_arn_request_value_does_not_match() {
    let c = ctx(&[("aws:PrincipalArn", "not-an-arn")]);
    assert!(!cond(
        r#"{"ArnLike": {"aws:PrincipalArn": "arn:*:*:*:*:*"}}"#,
        &c
    ));
    assert!(cond(
        r#"{"ArnNotLike": {"aws:PrincipalArn": "arn:*:*:*:*:*"}}"#,
        &c
    ));
}

#[test]
fn null_is_true_iff_the_key_is_absent() {
    assert!(cond(
        r#"{"Null": {"aws:PrincipalTag/team": "true"}}"#,
        &ctx(&[])
    ));
    assert!(!cond(
        r#"{"Null": {"aws:PrincipalTag/team": "true"}}"#,
        &ctx(&[("aws:PrincipalTag/team", "")])
    ));
    assert!(cond(
        r#"{"Null": {"aws:PrincipalTag/team": false}}"#,
        &ctx(&[("aws:PrincipalTag/team", "a")])
    ));
    assert!(!cond(
        r#"{"Null": {"aws:PrincipalTag/team": "false"}}"#,
        &ctx(&[])
    ));
}

const QS: &str = "vpc-lattice-svcs:RequestQueryString/tag";

#[test]
fn for_any_value_on_missing_or_empty_key_is_false() {
    let c = format!(r#"{{"ForAnyValue:StringEquals": {{"{QS}": ["a", "b"]}}}}"#);
    assert!(!cond(&c, &ctx(&[])));
    assert!(!cond(&c, &many(QS, &[])));
    assert!(cond(&c, &many(QS, &["z", "b"])));
    assert!(!cond(&c, &many(QS, &["z"])));
}

#[test]
fn for_all_values_on_missing_or_empty_key_is_true() {
    let c = format!(r#"{{"ForAllValues:StringEquals": {{"{QS}": ["a", "b"]}}}}"#);
    assert!(cond(&c, &ctx(&[])));
    assert!(cond(&c, &many(QS, &[])));
    assert!(cond(&c, &many(QS, &["a", "b", "a"])));
    assert!(!cond(&c, &many(QS, &["a", "c"])));
}

#[test]
fn for_all_values_with_null_guard_requires_the_key() {
    let c = format!(
        r#"{{"ForAllValues:StringEquals": {{"{QS}": ["a", "b"]}}, "Null": {{"{QS}": "false"}}}}"#
    );
    assert!(!cond(&c, &ctx(&[])));
    assert!(cond(&c, &many(QS, &["a"])));
}

#[test]
fn for_all_values_string_not_like_follows_the_aws_table() {
    let c = r#"{"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}"#;
    assert!(!cond(c, &many("aws:TagKeys", &["key1:legal"])));
    assert!(cond(c, &many("aws:TagKeys", &["key2:audit"])));
    assert!(cond(c, &ctx(&[])));
}

#[test]
fn empty_policy_value_list_matches_only_absence_where_it_can() {
    let any = format!(r#"{{"ForAnyValue:StringEquals": {{"{QS}": []}}}}"#);
    assert!(!cond(&any, &many(QS, &["a"])));
    assert!(!cond(&any, &ctx(&[])));
    let all = format!(r#"{{"ForAllValues:StringEquals": {{"{QS}": []}}}}"#);
    assert!(!cond(&all, &many(QS, &["a"])));
    assert!(cond(&all, &ctx(&[])));
    let if_exists = r#"{"StringEqualsIfExists": {"aws:PrincipalTag/team": []}}"#;
    assert!(!cond(if_exists, &ctx(&[("aws:PrincipalTag/team", "a")])));
    assert!(cond(if_exists, &ctx(&[])));
}

#[test]
fn plain_operator_on_multivalued_request_value_is_false() {
    let values = many(QS, &["a"]);
    assert!(!cond(
        &format!(r#"{{"StringEquals": {{"{QS}": "a"}}}}"#),
        &values
    ));
    assert!(!cond(
        &format!(r#"{{"StringNotEquals": {{"{QS}": "b"}}}}"#),
        &values
    ));
    assert!(!cond(
        &format!(r#"{{"StringNotEqualsIfExists": {{"{QS}": "b"}}}}"#),
        &values
    ));
}

#[test]
fn set_operator_on_single_value_treats_it_as_one_element_set() {
    let team = ctx(&[("aws:PrincipalTag/team", "payments")]);
    assert!(cond(
        r#"{"ForAnyValue:StringEquals": {"aws:PrincipalTag/team": "payments"}}"#,
        &team
    ));
    assert!(cond(
        r#"{"ForAllValues:StringEquals": {"aws:PrincipalTag/team": "payments"}}"#,
        &team
    ));
    // ...and ForAllValues allows callers without the tag.
    assert!(cond(
        r#"{"ForAllValues:StringEquals": {"aws:PrincipalTag/team": "payments"}}"#,
        &ctx(&[])
    ));
}

#[test]
fn variables_are_substituted_from_the_context() {
    let c = r#"{"StringEquals": {"vpc-lattice-svcs:RequestHeader/x-user": "${aws:username}"}}"#;
    assert!(cond(
        c,
        &ctx(&[
            ("aws:username", "ana"),
            ("vpc-lattice-svcs:RequestHeader/x-user", "ana")
        ])
    ));
    assert!(!cond(
        c,
        &ctx(&[
            ("aws:username", "ana"),
            ("vpc-lattice-svcs:RequestHeader/x-user", "bob")
        ])
    ));
}

#[test]
fn missing_variable_fails_positive_and_satisfies_negated_operators() {
    let header = ctx(&[("vpc-lattice-svcs:RequestHeader/x-team", "payments")]);
    assert!(!cond(
        r#"{"StringEquals": {"vpc-lattice-svcs:RequestHeader/x-team": "${aws:PrincipalTag/team}"}}"#,
        &header
    ));
    assert!(!cond(
        r#"{"StringLike": {"vpc-lattice-svcs:RequestHeader/x-team": "*${aws:PrincipalTag/team}"}}"#,
        &header
    ));
    assert!(cond(
        r#"{"StringNotEquals": {"vpc-lattice-svcs:RequestHeader/x-team": "${aws:PrincipalTag/team}"}}"#,
        &header
    ));
}

#[test]
fn variable_default_is_used_only_when_the_key_is_absent() {
    let c = r#"{"StringEquals": {"vpc-lattice-svcs:RequestHeader/x-team": "${aws:PrincipalTag/team, 'public'}"}}"#;
    assert!(cond(
        c,
        &ctx(&[("vpc-lattice-svcs:RequestHeader/x-team", "public")])
    ));
    assert!(!cond(
        c,
        &ctx(&[
            ("vpc-lattice-svcs:RequestHeader/x-team", "public"),
            ("aws:PrincipalTag/team", "payments")
        ])
    ));
    assert!(cond(
        c,
        &ctx(&[
            ("vpc-lattice-svcs:RequestHeader/x-team", "payments"),
            ("aws:PrincipalTag/team", "payments")
        ])
    ));
}

#[test]
fn escaped_star_is_a_literal_star() {
    let c = r#"{"StringLike": {"vpc-lattice-svcs:RequestPath": "/a${*}b${?}${$}"}}"#;
    assert!(cond(c, &ctx(&[("vpc-lattice-svcs:RequestPath", "/a*b?$")])));
    assert!(!cond(
        c,
        &ctx(&[("vpc-lattice-svcs:RequestPath", "/axb?$")])
    ));
}

#[test]
fn substituted_text_is_literal_in_like_patterns() {
    let c = r#"{"StringLike": {"vpc-lattice-svcs:RequestPath": "/users/${aws:username}/*"}}"#;
    let star_user = |path: &str| {
        ctx(&[
            ("aws:username", "*"),
            ("vpc-lattice-svcs:RequestPath", path),
        ])
    };
    assert!(cond(c, &star_user("/users/*/x")));
    assert!(!cond(c, &star_user("/users/ana/x")));
}

#[test]
fn variables_are_plain_text_without_version_2012() {
    let c = r#"{"StringEquals": {"vpc-lattice-svcs:RequestPath": "${aws:username}"}}"#;
    let policy = with_condition("2008-10-17", c);
    assert!(holds(
        &policy,
        &ctx(&[("vpc-lattice-svcs:RequestPath", "${aws:username}")])
    ));
    assert!(!holds(
        &policy,
        &ctx(&[("aws:username", "a"), ("vpc-lattice-svcs:RequestPath", "a")])
    ));
}

#[test]
fn variables_in_arn_values_are_matched_within_a_part() {
    let c = r#"{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::${aws:PrincipalAccount}:role/*"}}"#;
    let c1 = ctx(&[
        ("aws:PrincipalAccount", "111122223333"),
        ("aws:PrincipalArn", "arn:aws:iam::111122223333:role/x"),
    ]);
    assert!(cond(c, &c1));
    let c2 = ctx(&[
        ("aws:PrincipalAccount", "444455556666"),
        ("aws:PrincipalArn", "arn:aws:iam::111122223333:role/x"),
    ]);
    assert!(!cond(c, &c2));
}
