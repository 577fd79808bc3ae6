//! `trellis healthcheck`: a probe for images without a shell (Docker `HEALTHCHECK`, ECS health
//! checks). One HTTP/1.1 GET to the admin endpoint; exit 0 on 200, else 1 with the reason.

use std::io::Write;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{EXIT_INVALID, EXIT_OK};
use crate::config::parse_duration;

#[derive(Debug, clap::Args)]
pub(crate) struct HealthcheckArgs {
    /// The admin address of the proxy.
    #[arg(
        long,
        env = "TRELLIS_ADMIN",
        default_value = "127.0.0.1:9901",
        value_name = "ADDR"
    )]
    admin: String,
    /// The endpoint to probe.
    #[arg(long, default_value = "/readyz", value_name = "PATH")]
    path: String,
    /// Give up after this long.
    #[arg(long, default_value = "2s", value_name = "DURATION")]
    timeout: String,
}

/// Why a probe failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// No connection.
    #[error("cannot connect to `{0}`: {1}; is `trellis run` up with `--admin` at that address?")]
    Connect(String, std::io::Error),
    /// The exchange failed.
    #[error("request to `{0}` failed: {1}")]
    Io(String, std::io::Error),
    /// Not a 200.
    #[error("`{0}` answered {1}")]
    Status(String, String),
    /// No answer in time.
    #[error("no answer from `{0}` within {1:?}")]
    Timeout(String, Duration),
}

/// GETs `path` from `admin` and returns the status line's code, or why not.
pub async fn probe(admin: &str, path: &str) -> Result<u16, ProbeError> {
    let url = format!("http://{admin}{path}");
    let mut stream = tokio::net::TcpStream::connect(admin)
        .await
        .map_err(|e| ProbeError::Connect(admin.to_owned(), e))?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {admin}\r\nConnection: close\r\nUser-Agent: trellis-healthcheck\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| ProbeError::Io(url.clone(), e))?;
    let mut answer = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| ProbeError::Io(url.clone(), e))?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&answer);
    let status = line.lines().next().unwrap_or_default().to_owned();
    status
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| ProbeError::Status(url, format!("`{status}`, not HTTP")))
}

/// `--path healthz` means `/healthz`: an origin-form target always starts with `/`.
fn request_path(path: &str) -> std::borrow::Cow<'_, str> {
    if path.starts_with('/') {
        path.into()
    } else {
        format!("/{path}").into()
    }
}

pub(crate) fn run(args: &HealthcheckArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let timeout = match parse_duration(&args.timeout) {
        Ok(t) => t,
        Err(m) => {
            let _ = writeln!(err, "trellis healthcheck: `--timeout`: {m}");
            return EXIT_INVALID;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(err, "trellis healthcheck: cannot start: {e}");
            return EXIT_INVALID;
        }
    };
    let path = request_path(&args.path);
    let url = format!("http://{}{path}", args.admin);
    let result = runtime.block_on(async {
        match tokio::time::timeout(timeout, probe(&args.admin, &path)).await {
            Ok(r) => r,
            Err(_) => Err(ProbeError::Timeout(url.clone(), timeout)),
        }
    });
    match result {
        Ok(200) => {
            let _ = writeln!(out, "{url}: 200 OK");
            EXIT_OK
        }
        Ok(code) => {
            let _ = writeln!(
                err,
                "trellis healthcheck: {}",
                ProbeError::Status(url, code.to_string())
            );
            EXIT_INVALID
        }
        Err(e) => {
            let _ = writeln!(err, "trellis healthcheck: {e}");
            EXIT_INVALID
        }
    }
}

#[cfg(test)]
mod tests {
    use super::request_path;

    #[test]
    fn a_path_without_a_leading_slash_gets_one() {
        assert_eq!(request_path("healthz"), "/healthz");
        assert_eq!(request_path("/readyz"), "/readyz");
    }
}
