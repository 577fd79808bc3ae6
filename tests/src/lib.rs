//! Support for the end-to-end tests: the real `trellis` binary, built once per test run.

pub mod net;
pub mod py_clients;
pub mod sts;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The workspace root (where `Cargo.toml` with `[workspace]` lives).
pub fn workspace_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".."))
    })
}

/// Path of the `trellis` binary of this workspace, built (debug profile) on first use so the
/// tests exercise exactly what users run.
///
/// # Panics
/// If the build fails: the tests cannot run without the binary.
#[allow(clippy::panic, reason = "a panic is a failed test")]
pub fn trellis_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "trellis", "--bin", "trellis"])
            .current_dir(workspace_root())
            .status();
        match status {
            Ok(s) if s.success() => {}
            other => panic!("building the trellis binary failed: {other:?}"),
        }
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"));
        target
            .join("debug")
            .join(format!("trellis{}", std::env::consts::EXE_SUFFIX))
    })
}

/// Runs `trellis ARGS` with `stdin` as standard input; returns the whole output.
///
/// # Panics
/// If the process cannot be started.
#[allow(clippy::panic, reason = "a panic is a failed test")]
pub fn trellis(args: &[&str], stdin: &str) -> Output {
    trellis_env(args, &[], stdin)
}

/// [`trellis`] with environment variables set (`TRELLIS_*` flags).
///
/// # Panics
/// If the process cannot be started.
#[allow(clippy::panic, reason = "a panic is a failed test")]
pub fn trellis_env(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(trellis_bin())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(workspace_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start trellis: {e}"));
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("trellis did not finish: {e}"))
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
