//! The two independent upstreams and what each one read: a Python WSGI server (wsgiref, a child
//! process) and a hyper server (in this process). Both answer with their reading as JSON; this
//! module turns that into a [`View`] expressed in the policy's terms.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::hyper_upstream::{self, HyperUpstream};

/// Header names the WSGI upstream reports (`HTTP_X_TENANT` is both `x-tenant` and `x_tenant`).
const WSGI_WATCHED: &[&str] = &[
    "x-tenant",
    "x-debug",
    "x-amzn-lattice-identity",
    "upgrade",
    "keep-alive",
];

/// What one upstream acted on, in the form the policy would have to hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub method: String,
    /// The path as the upstream read it (for messages).
    pub path_read: String,
    /// How the policy may spell that path: the raw path for a raw-path upstream; for a
    /// decoding upstream, the path re-encoded (strictly: every byte outside RFC 3986 `pchar`
    /// and `/` percent-encoded; leniently: also printable ASCII that parsers accept raw).
    pub policy_paths: Vec<String>,
    /// Every value the upstream could take as the host; empty when it has none.
    pub hosts: Vec<String>,
    /// Each watched header name with the value read, `None` when absent.
    pub headers: Vec<(String, Option<String>)>,
    /// Query keys (as decoded, case kept) with their values in order.
    pub query: BTreeMap<String, Vec<String>>,
}

/// One of the two upstreams.
#[derive(Debug)]
pub enum Upstream {
    Wsgi { addr: SocketAddr, child: Child },
    Hyper(HyperUpstream),
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Upstream::Wsgi { child, .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Upstream {
    /// Starts `python3 tests/one_reading/wsgi_upstream.py`.
    ///
    /// # Panics
    /// When python3 is missing or the server does not report its port within 10 s: the
    /// test needs both upstreams and must not pass with one.
    pub fn wsgi() -> Upstream {
        let script = trellis_e2e::workspace_root().join("tests/one_reading/wsgi_upstream.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("python3 is needed for the WSGI upstream of this test and could not be started ({e}); install python3 (any 3.x with the standard library)")
            });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
        let Some(port) = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse::<u16>().ok())
        else {
            let _ = child.kill();
            panic!(
                "the WSGI upstream {} did not start: it printed {line:?}",
                script.display()
            );
        };
        Upstream::Wsgi {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
        }
    }

    pub fn hyper() -> Upstream {
        Upstream::Hyper(HyperUpstream::spawn())
    }

    pub fn name(&self) -> &'static str {
        match self {
            Upstream::Wsgi { .. } => "wsgi",
            Upstream::Hyper(_) => "hyper",
        }
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            Upstream::Wsgi { addr, .. } => *addr,
            Upstream::Hyper(h) => h.addr,
        }
    }

    /// A counter that moves whenever anything reaches the upstream.
    pub fn seen(&self) -> u64 {
        match self {
            Upstream::Wsgi { addr, .. } => trellis_e2e::net::request(*addr, "GET", "/__seen", &[])
                .ok()
                .and_then(|a| a.body.trim().parse().ok())
                .unwrap_or_else(|| panic!("the WSGI upstream does not answer /__seen")),
            Upstream::Hyper(h) => h.seen(),
        }
    }

    /// The upstream's reading, from its answer body; `None` when the body is not one.
    pub fn view(&self, body: &[u8]) -> Option<View> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        if v["upstream"] != self.name() {
            return None;
        }
        let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
        let method = text(&v["method"])?;
        let path_read = text(&v["path"])?;
        let (policy_paths, watched) = match self {
            Upstream::Wsgi { .. } => {
                let mut paths = vec![encode_path(&path_read, STRICT)];
                let lenient = encode_path(&path_read, LENIENT);
                if !paths.contains(&lenient) {
                    paths.push(lenient);
                }
                (paths, WSGI_WATCHED)
            }
            Upstream::Hyper(_) => (vec![path_read.clone()], hyper_upstream::WATCHED),
        };
        let mut hosts: Vec<String> = Vec::new();
        for h in [text(&v["host"]), text(&v["authority"])]
            .into_iter()
            .flatten()
        {
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
        let headers = watched
            .iter()
            .map(|name| ((*name).to_owned(), text(&v["headers"][*name])))
            .collect();
        let query = v["query"]
            .as_object()?
            .iter()
            .map(|(k, values)| {
                let values = values
                    .as_array()
                    .map(|a| a.iter().filter_map(text).collect())
                    .unwrap_or_default();
                (k.clone(), values)
            })
            .collect();
        Some(View {
            method,
            path_read,
            policy_paths,
            hosts,
            headers,
            query,
        })
    }
}

/// Bytes kept raw when re-encoding a decoded path, besides ASCII letters and digits.
const STRICT: &str = "-._~!$&'()*+,;=:@/";
const LENIENT: &str = "-._~!$&'()*+,;=:@/\"<>[\\]^`{|}";

/// `decoded` (one char per byte, as wsgiref's ISO-8859-1 decoding gives) with every byte
/// outside `keep` percent-encoded in upper case.
fn encode_path(decoded: &str, keep: &str) -> String {
    let mut out = String::with_capacity(decoded.len());
    let push_byte = |out: &mut String, b: u8| {
        if b.is_ascii_alphanumeric() || keep.as_bytes().contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    };
    for c in decoded.chars() {
        match u8::try_from(u32::from(c)) {
            Ok(b) => push_byte(&mut out, b),
            Err(_) => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    push_byte(&mut out, b);
                }
            }
        }
    }
    out
}
