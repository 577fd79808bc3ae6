//! The JSON access log (CONTRACT §8): one line per request with Lattice's field names.
//!
//! The request path only builds an [`AccessRecord`] and `try_send`s it to a writer task over a
//! bounded channel; serialization (into one reused buffer) and I/O happen in that task. When the
//! channel is full the record is dropped and counted in `trellis_access_log_dropped_total`: a
//! slow disk must never slow requests, and a loss must never be silent.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use http::{HeaderValue, Method};
use prometheus::IntCounter;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::PolicyLayer;
use crate::metrics::AuthnResult;
use crate::outcome::{push_matched_list, CallerLog, MatchedStatements};

/// Where the log goes (`--access-log stdout|off|FILE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLogTarget {
    /// Standard output.
    Stdout,
    /// Appended to this file.
    File(PathBuf),
    /// Not written (records are not even built).
    Off,
}

/// Everything one line holds; built when the response body ends.
#[derive(Debug, Clone)]
pub struct AccessRecord {
    /// When the request head arrived.
    pub start_time: SystemTime,
    /// `x-amzn-requestid`.
    pub request_id: Option<HeaderValue>,
    /// The method.
    pub method: Method,
    /// The normalized path, or the raw one when normalization failed; shared with the
    /// request's `Outcome`.
    pub path: crate::normalize::SharedPath,
    /// `HTTP/1.1` or `HTTP/2`.
    pub protocol: &'static str,
    /// `Host` or `:authority`.
    pub host: Option<HeaderValue>,
    /// `User-Agent`.
    pub user_agent: Option<HeaderValue>,
    /// The caller's address.
    pub source: Option<SocketAddr>,
    /// The upstream address, when the request reached it.
    pub target: Option<SocketAddr>,
    /// The final status.
    pub response_code: u16,
    /// Milliseconds from the request head to the last response byte.
    pub duration_ms: u64,
    /// Milliseconds from the request head to the last request byte sent to the target (0 when
    /// it never reached the target).
    pub request_to_target_ms: u64,
    /// Milliseconds from the target's response head to the last byte to the caller (0 when the
    /// target did not answer).
    pub response_from_target_ms: u64,
    /// Header and body bytes received.
    pub bytes_received: u64,
    /// Header and body bytes sent.
    pub bytes_sent: u64,
    /// `--service-arn`.
    pub service_arn: Arc<str>,
    /// `--service-network-arn`.
    pub service_network_arn: Option<Arc<str>>,
    /// What authentication found, when an `Authenticate` layer ran.
    pub authn: Option<AuthnResult>,
    /// The caller, when known.
    pub caller: Option<CallerLog>,
    /// The denying layer.
    pub denied_layer: Option<PolicyLayer>,
    /// `failureReason`.
    pub failure_reason: Option<&'static str>,
    /// `matchedStatements` (`None` when no policy ran; empty when none matched). Kept inline
    /// and spelled out by the writer, so logging it allocates nothing on the request path.
    pub matched_statements: Option<MatchedStatements>,
    /// `enforce` or `audit`.
    pub mode: &'static str,
    /// `authorizer`: `-` for the sidecar, else the `trellis authz` front door
    /// (`envoy-grpc`, `envoy-http`, `nginx`), which decides without the body.
    pub authorizer: &'static str,
    /// The shadow decision (`shadowDecision`, `shadowMatchedStatements`); `None` without
    /// shadow policies.
    pub shadow: Option<crate::outcome::ShadowRecord>,
}

const DASH: &str = "-";

fn header_str(v: Option<&HeaderValue>) -> &str {
    v.and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
        .unwrap_or(DASH)
}

/// Lattice's `startTime` format: `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_start_time(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    dt.format(&fmt).unwrap_or_else(|_| DASH.to_owned())
}

thread_local! {
    /// The last second formatted and its text: lines come in bursts within one second, and
    /// calendar formatting costs as much as the rest of a line's fields together.
    static START_TIME: std::cell::RefCell<(Option<u64>, String)> =
        const { std::cell::RefCell::new((None, String::new())) };
}

/// Appends [`format_start_time`]`(t)`, formatting each second only once per thread.
fn push_start_time(out: &mut Vec<u8>, t: SystemTime) {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs());
    START_TIME.with_borrow_mut(|(last, text)| {
        if secs.is_none() || *last != secs {
            *text = format_start_time(t);
            *last = secs;
        }
        out.extend_from_slice(text.as_bytes());
    });
}

