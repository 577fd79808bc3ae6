use std::path::Path;
use std::time::{Duration, SystemTime};

use trellis_policy::Severity;

use super::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn no_env(_: &str) -> Option<String> {
    None
}

fn load(text: &str) -> Result<(PrincipalStore, Vec<Diagnostic>), Vec<Diagnostic>> {
    PrincipalStore::load(
        Path::new("/nonexistent/principals.json"),
        text,
        &no_env,
        SystemTime::now(),
    )
}

fn errors(text: &str) -> Vec<(u32, u32, String)> {
    match load(text) {
        Ok(_) => panic!("expected errors"),
        Err(list) => list
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| (d.line, d.column, d.message))
            .collect(),
    }
}

fn checkout_file() -> String {
    format!(
        r#"{{
  "principals": [
    {{
      "arn": "arn:aws:iam::111122223333:role/team/checkout",
      "session_name": "checkout-task-1",
      "org_id": "o-a1b2c3d4e5",
      "org_paths": ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/"],
      "tags": {{ "Team": "payments" }},
      "keys": [
        {{ "access_key_id": "AKIDEXAMPLE", "secret_access_key": "{SECRET}",
           "session_token": null, "expires_at": null }}
      ],
      "policies": [
        {{ "Version": "2012-10-17",
           "Statement": [{{ "Effect": "Allow", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*" }}] }}
      ]
    }},
    {{
      "arn": "arn:aws:iam::111122223333:user/ana",
      "keys": [ {{ "access_key_id": "AKIAANA0000000000000", "secret_access_key": "x",
                   "session_token": "token", "expires_at": "2099-01-01T00:00:00Z" }} ]
    }}
  ]
}}"#
    )
}

#[test]
fn a_role_with_a_session_name_is_the_session_and_its_principal_arn_is_the_role() {
    let (store, warnings) = load(&checkout_file()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let checkout = &store.principals()[0];
    assert_eq!(
        checkout.caller_arn,
        "arn:aws:sts::111122223333:assumed-role/checkout/checkout-task-1"
    );
    assert_eq!(
        checkout.principal_arn,
        "arn:aws:iam::111122223333:role/team/checkout"
    );
    assert_eq!(checkout.account, "111122223333");
    assert_eq!(checkout.principal_type, PrincipalType::AssumedRole);
    assert_eq!(checkout.tag("team"), Some("payments"));
    assert_eq!(checkout.tags[0].key, "Team");
    assert_eq!(checkout.org_paths.len(), 1);
    assert_eq!(checkout.policies.len(), 1);
    let ana = &store.principals()[1];
    assert_eq!(ana.caller_arn, "arn:aws:iam::111122223333:user/ana");
    assert_eq!(ana.principal_type, PrincipalType::User);
    assert!(ana.keys[0].has_session_token);
    assert!(ana.keys[0].expires_at.is_some());
}

#[test]
fn keys_are_found_by_access_key_id_and_point_at_their_principal() {
    let (store, _) = load(&checkout_file()).unwrap();
    assert_eq!(store.key_count(), 2);
    let key = store.key("AKIAANA0000000000000").unwrap();
    assert_eq!(
        store.principal_of(key).unwrap().caller_arn,
        "arn:aws:iam::111122223333:user/ana"
    );
    assert!(key.has_session_token());
    assert!(store.key("AKIAUNKNOWN").is_none());
}

#[test]
fn debug_output_of_the_store_never_contains_a_secret() {
    let (store, _) = load(&checkout_file()).unwrap();
    let shown = format!("{store:?}");
    assert!(!shown.contains(SECRET), "secret leaked in Debug output");
    assert!(
        !shown.contains("\"token\""),
        "session token leaked in Debug output"
    );
}

#[test]
fn duplicate_access_key_ids_are_an_error_at_the_second_with_the_first_position() {
    let text = r#"{"principals": [
  {"arn": "arn:aws:iam::111122223333:user/a", "keys": [{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "x"}]},
  {"arn": "arn:aws:iam::111122223333:user/b", "keys": [{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "y"}]}
]}"#;
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (line, column, message) = &errors[0];
    assert_eq!((*line, *column), (3, 74));
    assert!(
        message.contains("`AKIDEXAMPLE` is already used (at 2:74)"),
        "{message}"
    );
}

#[test]
fn unknown_fields_are_errors_at_their_key() {
    let text = r#"{"principals": [{"arn": "arn:aws:iam::111122223333:user/a", "role": "x",
  "keys": [{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "x", "secret": "y"}]}], "extra": 1}"#;
    let errors = errors(text);
    let positions: Vec<(u32, u32)> = errors.iter().map(|(l, c, _)| (*l, *c)).collect();
    assert_eq!(positions, vec![(1, 61), (2, 71), (2, 90)], "{errors:?}");
    assert!(errors[0]
        .2
        .starts_with("unknown field `role` in a principal"));
    assert!(errors[2]
        .2
        .starts_with("unknown field `extra` in the principals file"));
}

