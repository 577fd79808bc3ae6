use crate::fixtures::{compile, INVOKE, SERVICE};
use crate::{decide_single, MapContext, Principal, Reason, Request};

const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/checkout/task-1";
const ROLE: &str = "arn:aws:iam::111122223333:role/team/checkout";
const USER: &str = "arn:aws:iam::111122223333:user/ana";
const ROOT: &str = "arn:aws:iam::111122223333:root";
const ACCOUNT: &str = "111122223333";

fn session() -> Principal<'static> {
    Principal::Caller {
        arn: SESSION,
        principal_arn: ROLE,
        account: ACCOUNT,
    }
}
fn user(arn: &'static str) -> Principal<'static> {
    Principal::Caller {
        arn,
        principal_arn: arn,
        account: ACCOUNT,
    }
}
fn other_account_user() -> Principal<'static> {
    let arn = "arn:aws:iam::444455556666:user/ana";
    Principal::Caller {
        arn,
        principal_arn: arn,
        account: "444455556666",
    }
}

fn reason(effect: &str, element: &str, principal: &str, caller: Principal<'_>) -> Reason {
    let text = format!(
        r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "{effect}", "{element}": {principal}, "Action": "*", "Resource": "*"}}}}"#
    );
    let policy = compile(&text, None);
    let resource = format!("{SERVICE}/x");
    let request = Request {
        principal: caller,
        action: INVOKE,
        resource: &resource,
    };
    decide_single(&policy, &request, &MapContext::new(), &mut Vec::new()).reason
}

fn allows(principal: &str, caller: Principal<'_>) -> bool {
    reason("Allow", "Principal", principal, caller) == Reason::Allowed
}

#[test]
fn star_principal_matches_everyone_including_anonymous() {
    assert!(allows(r#""*""#, Principal::Anonymous));
    assert!(allows(r#"{"AWS": "*"}"#, Principal::Anonymous));
    assert!(allows(r#"{"AWS": ["*"]}"#, session()));
}

#[test]
fn account_id_matches_everyone_in_the_account() {
    for p in [
        r#"{"AWS": "111122223333"}"#,
        r#"{"AWS": "arn:aws:iam::111122223333:root"}"#,
    ] {
        assert!(allows(p, session()), "{p}");
        assert!(allows(p, user(USER)), "{p}");
        assert!(allows(p, user(ROOT)), "{p}");
        assert!(!allows(p, other_account_user()), "{p}");
        assert!(!allows(p, Principal::Anonymous), "{p}");
    }
}

#[test]
fn role_arn_matches_its_sessions() {
    assert!(allows(&format!(r#"{{"AWS": "{ROLE}"}}"#), session()));
    // Without the role path in `principal_arn` (as `policy eval` derives it), the role name
    // still identifies the role: session ARNs drop the path.
    let no_path = Principal::Caller {
        arn: SESSION,
        principal_arn: "arn:aws:iam::111122223333:role/checkout",
        account: ACCOUNT,
    };
    assert!(allows(&format!(r#"{{"AWS": "{ROLE}"}}"#), no_path));
    assert!(!allows(
        r#"{"AWS": "arn:aws:iam::111122223333:role/other"}"#,
        session()
    ));
    assert!(!allows(
        r#"{"AWS": "arn:aws:iam::444455556666:role/checkout"}"#,
        session()
    ));
}

#[test]
fn session_arn_matches_that_session_only() {
    assert!(allows(&format!(r#"{{"AWS": "{SESSION}"}}"#), session()));
    let other = Principal::Caller {
        arn: "arn:aws:sts::111122223333:assumed-role/checkout/task-2",
        principal_arn: ROLE,
        account: ACCOUNT,
    };
    assert!(!allows(&format!(r#"{{"AWS": "{SESSION}"}}"#), other));
}

#[test]
fn user_name_in_a_principal_is_case_sensitive() {
    assert!(allows(&format!(r#"{{"AWS": "{USER}"}}"#), user(USER)));
    assert!(!allows(
        r#"{"AWS": "arn:aws:iam::111122223333:user/Ana"}"#,
        user(USER)
    ));
}

#[test]
fn service_and_federated_principals_never_match_an_iam_caller() {
    assert!(!allows(
        r#"{"Service": "vpc-lattice.amazonaws.com"}"#,
        session()
    ));
    assert!(!allows(
        r#"{"Federated": "cognito-identity.amazonaws.com"}"#,
        session()
    ));
}

#[test]
fn empty_principal_list_matches_nobody() {
    assert!(!allows(r#"{"AWS": []}"#, session()));
    assert!(!allows(r#"{"AWS": []}"#, Principal::Anonymous));
}

fn not_principal_denies(list: &str, caller: Principal<'_>) -> bool {
    reason("Deny", "NotPrincipal", list, caller) == Reason::ExplicitDeny
}

#[test]
fn not_principal_spares_a_session_only_if_every_level_is_listed() {
    let all = format!(r#"{{"AWS": ["{SESSION}", "{ROLE}", "{ACCOUNT}"]}}"#);
    assert!(!not_principal_denies(&all, session()));
    let without_account = format!(r#"{{"AWS": ["{SESSION}", "{ROLE}"]}}"#);
    assert!(not_principal_denies(&without_account, session()));
    let without_role = format!(r#"{{"AWS": ["{SESSION}", "{ACCOUNT}"]}}"#);
    assert!(not_principal_denies(&without_role, session()));
    let without_session = format!(r#"{{"AWS": ["{ROLE}", "{ACCOUNT}"]}}"#);
    assert!(not_principal_denies(&without_session, session()));
}

#[test]
fn not_principal_spares_a_user_listed_with_its_account() {
    let list = format!(r#"{{"AWS": ["{USER}", "{ROOT}"]}}"#);
    assert!(!not_principal_denies(&list, user(USER)));
    assert!(not_principal_denies(
        &format!(r#"{{"AWS": ["{USER}"]}}"#),
        user(USER)
    ));
    assert!(!not_principal_denies(
        &format!(r#"{{"AWS": ["{ACCOUNT}"]}}"#),
        user(ROOT)
    ));
}

#[test]
fn not_principal_denies_unlisted_and_anonymous_callers() {
    let list = format!(r#"{{"AWS": ["{USER}", "{ACCOUNT}"]}}"#);
    assert!(not_principal_denies(&list, other_account_user()));
    assert!(not_principal_denies(&list, Principal::Anonymous));
    assert!(!not_principal_denies(
        r#"{"AWS": "*"}"#,
        Principal::Anonymous
    ));
}