thread_local! {
    /// The matched-statement list of the line being written, spelled out in a buffer reused
    /// across lines.
    static MATCHED_TEXT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Appends the field `name` holding the list of `matched` (see
/// [`crate::outcome::matched_list`]), or `-` when no policy ran or none matched.
fn field_matched(buf: &mut Vec<u8>, name: &str, matched: Option<&[trellis_policy::Matched]>) {
    MATCHED_TEXT.with_borrow_mut(|text| {
        text.clear();
        if let Some(m) = matched {
            push_matched_list(text, m);
        }
        json::field_str(buf, name, if text.is_empty() { DASH } else { text });
    });
}

/// A record the log writer turns into one line, off the request path: the access log's
/// [`AccessRecord`] and the decision log's entry share the queue, the drop counting, the
/// batching and the reopening below.
pub trait LogLine: Send + 'static {
    /// Appends the JSON line (with its `\n`) to `buf`.
    fn write_line(&self, buf: &mut Vec<u8>) -> Result<(), serde_json::Error>;
}

impl LogLine for AccessRecord {
    fn write_line(&self, buf: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        self.write_json(buf)
    }
}

impl AccessRecord {
    /// Appends the JSON line (with its `\n`) to `buf`. Written field by field: every value is
    /// a string or an integer, and the strings almost never hold a character JSON escapes,
    /// which [`json::push_str`] checks for in one pass before copying.
    pub fn write_json(&self, buf: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let signed = matches!(self.authn, Some(AuthnResult::Signed | AuthnResult::Token));
        let caller = self.caller.as_ref().filter(|_| signed);
        let resolved_user = match self.authn {
            Some(AuthnResult::Signed | AuthnResult::Token) => caller.map_or(DASH, |c| &c.principal),
            Some(AuthnResult::Anonymous) => "Anonymous",
            _ => DASH,
        };
        buf.extend_from_slice(b"{\"startTime\":\"");
        push_start_time(buf, self.start_time);
        buf.push(b'"');
        json::field_str(buf, "requestId", header_str(self.request_id.as_ref()));
        json::field_str(buf, "requestMethod", self.method.as_str());
        let path = if self.path.is_empty() {
            DASH
        } else {
            &self.path
        };
        json::field_str(buf, "requestPath", path);
        json::field_str(buf, "protocol", self.protocol);
        json::field_str(buf, "hostHeader", header_str(self.host.as_ref()));
        json::field_str(buf, "userAgent", header_str(self.user_agent.as_ref()));
        json::field_addr(buf, "sourceIpPort", self.source);
        json::field_addr(buf, "targetIpPort", self.target);
        json::field_u64(buf, "responseCode", self.response_code.into());
        json::field_u64(buf, "duration", self.duration_ms);
        json::field_u64(buf, "requestToTargetDuration", self.request_to_target_ms);
        json::field_u64(
            buf,
            "responseFromTargetDuration",
            self.response_from_target_ms,
        );
        json::field_u64(buf, "bytesReceived", self.bytes_received);
        json::field_u64(buf, "bytesSent", self.bytes_sent);
        json::field_str(buf, "serviceArn", &self.service_arn);
        json::field_str(
            buf,
            "serviceNetworkArn",
            self.service_network_arn.as_deref().unwrap_or(DASH),
        );
        json::field_str(
            buf,
            "callerPrincipal",
            caller.map_or(DASH, |c| &c.principal),
        );
        json::field_str(
            buf,
            "callerPrincipalOrgID",
            caller.and_then(|c| c.org_id.as_deref()).unwrap_or(DASH),
        );
        json::field_str(
            buf,
            "callerPrincipalTags",
            caller.and_then(|c| c.tags_json.as_deref()).unwrap_or(DASH),
        );
        json::field_str(buf, "resolvedUser", resolved_user);
        json::field_str(
            buf,
            "authDeniedReason",
            self.denied_layer.map_or(DASH, denied_reason),
        );
        json::field_str(buf, "failureReason", self.failure_reason.unwrap_or(DASH));
        json::field_str(
            buf,
            "authnResult",
            self.authn.map_or(DASH, AuthnResult::label),
        );
        field_matched(buf, "matchedStatements", self.matched_statements.as_deref());
        json::field_str(buf, "mode", self.mode);
        json::field_str(buf, "authorizer", self.authorizer);
        json::field_str(
            buf,
            "shadowDecision",
            self.shadow.as_ref().map_or(DASH, |s| s.decision_label()),
        );
        field_matched(
            buf,
            "shadowMatchedStatements",
            self.shadow.as_ref().map(|s| s.matched()),
        );
        buf.extend_from_slice(b"}\n");
        Ok(())
    }
}

/// The sending side, cloned into every connection's stack.
#[derive(Debug)]
pub struct AccessLog<R = AccessRecord> {
    tx: Option<mpsc::Sender<R>>,
    dropped: IntCounter,
}

impl<R> Clone for AccessLog<R> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            dropped: self.dropped.clone(),
        }
    }
}