#[test]
fn malformed_arns_and_org_data_are_errors() {
    let text = r#"{"principals": [
  {"arn": "arn:aws:iam::111122223333:group/devs", "org_id": "o-bad",
   "keys": [{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "x"}]}
]}"#;
    let errors = errors(text);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0]
        .2
        .contains("a caller must be a `role/NAME` or a `user/NAME`"));
    assert_eq!((errors[1].0, errors[1].1), (2, 61));
}

#[test]
fn a_key_needs_exactly_one_secret_source() {
    let none = r#"{"principals": [{"arn": "arn:aws:iam::111122223333:user/a", "keys": [{"access_key_id": "AKIDEXAMPLE"}]}]}"#;
    assert!(errors(none)[0].2.starts_with("a key has no secret"));
    let two = r#"{"principals": [{"arn": "arn:aws:iam::111122223333:user/a", "keys": [{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "x", "secret_access_key_env": "K"}]}]}"#;
    assert!(errors(two)[0].2.contains("keep exactly one"));
}

#[test]
fn secrets_come_from_a_file_relative_to_the_principals_file_or_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ana.key"), format!("{SECRET}\n")).unwrap();
    let text = r#"{"principals": [
  {"arn": "arn:aws:iam::111122223333:user/ana", "keys": [{"access_key_id": "AKIAANA", "secret_access_key_file": "ana.key"}]},
  {"arn": "arn:aws:iam::111122223333:user/bob", "keys": [{"access_key_id": "AKIABOB", "secret_access_key_env": "BOB_SECRET"}]}
]}"#;
    let env = |name: &str| (name == "BOB_SECRET").then(|| "bob-secret".to_owned());
    let (store, _) = PrincipalStore::load(
        &dir.path().join("principals.json"),
        text,
        &env,
        SystemTime::now(),
    )
    .unwrap();
    let ana = &store.principals()[0].keys[0];
    assert!(matches!(&ana.secret_origin, SecretOrigin::File(f) if f.ends_with("ana.key")));
    assert_eq!(
        store.principals()[1].keys[0].secret_origin,
        SecretOrigin::Env("BOB_SECRET".to_owned())
    );

    let missing = PrincipalStore::load(
        &dir.path().join("principals.json"),
        text,
        &no_env,
        SystemTime::now(),
    )
    .unwrap_err();
    assert!(missing[0]
        .message
        .contains("environment variable `BOB_SECRET` is not set"));
    assert!(!missing.iter().any(|d| d.message.contains(SECRET)));
}

#[test]
fn an_unreadable_secret_file_is_an_error_naming_the_path() {
    let text = r#"{"principals": [{"arn": "arn:aws:iam::111122223333:user/a", "keys": [{"access_key_id": "AKIDEXAMPLE", "secret_access_key_file": "/nonexistent/secret"}]}]}"#;
    let errors = errors(text);
    assert!(errors[0]
        .2
        .starts_with("cannot read the secret file `/nonexistent/secret`"));
}

#[test]
fn an_expired_key_loads_with_a_warning() {
    let text = r#"{"principals": [{"arn": "arn:aws:iam::111122223333:user/a", "keys": [{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "x", "expires_at": "2020-01-01T00:00:00Z"}]}]}"#;
    let (_, warnings) = load(text).unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0]
        .message
        .contains("expired at 2020-01-01T00:00:00Z"));
    let bad = text.replace("2020-01-01T00:00:00Z", "yesterday");
    assert!(errors(&bad)[0].2.contains("is not an RFC 3339 time"));
}

#[test]
fn a_role_without_session_name_warns_and_a_user_with_one_is_an_error() {
    let role = r#"{"principals": [{"arn": "arn:aws:iam::111122223333:role/r", "keys": [{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "x"}]}]}"#;
    let (store, warnings) = load(role).unwrap();
    assert!(warnings[0].message.contains("has no `session_name`"));
    assert_eq!(
        store.principals()[0].caller_arn,
        "arn:aws:iam::111122223333:role/r"
    );
    let user = r#"{"principals": [{"arn": "arn:aws:iam::111122223333:user/u", "session_name": "s1", "keys": [{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "x"}]}]}"#;
    assert!(errors(user)[0].2.contains("applies to roles only"));
}

#[test]
fn identity_policy_errors_are_reported_at_their_position_in_the_principals_file() {
    let text = r#"{"principals": [{"arn": "arn:aws:iam::111122223333:user/a",
  "keys": [{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "x"}],
  "policies": [{"Version": "2012-10-17", "Statement": {"Effect": "allow", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}}]}]}"#;
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].0, errors[0].1), (3, 66));
}

