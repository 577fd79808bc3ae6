//! The command line (fixed: a comparison harness drives it) and its validation into a
//! [`Config`] that the run can trust.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use http::{HeaderName, HeaderValue, Method};

use super::error::LoadError;

mod parse;

pub use parse::parse_duration;
use parse::{parse_audience, parse_header, parse_key, parse_region, parse_url, read_keys_file};

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignMode {
    /// Anonymous: no signature.
    None,
    /// A pool of signed requests, re-signed in the background before the skew window ends.
    Pool,
    /// Each request signed at send time (measures a signing client).
    PerRequest,
    /// An STS identity token per key (`Authorization: Bearer k8s-aws-v1.…`, as `aws eks
    /// get-token` prints), reused by every request and made anew every `--resign-every`.
    StsToken,
}

impl SignMode {
    /// The name used on the command line and in the results.
    pub fn as_str(self) -> &'static str {
        match self {
            SignMode::None => "none",
            SignMode::Pool => "pool",
            SignMode::PerRequest => "per-request",
            SignMode::StsToken => "sts-token",
        }
    }
}

/// HTTP load generator for Trellis: open loop at a fixed rate (latency from the scheduled send
/// time) or closed loop, anonymous or SigV4-signed, HTTP/1.1 or h2c.
#[derive(Debug, Parser)]
#[command(name = "trellis-load", version)]
pub struct Cli {
    /// `http://HOST:PORT/path`: the server and the path of the first request.
    pub url: String,
    /// Open loop: requests per second on a fixed schedule. Without it: closed loop.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Connections (open loop: the pool scheduled requests wait for).
    #[arg(short = 'c', long, default_value_t = 16)]
    pub connections: usize,
    /// Measured time: `10s`, `500ms`, `1m`.
    #[arg(short = 'd', long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Time before measuring, results discarded.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// HTTP/2 with prior knowledge (h2c) instead of HTTP/1.1.
    #[arg(long)]
    pub http2: bool,
    /// HTTP/2: requests in flight at once on each connection.
    #[arg(long, default_value_t = 1)]
    pub streams: usize,
    /// Request method.
    #[arg(short = 'm', long, default_value = "GET")]
    pub method: String,
    /// Extra header `NAME: VALUE`, repeatable.
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Paths (with optional `?query`) cycled through; default: the URL's.
    #[arg(long, value_delimiter = ',')]
    pub paths: Vec<String>,
    /// Authentication. `sts-token`: each key presigns one STS GetCallerIdentity URL for
    /// `sts.<--region>.amazonaws.com` with `x-k8s-aws-id: <--sts-audience>` signed (the token
    /// `aws eks get-token --cluster-name <audience>` prints), sent as `Authorization: Bearer
    /// k8s-aws-v1.…` by every request: the cached token of the steady state. Give many keys
    /// (`--keys-file`) to send a token the server has not seen yet with each request.
    #[arg(long, value_enum, default_value = "none")]
    pub sign: SignMode,
    /// Signing key `ACCESS_KEY_ID:SECRET`, repeatable.
    #[arg(long = "key")]
    pub keys: Vec<String>,
    /// File with one `ACCESS_KEY_ID SECRET` per line (`#` comments allowed).
    #[arg(long)]
    pub keys_file: Option<PathBuf>,
    /// SigV4 region; with `--sign sts-token`, the STS region (`sts.<region>.amazonaws.com`).
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// `--sign sts-token`: the audience signed into each token as `x-k8s-aws-id` (the
    /// server's `--sts-audience`, conventionally its service id `svc-…`).
    #[arg(long)]
    pub sts_audience: Option<String>,
    /// SigV4 signing name.
    #[arg(long, default_value = "vpc-lattice-svcs")]
    pub service: String,
    /// Distinct signed requests in the pool (at least every key x every path; `--sign
    /// sts-token` sends exactly every key x every path).
    #[arg(long, default_value_t = 64)]
    pub pool_size: usize,
    /// How often signatures are renewed. `pool`: the pool is re-signed (default 60s, at most
    /// 180s, well inside the 5-minute skew window). `sts-token`: new tokens are made (default
    /// 5m, at most 10m, well inside a token's 15 minutes).
    #[arg(long, value_parser = parse_duration)]
    pub resign_every: Option<Duration>,
    /// Count responses with another status as unexpected.
    #[arg(long)]
    pub expect_status: Option<u16>,
    /// Free text put into the results.
    #[arg(long)]
    pub label: Option<String>,
    /// Write the JSON result here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a one-row markdown table (with header) here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write an SVG latency-percentile plot here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// No progress bar.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// A request without a response after this long counts as a timeout.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Runtime threads (1: a current-thread runtime, the least overhead).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

/// A signing key. The secret never appears in `Debug` output.
#[derive(Clone)]
pub struct SigningKey {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as given.
    pub url: String,
    /// `host[:port]` as written in the URL: the `Host` header and `:authority`.
    pub authority: String,
    /// `host:port` to connect to.
    pub connect: String,
    /// Request targets (path + optional query), cycled through.
    pub paths: Vec<String>,
}

/// A validated run description.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server and paths.
    pub target: Target,
    /// `Some(rps)`: open loop.
    pub rate: Option<f64>,
    /// Connections.
    pub connections: usize,
    /// In-flight requests per HTTP/2 connection (1 for HTTP/1.1).
    pub streams: usize,
    /// Measured period.
    pub duration: Duration,
    /// Discarded period before it.
    pub warmup: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// h2c prior knowledge.
    pub http2: bool,
    /// Runtime threads.
    pub threads: usize,
    /// Request method.
    pub method: Method,
    /// Extra headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Authentication.
    pub sign: SignMode,
    /// Signing keys (empty when anonymous).
    pub keys: Vec<SigningKey>,
    /// SigV4 region.
    pub region: String,
    /// SigV4 signing name.
    pub service: String,
    /// `--sign sts-token`: the `x-k8s-aws-id` signed into the tokens.
    pub sts_audience: String,
    /// Minimum pool size.
    pub pool_size: usize,
    /// Pool re-signing (or token renewal) period.
    pub resign_every: Duration,
    /// Status counted as expected.
    pub expect_status: Option<u16>,
    /// Free text for the results.
    pub label: String,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

/// The longest re-signing period: signatures are spread over up to 60 s and must all stay
/// inside AWS's 5-minute skew window with a margin.
const MAX_RESIGN_EVERY: Duration = Duration::from_secs(180);

/// How often STS tokens are renewed by default: a client renews its token every few minutes,
/// so a server sees a cache miss per caller that often and cache hits in between.
const STS_TOKEN_EVERY: Duration = Duration::from_secs(300);

/// The longest token renewal period: a token lives 15 minutes from its `X-Amz-Date`; renewed
/// after 10 at the latest it never nears its end.
const MAX_STS_TOKEN_EVERY: Duration = Duration::from_secs(600);

impl Config {
    /// Parses and validates a command line (the first item is the program name).
    pub fn from_args<I, T>(args: I) -> Result<(Config, Cli), LoadError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let cli = Cli::try_parse_from(args).map_err(|e| match e.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                LoadError::Help(e.to_string())
            }
            _ => LoadError::Usage(e.to_string().trim_end().to_owned()),
        })?;
        Ok((Config::from_cli(&cli)?, cli))
    }

    /// Validates parsed options.
    pub fn from_cli(cli: &Cli) -> Result<Config, LoadError> {
        let bad = |option: &'static str, reason: String| LoadError::Option { option, reason };
        let target = parse_url(&cli.url, &cli.paths)?;
        if let Some(rate) = cli.rate {
            if !(rate.is_finite() && rate > 0.0 && rate <= 10_000_000.0) {
                return Err(bad("rate", format!("`{rate}` must be a number of requests per second above 0 (at most 10000000)")));
            }
        }
        if cli.connections == 0 || cli.connections > 100_000 {
            return Err(bad(
                "connections",
                format!("`{}` must be between 1 and 100000", cli.connections),
            ));
        }
        if cli.streams == 0 || cli.streams > 10_000 {
            return Err(bad(
                "streams",
                format!("`{}` must be between 1 and 10000", cli.streams),
            ));
        }
        if cli.streams > 1 && !cli.http2 {
            return Err(bad("streams", "more than one stream per connection needs `--http2` (HTTP/1.1 carries one request at a time)".into()));
        }
        if cli.duration.is_zero() {
            return Err(bad("duration", "must be longer than 0, e.g. `10s`".into()));
        }
        if cli.timeout.is_zero() {
            return Err(bad("timeout", "must be longer than 0, e.g. `10s`".into()));
        }
        if cli.threads == 0 || cli.threads > 256 {
            return Err(bad(
                "threads",
                format!("`{}` must be between 1 and 256", cli.threads),
            ));
        }
        let method = Method::from_bytes(cli.method.as_bytes()).map_err(|_| {
            bad(
                "method",
                format!(
                    "`{}` is not an HTTP method; use e.g. `GET` or `POST`",
                    cli.method
                ),
            )
        })?;
        let headers = cli
            .headers
            .iter()
            .map(|h| parse_header(h))
            .collect::<Result<Vec<_>, _>>()?;
        let mut keys = cli
            .keys
            .iter()
            .map(|k| parse_key(k, ':', "--key"))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(path) = &cli.keys_file {
            keys.extend(read_keys_file(path)?);
        }
        if cli.sign != SignMode::None && keys.is_empty() {
            return Err(bad("sign", format!("`{}` needs at least one key: give `--key ACCESS_KEY_ID:SECRET` or `--keys-file FILE`", cli.sign.as_str())));
        }
        if cli.pool_size == 0 || cli.pool_size > 1_000_000 {
            return Err(bad(
                "pool-size",
                format!("`{}` must be between 1 and 1000000", cli.pool_size),
            ));
        }
        let resign_every = if cli.sign == SignMode::StsToken {
            let every = cli.resign_every.unwrap_or(STS_TOKEN_EVERY);
            if every < Duration::from_secs(1) || every > MAX_STS_TOKEN_EVERY {
                return Err(bad("resign-every", format!("`{every:?}` must be between 1s and 10m with `--sign sts-token` so that every token stays well inside its 15 minutes")));
            }
            every
        } else {
            let every = cli.resign_every.unwrap_or(Duration::from_secs(60));
            if every < Duration::from_secs(1) || every > MAX_RESIGN_EVERY {
                return Err(bad("resign-every", format!("`{every:?}` must be between 1s and 180s so that every signature stays inside the 5-minute skew window")));
            }
            every
        };
        let sts_audience = match (cli.sign, &cli.sts_audience) {
            (SignMode::StsToken, Some(a)) => parse_audience(a)?,
            (SignMode::StsToken, None) => return Err(bad("sts-audience", "`--sign sts-token` needs the audience the server expects: give `--sts-audience svc-…` (the server's `--sts-audience`)".into())),
            (_, Some(_)) => return Err(bad("sts-audience", "applies only to `--sign sts-token`; drop it or add `--sign sts-token`".into())),
            (_, None) => String::new(),
        };
        if cli.sign == SignMode::StsToken {
            parse_region(&cli.region)?;
        }
        if let Some(code) = cli.expect_status {
            if !(100..=999).contains(&code) {
                return Err(bad(
                    "expect-status",
                    format!("`{code}` is not an HTTP status; use e.g. `200`"),
                ));
            }
        }
        let mode = if cli.rate.is_some() { "open" } else { "closed" };
        let label = cli
            .label
            .clone()
            .unwrap_or_else(|| format!("{mode}-{}", cli.sign.as_str()));
        let progress = !cli.quiet
            && std::io::IsTerminal::is_terminal(&std::io::stderr())
            && cli.warmup + cli.duration > Duration::from_secs(2);
        Ok(Config {
            target,
            rate: cli.rate,
            connections: cli.connections,
            streams: if cli.http2 { cli.streams } else { 1 },
            duration: cli.duration,
            warmup: cli.warmup,
            timeout: cli.timeout,
            http2: cli.http2,
            threads: cli.threads,
            method,
            headers,
            sign: cli.sign,
            keys: if cli.sign == SignMode::None {
                Vec::new()
            } else {
                keys
            },
            region: cli.region.clone(),
            service: cli.service.clone(),
            sts_audience,
            pool_size: cli.pool_size,
            resign_every,
            expect_status: cli.expect_status,
            label,
            progress,
        })
    }
}
