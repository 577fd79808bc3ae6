//! The example policies shipped in `deploy/examples/` are valid and pass their own tests, as a
//! user would run them in CI.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers may panic: a panic is a failed test"
)]

use trellis_e2e::{stderr, stdout, trellis};

#[test]
fn example_policies_check_clean() {
    let out = trellis(
        &[
            "policy",
            "check",
            "deploy/examples/service-policy.json",
            "deploy/examples/network-policy.json",
            "deploy/examples/identity-checkout.json",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "no warnings expected");
    assert_eq!(stdout(&out), "checked 3 files: 0 errors, 0 warnings\n");
}

#[test]
fn example_policy_tests_pass() {
    let out = trellis(
        &[
            "policy",
            "eval",
            "--network-policy",
            "deploy/examples/network-policy.json",
            "--service-policy",
            "deploy/examples/service-policy.json",
            "--identity-policy",
            "deploy/examples/identity-checkout.json",
            "--request",
            "deploy/examples/policy-tests.jsonl",
            "--check",
        ],
        "",
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.ends_with("9 passed, 0 failed\n"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("PASS ")).count(), 9);
}
