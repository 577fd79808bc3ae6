use std::path::Path;
use std::time::SystemTime;

use super::*;

const FILE: &str = r#"{
  "roles": [
    {"arn": "arn:aws:iam::111122223333:role/team/checkout",
     "tags": {"team": "payments"},
     "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}]}]}
  ],
  "accounts": [
    {"id": "111122223333", "org_id": "o-a1b2c3d4e5", "org_paths": ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/"]}
  ]
}"#;

fn store() -> PrincipalStore {
    PrincipalStore::load(Path::new("p.json"), FILE, &|_| None, SystemTime::now())
        .unwrap()
        .0
}

fn sts(arn: &str) -> StsIdentity {
    StsIdentity {
        arn: arn.to_owned(),
        account: "111122223333".to_owned(),
        user_id: "AROAEXAMPLE:task-1".to_owned(),
    }
}

#[test]
fn an_assumed_role_session_is_the_caller_and_the_role_is_aws_principal_arn() {
    let store = PrincipalStore::empty();
    let c = map(
        &sts("arn:aws:sts::111122223333:assumed-role/billing/task-1"),
        &store,
    )
    .unwrap();
    assert_eq!(
        c.record.caller_arn,
        "arn:aws:sts::111122223333:assumed-role/billing/task-1"
    );
    assert_eq!(
        c.record.principal_arn,
        "arn:aws:iam::111122223333:role/billing"
    );
    assert_eq!(c.record.principal_type, PrincipalType::AssumedRole);
    assert_eq!(c.record.session_name.as_deref(), Some("task-1"));
    assert_eq!(
        c.view.identity.identity.to_str().unwrap(),
        "Principal=arn:aws:sts::111122223333:assumed-role/billing/task-1; PrincipalOrgID=; SessionName=task-1; Type=AWS_IAM"
    );
}

#[test]
fn an_unlisted_role_has_no_tags_and_no_identity_policies() {
    let store = store();
    let c = map(
        &sts("arn:aws:sts::111122223333:assumed-role/billing/task-1"),
        &store,
    )
    .unwrap();
    assert!(c.role.is_none());
    assert!(c.record.tags.is_empty());
    assert!(c.record.policies.is_empty());
    assert_eq!(c.record.org_id.as_deref(), Some("o-a1b2c3d4e5"));
}

#[test]
fn a_listed_role_gives_its_path_tags_and_policies_to_its_sessions() {
    let store = store();
    let c = map(
        &sts("arn:aws:sts::111122223333:assumed-role/Checkout/task-1"),
        &store,
    )
    .unwrap();
    assert_eq!(c.role, store.role("111122223333", "checkout"));
    assert!(c.role.is_some());
    assert_eq!(
        c.record.principal_arn,
        "arn:aws:iam::111122223333:role/team/checkout"
    );
    assert_eq!(c.record.tag("team"), Some("payments"));
    assert_eq!(c.record.policies.len(), 1);
    assert_eq!(
        c.view.identity.tags.to_str().unwrap(),
        "principal=arn:aws:sts::111122223333:assumed-role/Checkout/task-1;principalorgid=o-a1b2c3d4e5;principal-team=payments"
    );
}

#[test]
fn the_organization_of_accounts_applies_to_token_callers() {
    let store = store();
    let c = map(&sts("arn:aws:iam::111122223333:user/ops/alice"), &store).unwrap();
    assert_eq!(c.record.principal_type, PrincipalType::User);
    assert_eq!(
        c.record.principal_arn,
        "arn:aws:iam::111122223333:user/ops/alice"
    );
    assert_eq!(
        c.record.org_paths,
        ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/"]
    );
}

#[test]
fn root_and_federated_users_are_not_accepted_callers() {
    let store = PrincipalStore::empty();
    assert!(map(&sts("arn:aws:iam::111122223333:root"), &store).is_err());
    assert!(map(&sts("arn:aws:sts::111122223333:federated-user/bob"), &store).is_err());
}

#[test]
fn an_arn_of_another_account_than_sts_named_is_refused() {
    let store = PrincipalStore::empty();
    let mut id = sts("arn:aws:sts::444455556666:assumed-role/billing/task-1");
    id.account = "111122223333".to_owned();
    assert!(map(&id, &store).is_err());
}
