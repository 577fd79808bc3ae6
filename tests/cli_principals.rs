//! `trellis principals check` through the real binary (CONTRACT §1, §4).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic: a panic is a failed test

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
    assert_eq!(stdout(&out), "");
}

#[test]
fn principals_check_needs_a_file() {
    assert_eq!(trellis(&["principals", "check"], "").status.code(), Some(2));
    let out = trellis(&["principals", "check", "/nonexistent/p.json"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent/p.json: error: cannot read the file"));
}