#[test]
fn a_principal_in_an_identity_policy_is_an_error() {
    let text = r#"{"principals": [{"arn": "arn:aws:iam::111122223333:user/a",
  "keys": [{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "x"}],
  "policies": [{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}}]}]}"#;
    assert!(!errors(text).is_empty());
}

#[test]
fn invalid_json_is_one_error_with_its_position() {
    let errors = errors("{\"principals\": [\n  {\"arn\": }\n]}");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, 2);
}

#[test]
fn a_principal_without_keys_is_an_error() {
    let text = r#"{"principals": [{"arn": "arn:aws:iam::111122223333:user/a", "keys": []}]}"#;
    assert!(errors(text)[0].2.contains("`keys` is empty"));
    let text = r#"{"principals": [{"arn": "arn:aws:iam::111122223333:user/a"}]}"#;
    assert!(errors(text)[0].2.contains("has no `keys`"));
}

#[test]
fn tag_keys_are_unique_ignoring_case() {
    let text = r#"{"principals": [{"arn": "arn:aws:iam::111122223333:user/a", "tags": {"team": "a", "Team": "b"},
  "keys": [{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "x"}]}]}"#;
    assert!(errors(text)[0].2.contains("tag keys are case-insensitive"));
}

#[test]
fn keys_expire_as_configured() {
    let text = r#"{"principals": [{"arn": "arn:aws:iam::111122223333:user/a", "keys": [{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "x", "expires_at": "2030-01-01T00:00:00+02:00"}]}]}"#;
    let (store, _) = load(text).unwrap();
    let expected = SystemTime::UNIX_EPOCH + Duration::from_secs(1_893_448_800);
    assert_eq!(store.principals()[0].keys[0].expires_at, Some(expected));
}

/// A context answering only what the principal derives, as the proxy will fill it.
struct CallerContext<'a>(&'a PrincipalRecord);

impl trellis_policy::Context for CallerContext<'_> {
    fn get(&self, key: &trellis_policy::Key<'_>) -> Option<trellis_policy::Values<'_>> {
        self.0.condition_value(key)
    }
}

fn identity_decision(record: &PrincipalRecord, resource: &str) -> trellis_policy::Decision {
    let layers = trellis_policy::Layers {
        network: trellis_policy::LayerPolicy::Off,
        service: trellis_policy::LayerPolicy::Off,
        identity: trellis_policy::LayerPolicy::Policies(&record.policies),
    };
    let request = trellis_policy::Request {
        principal: record.as_principal(),
        action: "vpc-lattice-svcs:Invoke",
        resource,
    };
    trellis_policy::decide(&layers, &request, &CallerContext(record), &mut Vec::new())
}

#[test]
fn identity_policies_see_the_principal_derived_condition_keys() {
    let text = r#"{"principals": [{
  "arn": "arn:aws:iam::111122223333:role/team/checkout", "session_name": "task-1",
  "org_id": "o-a1b2c3d4e5", "org_paths": ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/"],
  "tags": {"Team": "payments"},
  "keys": [{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "x"}],
  "policies": [{"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "vpc-lattice-svcs:Invoke",
    "Resource": "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-1/${aws:PrincipalTag/team}/*",
    "Condition": {
      "ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/team/checkout"},
      "StringEquals": {"aws:PrincipalAccount": "111122223333", "aws:PrincipalType": "AssumedRole",
                       "aws:PrincipalOrgID": "o-a1b2c3d4e5"},
      "ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/*"},
      "Null": {"aws:username": "true"}
    }}]}]
}]}"#;
    let (store, _) = load(text).unwrap();
    let record = &store.principals()[0];
    let allowed = identity_decision(
        record,
        "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-1/payments/orders",
    );
    assert_eq!(allowed.effect, trellis_policy::Effect::Allow, "{allowed:?}");
    let other_team = identity_decision(
        record,
        "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-1/risk/orders",
    );
    assert_eq!(other_team.effect, trellis_policy::Effect::Deny);
}

#[test]
fn keys_that_do_not_apply_are_absent() {
    let text = r#"{"principals": [{"arn": "arn:aws:iam::111122223333:user/ana",
  "keys": [{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "x"}]}]}"#;
    let (store, _) = load(text).unwrap();
    let ana = &store.principals()[0];
    let value = |name: &str| {
        let lower = name.to_ascii_lowercase();
        let key = trellis_policy::Key::parse(&lower);
        ana.condition_value(&key).map(|v| format!("{v:?}"))
    };
    assert_eq!(value("aws:PrincipalOrgID"), None);
    assert_eq!(value("aws:PrincipalOrgPaths"), None);
    assert_eq!(value("aws:PrincipalTag/team"), None);
    assert_eq!(value("aws:SourceIp"), None);
    assert_eq!(value("aws:username").as_deref(), Some("One(\"ana\")"));
    assert_eq!(value("aws:PrincipalType").as_deref(), Some("One(\"User\")"));
}

