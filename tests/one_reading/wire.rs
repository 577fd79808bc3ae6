//! Sending a corpus request exactly as written: raw bytes over a loopback `TcpStream` for
//! HTTP/1.1 (so duplicate lines, odd targets and odd methods reach the proxy untouched), and a
//! hyper HTTP/2 client with prior knowledge for `:authority`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long one exchange may take before it counts as "no answer".
const EXCHANGE_LIMIT: Duration = Duration::from_secs(5);

/// One request of the corpus, as sent.
#[derive(Debug, Clone)]
pub enum Wire {
    /// The complete HTTP/1.1 request bytes (head and body).
    H1(Vec<u8>),
    /// An HTTP/2 request: `uri` gives `:scheme`, `:authority` and `:path`.
    H2 {
        method: String,
        uri: String,
        headers: Vec<(String, String)>,
    },
}

impl Wire {
    /// The same request with one more header line, `x-case: <marker>`, as the first field (so
    /// folded or repeated lines later in the head keep their neighbours).
    pub fn with_marker(&self, marker: &str) -> Wire {
        match self {
            Wire::H1(raw) => {
                let at = raw
                    .windows(2)
                    .position(|w| w == b"\r\n")
                    .map_or(raw.len(), |i| i + 2);
                let mut out = raw[..at].to_vec();
                out.extend_from_slice(format!("x-case: {marker}\r\n").as_bytes());
                out.extend_from_slice(&raw[at..]);
                Wire::H1(out)
            }
            Wire::H2 {
                method,
                uri,
                headers,
            } => {
                let mut headers = headers.clone();
                headers.insert(0, ("x-case".to_owned(), marker.to_owned()));
                Wire::H2 {
                    method: method.clone(),
                    uri: uri.clone(),
                    headers,
                }
            }
        }
    }

    /// The request target as sent (HTTP/1.1: the request line's middle; HTTP/2: the URI).
    pub fn target(&self) -> String {
        match self {
            Wire::H1(raw) => {
                let line_end = raw
                    .windows(2)
                    .position(|w| w == b"\r\n")
                    .unwrap_or(raw.len());
                let line = String::from_utf8_lossy(&raw[..line_end]).into_owned();
                line.split(' ').nth(1).unwrap_or("").to_owned()
            }
            Wire::H2 { uri, .. } => uri.clone(),
        }
    }

    /// A readable rendering for failure messages.
    pub fn show(&self) -> String {
        match self {
            Wire::H1(raw) => format!("{:?}", String::from_utf8_lossy(raw)),
            Wire::H2 {
                method,
                uri,
                headers,
            } => format!("HTTP/2 {method} {uri} {headers:?}"),
        }
    }
}

/// What came back. `status` 0: the connection ended (or timed out) without an answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn none() -> Reply {
        Reply {
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

/// Sends `wire` on a new connection to `addr` and reads one answer.
pub fn send(addr: SocketAddr, wire: &Wire) -> Reply {
    match wire {
        Wire::H1(raw) => send_h1(addr, raw),
        Wire::H2 {
            method,
            uri,
            headers,
        } => send_h2(addr, method, uri, headers),
    }
}

fn send_h1(addr: SocketAddr, raw: &[u8]) -> Reply {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return Reply::none();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(250)));
    if stream.write_all(raw).is_err() {
        return Reply::none();
    }
    let deadline = Instant::now() + EXCHANGE_LIMIT;
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(reply) = complete_answer(&got) {
            return reply;
        }
        if Instant::now() > deadline {
            return parse_head(&got).map_or_else(Reply::none, |(r, _)| r);
        }
        match stream.read(&mut buf) {
            Ok(0) => return parse_head(&got).map_or_else(Reply::none, |(r, _)| r),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return parse_head(&got).map_or_else(Reply::none, |(r, _)| r),
        }
    }
}

/// The head of an HTTP/1.x answer and where its body starts.
fn parse_head(got: &[u8]) -> Option<(Reply, usize)> {
    let end = got.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&got[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = got[end + 4..].to_vec();
    Some((
        Reply {
            status,
            headers,
            body,
        },
        end + 4,
    ))
}

/// The answer once its body is complete (by `content-length` or chunked framing); bodies
/// delimited by the close are completed by the caller.
fn complete_answer(got: &[u8]) -> Option<Reply> {
    let (mut reply, _) = parse_head(got)?;
    if let Some(length) = reply.header("content-length") {
        let length: usize = length.parse().ok()?;
        if reply.body.len() < length {
            return None;
        }
        reply.body.truncate(length);
        return Some(reply);
    }
    if reply
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        reply.body = dechunk(&reply.body)?;
        return Some(reply);
    }
    None
}

/// The payload of a complete chunked body; `None` while incomplete.
fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if body.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

fn send_h2(addr: SocketAddr, method: &str, uri: &str, headers: &[(String, String)]) -> Reply {
    use http_body_util::{BodyExt, Empty};
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Reply::none();
    };
    runtime.block_on(async {
        let exchange = async {
            let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
            let (mut sender, conn) = hyper::client::conn::http2::handshake(
                hyper_util::rt::TokioExecutor::new(),
                hyper_util::rt::TokioIo::new(stream),
            )
            .await
            .ok()?;
            tokio::spawn(conn);
            let mut req = http::Request::builder().method(method).uri(uri);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let req = req.body(Empty::<bytes::Bytes>::new()).ok()?;
            let res = sender.send_request(req).await.ok()?;
            let status = res.status().as_u16();
            let headers = res
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = res.into_body().collect().await.ok()?.to_bytes().to_vec();
            Some(Reply {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(EXCHANGE_LIMIT, exchange)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(Reply::none)
    })
}
