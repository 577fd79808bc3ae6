//! Loopback plumbing for tests of the running binary: a free port, a blocking HTTP/1.1 client
//! and a `trellis` child process that is stopped when dropped; the upstream, the signer, the
//! metrics lookup and `eventually` are `trellis_test_support`'s.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

pub use trellis_test_support::eventually;
use trellis_test_support::metrics::sample;
use trellis_test_support::signing::signed_headers;
pub use trellis_test_support::upstream::Upstream;

use crate::{trellis_bin, workspace_root};

/// A loopback address nobody listens on right now, for a child process to bind: never handed
/// out twice by this test binary, and below the kernel's ephemeral range. A port taken from
/// `:0` and released goes back to that range, where the next `bind(:0)` or outgoing connection
/// of a test running in parallel can take it: the child then fails to bind, or — for an admin
/// port — a test reads another process's `/readyz` and talks to a proxy that already exited.
pub fn free_addr() -> SocketAddr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let span = ephemeral_low.saturating_sub(1_024).min(12_000);
    if span < 1_000 {
        // No room below the ephemeral range: fall back to the kernel's choice.
        return TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
    }
    let low = ephemeral_low - span;
    let start = std::process::id().wrapping_mul(2_654_435_761) % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(low + (start + n) % span).unwrap();
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
            return l.local_addr().unwrap();
        }
    }
    panic!("no free loopback port in {low}..{ephemeral_low}");
}

/// A response: status, lower-cased header lines, body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `method target` with `headers` to `addr` on a new connection and reads the answer.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
) -> std::io::Result<Answer> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!("{method} {target} HTTP/1.1\r\nconnection: close\r\n");
    if !headers.iter().any(|(k, _)| k == "host") {
        req.push_str(&format!("host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {text:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Answer {
        status,
        headers,
        body: body.to_owned(),
    })
}

/// An unsigned GET.
pub fn get(addr: SocketAddr, target: &str) -> Answer {
    request(addr, "GET", target, &[]).unwrap()
}

/// The headers of a SigV4-signed request (`host`, `x-amz-date`, `x-amz-content-sha256:
/// UNSIGNED-PAYLOAD`, `authorization`), signed by aws-sigv4 for `vpc-lattice-svcs` in
/// us-west-2.
pub fn sign(
    addr: SocketAddr,
    method: &str,
    target: &str,
    key: (&str, &str),
    at: SystemTime,
) -> Vec<(String, String)> {
    signed_headers(method, &format!("http://{addr}{target}"), key, at)
}

/// A signed GET.
pub fn signed_get(addr: SocketAddr, target: &str, key: (&str, &str)) -> Answer {
    request(
        addr,
        "GET",
        target,
        &sign(addr, "GET", target, key, SystemTime::now()),
    )
    .unwrap()
}

/// A running `trellis` process; stopped with SIGKILL when dropped if still running.
#[derive(Debug)]
pub struct Running {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

fn collect(r: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let buf = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&buf);
    std::thread::spawn(move || {
        let mut lines = BufReader::new(r).lines();
        while let Some(Ok(line)) = lines.next() {
            let mut b = sink.lock().unwrap();
            b.push_str(&line);
            b.push('\n');
        }
    });
    buf
}

impl Running {
    /// Starts `trellis ARGS` in the workspace root.
    pub fn start(args: &[&str]) -> Running {
        Self::start_with_env(args, &[])
    }

    /// Starts `trellis ARGS` with extra environment variables (`TRELLIS_...` as deployments
    /// set them).
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut child = Command::new(trellis_bin())
            .args(args)
            .envs(env.iter().copied())
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Running {
            child,
            stdout,
            stderr,
        }
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends `signal` (`TERM`, `INT`, `HUP`) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The exit status, if the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Waits for the exit, at most `limit`.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        eventually(limit, || self.child.try_wait().unwrap())
            .unwrap_or_else(|| panic!("trellis did not exit; stderr:\n{}", self.stderr()))
    }

    /// Waits until `GET path` on `admin` answers 200.
    pub fn wait_ready(&mut self, admin: SocketAddr) {
        let ok = eventually(Duration::from_secs(20), || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("trellis exited with {status}; stderr:\n{}", self.stderr());
            }
            request(admin, "GET", "/readyz", &[])
                .ok()
                .filter(|a| a.status == 200)
        });
        assert!(ok.is_some(), "not ready; stderr:\n{}", self.stderr());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The value of one `/metrics` sample, 0 when absent.
pub fn metric(admin: SocketAddr, series: &str) -> u64 {
    sample(&get(admin, "/metrics").body, series)
}

/// Copies the example file `name` of `deploy/examples` to `to`.
pub fn copy_example(name: &str, to: &Path) {
    std::fs::copy(workspace_root().join("deploy/examples").join(name), to).unwrap();
}
