//! The comparison's own servers, through their binaries: the pass-through forwards status,
//! body and streamed request bodies of a loopback upstream (HTTP/1.1 callers, keep-alive);
//! the authorizer answers `204`; an unreachable upstream is a `502`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A server binary that is killed when the test ends, however it ends.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &str, args: &[&str]) -> Server {
    let mut child = Command::new(bin)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Server { child, addr }
}

fn upstream(mode: &str) -> Server {
    start(
        env!("CARGO_BIN_EXE_trellis-upstream"),
        &["--listen", "127.0.0.1:0", "--mode", mode],
    )
}

fn passthrough(upstream: &str) -> Server {
    let url = format!("http://{upstream}");
    start(
        env!("CARGO_BIN_EXE_trellis-passthrough"),
        &["--listen", "127.0.0.1:0", "--upstream", &url],
    )
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Sends one HTTP/1.1 request on `conn` and reads the answer (content-length or chunked).
fn exchange(conn: &mut BufReader<TcpStream>, method: &str, path: &str, body: &[u8]) -> Answer {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    conn.get_mut()
        .write_all(head.as_bytes())
        .expect("write head");
    conn.get_mut().write_all(body).expect("write body");
    let mut line = String::new();
    conn.read_line(&mut line).expect("status line");
    let status: u16 = line
        .split(' ')
        .nth(1)
        .expect("status")
        .parse()
        .expect("code");
    let mut headers = Vec::new();
    loop {
        line.clear();
        conn.read_line(&mut line).expect("header");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').expect("header colon");
        headers.push((n.to_ascii_lowercase(), v.trim().to_owned()));
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if let Some(len) = get("content-length") {
        body.resize(len.parse().expect("length"), 0);
        conn.read_exact(&mut body).expect("body");
    } else if get("transfer-encoding").as_deref() == Some("chunked") {
        loop {
            line.clear();
            conn.read_line(&mut line).expect("chunk size");
            let size = usize::from_str_radix(line.trim(), 16).expect("hex size");
            let mut chunk = vec![0; size + 2];
            conn.read_exact(&mut chunk).expect("chunk");
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn connect(addr: &str) -> BufReader<TcpStream> {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    BufReader::new(s)
}

#[test]
fn passthrough_forwards_status_and_body_on_one_keepalive_connection() {
    let up = upstream("upstream");
    let pass = passthrough(&up.addr);
    let mut conn = connect(&pass.addr);
    for _ in 0..3 {
        let a = exchange(&mut conn, "GET", "/anything?x=1", b"");
        assert_eq!(a.status, 200);
        assert_eq!(a.body, b"hello from the loopback upstream\n");
        assert!(a
            .headers
            .iter()
            .any(|(n, v)| n == "content-type" && v == "text/plain; charset=utf-8"));
    }
    let teapot = exchange(&mut conn, "GET", "/status/418", b"");
    assert_eq!(teapot.status, 418);
}

#[test]
fn passthrough_streams_request_bodies_both_ways() {
    let up = upstream("upstream");
    let pass = passthrough(&up.addr);
    let mut conn = connect(&pass.addr);
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let a = exchange(&mut conn, "POST", "/echo", &payload);
    assert_eq!(a.status, 200);
    assert_eq!(a.body, payload);
    // The connection is still usable after a streamed body.
    assert_eq!(exchange(&mut conn, "GET", "/", b"").status, 200);
}

#[test]
fn authorizer_answers_no_content() {
    let auth = upstream("authorizer");
    let mut conn = connect(&auth.addr);
    let a = exchange(&mut conn, "GET", "/auth", b"");
    assert_eq!(a.status, 204);
    assert!(a.body.is_empty());
}

#[test]
fn passthrough_answers_bad_gateway_when_the_upstream_is_gone() {
    // A port that was free a moment ago: nothing listens there.
    let free = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = free.local_addr().expect("addr").to_string();
    drop(free);
    let pass = passthrough(&addr);
    let mut conn = connect(&pass.addr);
    assert_eq!(exchange(&mut conn, "GET", "/", b"").status, 502);
}

#[test]
fn passthrough_refuses_a_non_http_upstream() {
    let out = Command::new(env!("CARGO_BIN_EXE_trellis-passthrough"))
        .args(["--upstream", "https://127.0.0.1:1"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`https://127.0.0.1:1`"), "{err}");
}