#[test]
fn unresolved_secrets_are_validated_but_never_read() {
    let text = r#"{"principals": [
  {"arn": "arn:aws:iam::111122223333:user/ana", "keys": [{"access_key_id": "AKIAANA", "secret_access_key_file": "/nonexistent/ana.key"}]},
  {"arn": "arn:aws:iam::111122223333:user/bob", "keys": [{"access_key_id": "AKIABOB", "secret_access_key_env": "TRELLIS_TEST_UNSET_SECRET"}]},
  {"arn": "arn:aws:iam::111122223333:user/cy", "keys": [{"access_key_id": "AKIACY", "secret_access_key": "x"}]}
]}"#;
    let path = std::path::Path::new("/etc/trellis/principals.json");
    let (store, warnings) = PrincipalStore::load_unresolved(path, text, SystemTime::now()).unwrap();
    assert!(warnings.is_empty(), "{warnings:#?}");
    assert_eq!(store.principals().len(), 3);
    assert_eq!(
        store.principals()[1].keys[0].secret_origin,
        SecretOrigin::Env("TRELLIS_TEST_UNSET_SECRET".to_owned())
    );
    // Keys whose secret was not read can never authenticate.
    assert!(store.key("AKIAANA").is_none());
    assert!(store.key("AKIABOB").is_none());
    assert!(store.key("AKIACY").is_some());
    // Everything else is still validated.
    let bad = text.replace("user/cy", "group/cy");
    let errors = PrincipalStore::load_unresolved(path, &bad, SystemTime::now()).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let empty = text.replace("TRELLIS_TEST_UNSET_SECRET", "");
    let errors = PrincipalStore::load_unresolved(path, &empty, SystemTime::now()).unwrap_err();
    assert!(errors[0]
        .message
        .contains("`secret_access_key_env` is empty"));
}

mod roles_and_accounts {
    use super::super::*;
    use std::path::Path;
    use std::time::SystemTime;

    fn load(text: &str) -> Result<PrincipalStore, Vec<String>> {
        PrincipalStore::load(Path::new("p.json"), text, &|_| None, SystemTime::now())
            .map(|(s, _)| s)
            .map_err(|d| d.iter().map(|d| d.message.clone()).collect())
    }

    #[test]
    fn a_file_of_roles_and_accounts_alone_is_valid() {
        let s = load(r#"{"roles": [{"arn": "arn:aws:iam::111122223333:role/checkout", "tags": {"team": "payments"}}], "accounts": [{"id": "111122223333", "org_id": "o-a1b2c3d4e5"}]}"#).unwrap();
        let h = s.role("111122223333", "CHECKOUT").unwrap();
        assert_eq!(
            s.principals()[h].principal_arn,
            "arn:aws:iam::111122223333:role/checkout"
        );
        assert!(s.principals()[h].keys.is_empty());
        assert_eq!(s.principals()[h].org_id.as_deref(), Some("o-a1b2c3d4e5"));
        assert_eq!(s.role_count(), 1);
        assert_eq!(s.key_count(), 0);
    }

    #[test]
    fn roles_list_roles_only_each_once() {
        let e =
            load(r#"{"roles": [{"arn": "arn:aws:iam::111122223333:user/alice"}]}"#).unwrap_err();
        assert!(e[0].contains("is a user"), "{e:?}");
        let e = load(r#"{"roles": [{"arn": "arn:aws:iam::111122223333:role/a"}, {"arn": "arn:aws:iam::111122223333:role/team/A"}]}"#).unwrap_err();
        assert!(e[0].contains("already listed"), "{e:?}");
    }

    #[test]
    fn roles_and_accounts_refuse_unknown_fields_and_bad_ids() {
        let e = load(r#"{"roles": [{"arn": "arn:aws:iam::111122223333:role/a", "keys": []}]}"#)
            .unwrap_err();
        assert!(e[0].contains("unknown field `keys` in a role"), "{e:?}");
        let e = load(r#"{"accounts": [{"id": "1234"}]}"#).unwrap_err();
        assert!(e[0].contains("12 digits"), "{e:?}");
        let e =
            load(r#"{"accounts": [{"id": "111122223333"}, {"id": "111122223333"}]}"#).unwrap_err();
        assert!(e[0].contains("already listed"), "{e:?}");
        let e = load(r#"{"accounts": [{"id": "111122223333", "org_id": "o-a1b2c3d4e5", "org_paths": ["o-zzzzzzzzzz/r-ab12/"]}]}"#).unwrap_err();
        assert!(e[0].contains("must agree"), "{e:?}");
    }

    #[test]
    fn a_file_with_none_of_the_three_sections_is_refused() {
        let e = load("{}").unwrap_err();
        assert!(e[0].contains("roles"), "{e:?}");
    }
}