impl<R> AccessLog<R> {
    /// A log that writes nothing.
    pub fn off(dropped: IntCounter) -> Self {
        Self { tx: None, dropped }
    }

    /// Whether records are wanted at all.
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Hands `record` to the writer, or drops and counts it when the writer is behind.
    pub fn submit(&self, record: R) {
        if let Some(tx) = &self.tx {
            if tx.try_send(record).is_err() {
                self.dropped.inc();
            }
        }
    }
}

/// The writer task; [`AccessLogWriter::shutdown`] flushes what is queued.
#[derive(Debug)]
pub struct AccessLogWriter {
    task: Option<JoinHandle<std::io::Result<()>>>,
    stop: Arc<tokio::sync::Notify>,
    reopen: AccessLogReopen,
}

/// Asks the writer to reopen its file (`SIGHUP`): after logrotate renames the file, lines would
/// otherwise go on into the renamed one. Queued lines are flushed to the old file first; lines
/// after that go to a file created at the configured path. A file that cannot be opened is
/// reported on stderr and the old one is kept. For stdout it only flushes.
#[derive(Debug, Clone, Default)]
pub struct AccessLogReopen(Arc<tokio::sync::Notify>);

impl AccessLogReopen {
    /// Reopens at the writer's next chance; several requests before then reopen once.
    pub fn reopen(&self) {
        self.0.notify_one();
    }
}

/// The log file cannot be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open access log `{path}`: {source}; check the directory exists and is writable, or use `--access-log stdout`")]
pub struct AccessLogOpenError {
    path: PathBuf,
    source: std::io::Error,
}

/// The decision log file cannot be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open decision log `{}`: {}; check the directory exists and is writable (`--decision-log`)", .0.path.display(), .0.source)]
pub struct DecisionLogOpenError(pub AccessLogOpenError);

/// Starts a writer of `R` lines appended to the file at `path` (reopened on request like the
/// access log's); `dropped` counts the records lost because the writer fell behind.
pub async fn spawn_file<R: LogLine>(
    path: &std::path::Path,
    capacity: usize,
    dropped: IntCounter,
) -> Result<(AccessLog<R>, AccessLogWriter), AccessLogOpenError> {
    let file = open_file(path).await?;
    Ok(start(
        Box::new(file),
        Some(path.to_path_buf()),
        capacity,
        dropped,
    ))
}

/// Starts the writer for `target` with a queue of `capacity` records; `dropped` counts losses.
pub async fn spawn(
    target: &AccessLogTarget,
    capacity: usize,
    dropped: IntCounter,
) -> Result<(AccessLog, AccessLogWriter), AccessLogOpenError> {
    let out: Box<dyn AsyncWrite + Send + Unpin> = match target {
        AccessLogTarget::Off => {
            return Ok((
                AccessLog::off(dropped),
                AccessLogWriter {
                    task: None,
                    stop: Arc::default(),
                    reopen: AccessLogReopen::default(),
                },
            ))
        }
        AccessLogTarget::Stdout => Box::new(tokio::io::stdout()),
        AccessLogTarget::File(path) => Box::new(open_file(path).await?),
    };
    let path = match target {
        AccessLogTarget::File(path) => Some(path.clone()),
        _ => None,
    };
    Ok(start(out, path, capacity, dropped))
}

async fn open_file(path: &std::path::Path) -> Result<tokio::fs::File, AccessLogOpenError> {
    tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(|source| AccessLogOpenError {
            path: path.to_path_buf(),
            source,
        })
}

/// Starts the writer on any byte sink (tests use an in-memory pipe).
pub fn spawn_with_writer(
    out: Box<dyn AsyncWrite + Send + Unpin>,
    capacity: usize,
    dropped: IntCounter,
) -> (AccessLog, AccessLogWriter) {
    start(out, None, capacity, dropped)
}

