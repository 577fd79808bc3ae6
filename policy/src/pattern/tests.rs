use super::*;
use crate::fixtures::{compile, INVOKE, SERVICE};
use crate::{decide_single, MapContext, Principal, Reason, Request};
use proptest::prelude::*;

fn m(pattern: &str, value: &str) -> bool {
    Matcher::glob(pattern, false).matches(value, false, &())
}

#[test]
fn star_matches_any_run_including_empty_slash_and_colon() {
    assert!(m("a*", "a"));
    assert!(m("a*", "a/b:c"));
    assert!(m("*", ""));
    assert!(m("a*b*c", "a//b::c"));
}

#[test]
fn question_mark_matches_exactly_one_character() {
    assert!(m("item?", "item1"));
    assert!(!m("item?", "item"));
    assert!(!m("item?", "item12"));
    assert!(m("?", "\u{e9}"));
}

#[test]
fn regex_metacharacters_are_literal() {
    assert!(m("v1.0/*", "v1.0/a"));
    assert!(!m("v1.0/*", "v1x0/a"));
    assert!(m("a+(b)[c]\\", "a+(b)[c]\\"));
}

#[test]
fn matching_is_anchored_at_both_ends() {
    assert!(m("*/items", "a/b/items"));
    assert!(!m("*/items", "a/items/1"));
    assert!(!m("orders", "orders/7"));
}

#[test]
fn fast_paths_are_chosen_for_common_shapes() {
    assert_eq!(Matcher::glob("*", false), Matcher::Any);
    assert_eq!(Matcher::glob("abc", false), Matcher::Exact("abc".into()));
    assert_eq!(Matcher::glob("ab*", false), Matcher::Prefix("ab".into()));
    assert_eq!(Matcher::glob("*ab", false), Matcher::Suffix("ab".into()));
    assert_eq!(Matcher::glob("*ab*", false), Matcher::Contains("ab".into()));
    assert!(matches!(Matcher::glob("a*b", false), Matcher::Glob(_)));
    assert_eq!(Matcher::glob("a**", false), Matcher::Prefix("a".into()));
}

#[test]
fn actions_are_case_insensitive() {
    let a = Matcher::glob("VPC-LATTICE-SVCS:invoke", true);
    assert!(a.matches("vpc-lattice-svcs:Invoke", true, &()));
    let a = Matcher::glob("vpc-lattice-svcs:In*", true);
    assert!(a.matches("VPC-Lattice-Svcs:INVOKE", true, &()));
    let a = Matcher::glob("vpc-lattice-svcs:*oke", true);
    assert!(a.matches("VPC-Lattice-Svcs:INVOKE", true, &()));
    let a = Matcher::glob("vpc-lattice-svcs:?nvoke", true);
    assert!(a.matches("VPC-Lattice-Svcs:INVOKE", true, &()));
}

fn resource_allows(resource_pattern: &str, path: &str) -> bool {
    let text = format!(
        r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "{resource_pattern}"}}}}"#
    );
    let policy = compile(&text, None);
    let resource = format!("{SERVICE}{path}");
    let request = Request {
        principal: Principal::Anonymous,
        action: INVOKE,
        resource: &resource,
    };
    decide_single(&policy, &request, &MapContext::new(), &mut Vec::new()).reason == Reason::Allowed
}

#[test]
fn resources_are_case_sensitive_globs_over_the_whole_string() {
    assert!(resource_allows(&format!("{SERVICE}/orders*"), "/orders"));
    assert!(resource_allows(
        &format!("{SERVICE}/orders*"),
        "/orders/7/items"
    ));
    assert!(!resource_allows(&format!("{SERVICE}/Orders*"), "/orders"));
    assert!(resource_allows("*/rates", "/rates"));
    assert!(resource_allows("*/*", "/"));
}

#[test]
fn bare_service_arn_matches_no_http_request() {
    assert!(!resource_allows(SERVICE, "/"));
    assert!(resource_allows(&format!("{SERVICE}/*"), "/"));
}

#[test]
fn resource_variable_with_default() {
    let pattern = format!("{SERVICE}/users/${{aws:PrincipalTag/team, 'public'}}/*");
    let text = format!(
        r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "{pattern}"}}}}"#
    );
    let policy = compile(&text, None);
    let run = |path: &str, ctx: &MapContext| {
        let resource = format!("{SERVICE}{path}");
        let request = Request {
            principal: Principal::Anonymous,
            action: INVOKE,
            resource: &resource,
        };
        decide_single(&policy, &request, ctx, &mut Vec::new()).reason == Reason::Allowed
    };
    let mut team = MapContext::new();
    team.insert_one("aws:PrincipalTag/team", "payments");
    assert!(run("/users/payments/1", &team));
    assert!(!run("/users/public/1", &team));
    assert!(run("/users/public/1", &MapContext::new()));
}

#[test]
fn missing_resource_variable_makes_the_entry_match_nothing() {
    let allow = format!(
        r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "{SERVICE}/users/${{aws:username}}/*"}}}}"#
    );
    let policy = compile(&allow, None);
    let resource = format!("{SERVICE}/users//x");
    let request = Request {
        principal: Principal::Anonymous,
        action: INVOKE,
        resource: &resource,
    };
    assert_eq!(
        decide_single(&policy, &request, &MapContext::new(), &mut Vec::new()).reason,
        Reason::ImplicitDeny
    );
    // In NotResource the entry then excludes nothing: the Deny applies everywhere.
    let deny = format!(
        r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Deny", "Principal": "*", "Action": "*", "NotResource": "{SERVICE}/users/${{aws:username}}/*"}}}}"#
    );
    let policy = compile(&deny, None);
    assert_eq!(
        decide_single(&policy, &request, &MapContext::new(), &mut Vec::new()).reason,
        Reason::ExplicitDeny
    );
}

/// Oracle: textbook dynamic programming over characters.
fn dp_match(pattern: &[char], value: &[char]) -> bool {
    let mut table = vec![vec![false; value.len() + 1]; pattern.len() + 1];
    table[0][0] = true;
    for i in 1..=pattern.len() {
        if pattern[i - 1] == '*' {
            table[i][0] = table[i - 1][0];
        }
        for j in 1..=value.len() {
            table[i][j] = match pattern[i - 1] {
                '*' => table[i - 1][j] || table[i][j - 1],
                '?' => table[i - 1][j - 1],
                c => c == value[j - 1] && table[i - 1][j - 1],
            };
        }
    }
    table[pattern.len()][value.len()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn glob_agrees_with_a_dynamic_programming_oracle(
        pattern in "[ab*?/é]{0,10}",
        value in "[ab/é]{0,12}",
    ) {
        let p: Vec<char> = pattern.chars().collect();
        let v: Vec<char> = value.chars().collect();
        prop_assert_eq!(m(&pattern, &value), dp_match(&p, &v), "pattern {} value {}", pattern, value);
    }

    #[test]
    fn folded_glob_agrees_with_the_oracle_on_lower_cased_input(
        pattern in "[aB*?:]{0,8}",
        value in "[AbB:a]{0,10}",
    ) {
        let p: Vec<char> = pattern.to_lowercase().chars().collect();
        let v: Vec<char> = value.to_lowercase().chars().collect();
        let got = Matcher::glob(&pattern, true).matches(&value, true, &());
        prop_assert_eq!(got, dp_match(&p, &v));
    }
}
