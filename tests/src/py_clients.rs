//! Identity tokens made by the real Python clients, not by a re-implementation: the README's
//! boto3 snippet (botocore presigning `GetCallerIdentity`, the audience header added by a
//! `before-sign` handler) and `aws eks get-token` of the `awscli` package.
//!
//! They run from the venv `bash .ci/py-clients` creates (`target/py-clients`, or
//! `TRELLIS_PY_CLIENTS`), with the pinned versions. A missing venv fails the test that needs
//! it, saying how to create it: a test that silently skipped would prove nothing.
//!
//! Each client runs with a clean environment: only the given credentials, a region and a home
//! of its own, so neither the developer's `~/.aws` nor instance metadata is ever read. Neither
//! client makes a network call to presign.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use std::path::PathBuf;
use std::process::Command;

use crate::sts::Caller;
use crate::workspace_root;

/// The venv's `python` and `aws`.
#[derive(Debug)]
pub struct PyClients {
    python: PathBuf,
    aws: PathBuf,
}

impl PyClients {
    /// The venv of `TRELLIS_PY_CLIENTS`, else `target/py-clients` of the workspace.
    ///
    /// # Panics
    /// When the venv or one of its programs is missing, with how to create it.
    pub fn find() -> PyClients {
        let venv = std::env::var_os("TRELLIS_PY_CLIENTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target").join("py-clients"));
        let python = venv.join("bin").join("python");
        let aws = venv.join("bin").join("aws");
        for program in [&python, &aws] {
            assert!(
                program.is_file(),
                "{} is missing: these tests run the real boto3 and AWS CLI from a venv. \
                 Create it with `bash .ci/py-clients` in the workspace root (pinned versions in \
                 .ci/py-clients.txt; .ci/run does this), or point TRELLIS_PY_CLIENTS at such a venv.",
                program.display()
            );
        }
        PyClients { python, aws }
    }

    /// The token the README's boto3 snippet (section "Callers with IAM roles") makes for
    /// `audience` in `region`, with `caller`'s credentials: the snippet's own text is run.
    pub fn boto3_token(&self, caller: &Caller, audience: &str, region: &str) -> String {
        let snippet = readme_python_snippet();
        let program =
            format!("{snippet}\nimport sys\nprint(trellis_token(sys.argv[1], sys.argv[2]))\n");
        let mut cmd = Command::new(&self.python);
        cmd.args(["-c", &program, audience, region]);
        let out = run(cmd, caller, region);
        out.trim().to_owned()
    }

    /// The token `aws eks get-token --cluster-name <audience>` prints, with `caller`'s
    /// credentials and `region` from the environment.
    pub fn aws_eks_get_token(&self, caller: &Caller, audience: &str, region: &str) -> String {
        let mut cmd = Command::new(&self.aws);
        cmd.args([
            "eks",
            "get-token",
            "--cluster-name",
            audience,
            "--query",
            "status.token",
            "--output",
            "text",
        ]);
        let out = run(cmd, caller, region);
        out.trim().to_owned()
    }
}

/// Runs `cmd` with nothing of the developer's environment but `PATH`: `caller`'s credentials,
/// `region`, an empty home, no config files, no instance metadata.
fn run(mut cmd: Command, caller: &Caller, region: &str) -> String {
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join("none");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", &missing)
        .env("AWS_SHARED_CREDENTIALS_FILE", &missing)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", caller.access_key)
        .env("AWS_SECRET_ACCESS_KEY", caller.secret)
        .env("AWS_DEFAULT_REGION", region)
        .env("AWS_REGION", region);
    if let Some(token) = caller.session_token {
        cmd.env("AWS_SESSION_TOKEN", token);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The ```python block of README.md that defines `trellis_token`.
pub fn readme_python_snippet() -> String {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    python_block_defining(&readme, "def trellis_token(")
        .unwrap_or_else(|| panic!("README.md has no ```python block defining trellis_token"))
}

fn python_block_defining(markdown: &str, needle: &str) -> Option<String> {
    let mut rest = markdown;
    while let Some(start) = rest.find("```python\n") {
        let body = &rest[start + "```python\n".len()..];
        let end = body.find("\n```")?;
        if body[..end].contains(needle) {
            return Some(body[..end].to_owned());
        }
        rest = &body[end..];
    }
    None
}