fn start<R: LogLine>(
    out: Box<dyn AsyncWrite + Send + Unpin>,
    path: Option<PathBuf>,
    capacity: usize,
    dropped: IntCounter,
) -> (AccessLog<R>, AccessLogWriter) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let stop = Arc::new(tokio::sync::Notify::new());
    let reopen = AccessLogReopen::default();
    let sink = Sink {
        out: tokio::io::BufWriter::with_capacity(64 * 1024, out),
        path,
        reopen: reopen.clone(),
    };
    let task = tokio::spawn(write_loop(rx, sink, Arc::clone(&stop)));
    (
        AccessLog {
            tx: Some(tx),
            dropped,
        },
        AccessLogWriter {
            task: Some(task),
            stop,
            reopen,
        },
    )
}

/// Where the writer task writes, and what it needs to reopen it.
struct Sink {
    out: tokio::io::BufWriter<Box<dyn AsyncWrite + Send + Unpin>>,
    path: Option<PathBuf>,
    reopen: AccessLogReopen,
}

impl Sink {
    /// Flushes into the current file, then switches to a new one at `path`.
    async fn reopen(&mut self) -> std::io::Result<()> {
        self.out.flush().await?;
        let Some(path) = &self.path else {
            return Ok(());
        };
        match open_file(path).await {
            Ok(file) => {
                self.out = tokio::io::BufWriter::with_capacity(64 * 1024, Box::new(file));
                eprintln!("trellis: log reopened: {}", path.display());
            }
            Err(e) => eprintln!("trellis: {e}; still writing to the file opened before"),
        }
        Ok(())
    }
}

/// Least time between two flushes while lines keep coming. A file or stdout write goes
/// through tokio's blocking pool (a thread hand-off and a `write` syscall): flushing whenever
/// the queue ran dry cost a flush, ~4 futex calls and a `write` per request on a busy proxy,
/// more than the request itself. A quiet log still flushes each line at once; on a busy one a
/// line is at most this late.
const FLUSH_DELAY: std::time::Duration = std::time::Duration::from_millis(20);

async fn write_loop<R: LogLine>(
    mut rx: mpsc::Receiver<R>,
    mut sink: Sink,
    stop: Arc<tokio::sync::Notify>,
) -> std::io::Result<()> {
    let reopen = Arc::clone(&sink.reopen.0);
    let mut buf = Vec::with_capacity(1024);
    // Armed while the buffer holds lines waiting for the next allowed flush; one timer, reset
    // rather than re-created.
    let flush_timer = tokio::time::sleep(FLUSH_DELAY);
    tokio::pin!(flush_timer);
    let mut dirty = false;
    let mut last_flush: Option<tokio::time::Instant> = None;
    loop {
        let record = tokio::select! {
            r = rx.recv() => r,
            () = stop.notified() => {
                // Refuse new records, then drain what is queued.
                rx.close();
                rx.recv().await
            }
            () = reopen.notified() => {
                sink.reopen().await?;
                last_flush = Some(tokio::time::Instant::now());
                dirty = false;
                continue;
            }
            () = &mut flush_timer, if dirty => {
                sink.out.flush().await?;
                last_flush = Some(tokio::time::Instant::now());
                dirty = false;
                continue;
            }
        };
        let Some(record) = record else { break };
        buf.clear();
        if record.write_line(&mut buf).is_ok() {
            sink.out.write_all(&buf).await?;
        }
        // Batch while records keep coming; once the queue is empty, flush now unless the
        // last flush was under `FLUSH_DELAY` ago, then when that time is up.
        if rx.is_empty() && !dirty {
            let now = tokio::time::Instant::now();
            match last_flush
                .map(|t| t + FLUSH_DELAY)
                .filter(|&next| next > now)
            {
                Some(next) => {
                    flush_timer.as_mut().reset(next);
                    dirty = true;
                }
                None => {
                    sink.out.flush().await?;
                    last_flush = Some(tokio::time::Instant::now());
                }
            }
        }
    }
    sink.out.flush().await
}

impl AccessLogWriter {
    /// The handle that makes the writer reopen its file (`SIGHUP`).
    pub fn reopener(&self) -> AccessLogReopen {
        self.reopen.clone()
    }

    /// Stops accepting records, writes those queued and flushes.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        self.stop.notify_one();
        match self.task.take() {
            Some(task) => task.await.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            None => Ok(()),
        }
    }
}

/// `authDeniedReason`: the denying layer as the access log spells it.
fn denied_reason(layer: PolicyLayer) -> &'static str {
    match layer {
        PolicyLayer::Network => "Network",
        PolicyLayer::Service | PolicyLayer::Policy => "Service",
        PolicyLayer::Identity => "Identity",
    }
}

mod json;

#[cfg(test)]
mod tests;
