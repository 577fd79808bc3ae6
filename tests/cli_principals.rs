//! `trellis principals check` through the real binary (CONTRACT §1, §4).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers may panic: a panic is a failed test"
)]

use trellis_e2e::{stderr, stdout, trellis};

#[test]
fn the_example_principals_file_is_valid_and_summarized_without_secrets() {
    let out = trellis(
        &["principals", "check", "deploy/examples/principals.json"],
        "",
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.starts_with("deploy/examples/principals.json: 2 principals, 2 keys\n"),
        "{text}"
    );
    assert!(text.contains(
        "  arn:aws:sts::111122223333:assumed-role/checkout/checkout-task-1 (AssumedRole)\n"
    ));
    assert!(text.contains("    aws:PrincipalArn  arn:aws:iam::111122223333:role/checkout\n"));
    assert!(text.contains("    key AKIAEXAMPLECHECKOUT1  secret inline, never expires\n"));
    assert!(text.contains("    identity policies 1 (1 statement)\n"));
    let all = format!("{text}{}", stderr(&out));
    assert!(!all.contains("do/not/use"), "a secret was printed");
}

#[test]
fn an_invalid_principals_file_reports_positions_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.json");
    std::fs::write(
        &path,
        "{\"principals\": [\n  {\"arn\": \"arn:aws:iam::111122223333:group/x\",\n   \"keys\": [{\"access_key_id\": \"AKIDEXAMPLE\", \"secret_access_key\": \"hush-hush-secret\", \"color\": 1}]}\n]}\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let out = trellis(&["principals", "check", file], "");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("{file}:2:11: error: ")), "{err}");
    assert!(
        err.contains(&format!(
            "{file}:3:87: error: unknown field `color` in a key"
        )),
        "{err}"
    );
    assert!(!err.contains("hush-hush-secret"));
    // Diagnostics on standard error, the summary on standard output.
    assert_eq!(stdout(&out), format!("{file}: 2 errors, 0 warnings\n"));
}

#[test]
fn principals_check_needs_a_file() {
    assert_eq!(trellis(&["principals", "check"], "").status.code(), Some(2));
    let out = trellis(&["principals", "check", "/nonexistent/p.json"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent/p.json: error: cannot read the file"));
}

#[test]
fn no_secrets_checks_a_file_whose_secret_variables_are_unset() {
    let file = "deploy/ecs/principals.json";
    let out = trellis(&["principals", "check", file], "");
    assert_eq!(
        out.status.code(),
        Some(1),
        "the secret variables are unset here"
    );
    assert!(stderr(&out).contains("environment variable `CHECKOUT_SECRET_ACCESS_KEY` is not set"));

    let out = trellis(&["principals", "check", "--no-secrets", file], "");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.starts_with(&format!("{file}: 2 principals, 2 keys\n")),
        "{text}"
    );
    assert!(
        text.contains(
            "key AKIAEXAMPLECHECKOUT1  secret from $CHECKOUT_SECRET_ACCESS_KEY (not read)"
        ),
        "{text}"
    );
    // Everything but the secrets is still validated.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("p.json");
    let source = std::fs::read_to_string(trellis_e2e::workspace_root().join(file)).unwrap();
    std::fs::write(&broken, source.replace("\"org_id\"", "\"org\"")).unwrap();
    let out = trellis(
        &[
            "principals",
            "check",
            "--no-secrets",
            broken.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unknown field `org`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn principals_check_summarizes_roles_and_accounts_for_sts_identity_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.json");
    std::fs::write(
        &path,
        r#"{"roles": [{"arn": "arn:aws:iam::111122223333:role/team/checkout", "tags": {"team": "payments"}}],
 "accounts": [{"id": "111122223333", "org_id": "o-a1b2c3d4e5", "org_paths": ["o-a1b2c3d4e5/r-ab12/"]}]}"#,
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let out = trellis(&["principals", "check", file], "");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.starts_with(&format!(
            "{file}: 0 principals, 0 keys, 1 role and 1 account for STS identity tokens\n"
        )),
        "{text}"
    );
    assert!(text.contains(
        "  role arn:aws:iam::111122223333:role/team/checkout (sessions with STS identity tokens)\n"
    ));
    assert!(
        text.contains("    tags              team=payments\n"),
        "{text}"
    );
    assert!(
        text.contains("  account 111122223333  organization o-a1b2c3d4e5, 1 organization path\n"),
        "{text}"
    );
}

#[test]
fn principals_check_reports_a_user_listed_in_roles_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.json");
    std::fs::write(
        &path,
        "{\"roles\": [\n  {\"arn\": \"arn:aws:iam::111122223333:user/alice\"}]}\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let out = trellis(&["principals", "check", file], "");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("{file}:2:")), "{err}");
    assert!(err.contains("is a user: `roles` lists roles"), "{err}");
}
