//! `trellis run` flags (CONTRACT §2) → a validated [`Config`].
//!
//! Every flag also reads `TRELLIS_<FLAG>` (clap's `env`; the flag wins). Values that need
//! checking (addresses, URLs, ARNs, durations, file pairs) are taken as text and validated
//! here, so each error names its flag and exits 1 (invalid input) rather than 2 (usage).

mod value;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::Uri;

use crate::access_log::AccessLogTarget;
use crate::auth::{AuthSettings, IdentityPolicies, Mode};
use crate::layers::normalize::HeaderLimits;
use crate::normalize::PathRules;
use crate::proxy::ProxyConfig;
use crate::request_head::{HeaderRules, Underscores, Xff};
use crate::server::ServerConfig;
use crate::snapshot::{AuthType, ShadowConfig, SnapshotConfig};
use crate::stack::StackConfig;
use crate::sts::StsConfig;
use crate::upstream::{UpstreamConfig, UpstreamProtocol, UpstreamRoots};
use trellis_sigv4::VerifierConfig;

pub use value::{parse_duration, LatticeArn};

/// `AWS_IAM` or `NONE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthTypeArg {
    /// Callers must be allowed by the level's auth policy.
    #[value(name = "AWS_IAM")]
    AwsIam,
    /// The level is not checked.
    #[value(name = "NONE")]
    None,
}

impl From<AuthTypeArg> for AuthType {
    fn from(a: AuthTypeArg) -> Self {
        match a {
            AuthTypeArg::AwsIam => AuthType::AwsIam,
            AuthTypeArg::None => AuthType::None,
        }
    }
}

/// `--identity-policies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IdentityPoliciesArg {
    /// A signed caller also needs an allow from its own identity policies.
    Enforce,
    /// Only the auth policies decide.
    Ignore,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// Denied requests are answered 403.
    Enforce,
    /// Denied requests are logged and counted, then forwarded.
    Audit,
}

/// `--headers-with-underscores`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UnderscoresArg {
    /// Remove such headers before authentication and authorization.
    Drop,
    /// Refuse the request with 400.
    Reject,
    /// Forward them.
    Allow,
}

/// `--xff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum XffArg {
    /// The TCP peer's address alone.
    Replace,
    /// The caller's list with the TCP peer's address appended.
    Append,
}

/// `--upstream-protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UpstreamProtocolArg {
    /// HTTP/1.1, whatever the caller spoke.
    Http1,
    /// HTTP/2 (prior knowledge for http, ALPN h2 for https): gRPC services.
    Http2,
    /// ALPN (h2, http/1.1) for an https upstream, else HTTP/1.1.
    Auto,
}

impl From<UpstreamProtocolArg> for UpstreamProtocol {
    fn from(a: UpstreamProtocolArg) -> Self {
        match a {
            UpstreamProtocolArg::Http1 => UpstreamProtocol::Http1,
            UpstreamProtocolArg::Http2 => UpstreamProtocol::Http2,
            UpstreamProtocolArg::Auto => UpstreamProtocol::Auto,
        }
    }
}

/// Most accepted `--max-connections`: far beyond what one sidecar's descriptors allow, low
/// enough to catch a typo.
const MAX_CONNECTIONS_LIMIT: usize = 1_000_000;

/// The flags of `trellis run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Where callers connect.
    #[arg(
        long,
        env = "TRELLIS_LISTEN",
        default_value = "0.0.0.0:8080",
        value_name = "ADDR"
    )]
    pub listen: String,
    /// The local service (http or https).
    #[arg(
        long,
        env = "TRELLIS_UPSTREAM",
        default_value = "http://127.0.0.1:8081",
        value_name = "URL"
    )]
    pub upstream: String,
    /// Admin endpoints (/metrics, /healthz, /readyz, /policy); `off` disables.
    #[arg(
        long,
        env = "TRELLIS_ADMIN",
        default_value = "127.0.0.1:9901",
        value_name = "ADDR"
    )]
    pub admin: String,
    /// arn:aws:vpc-lattice:REGION:ACCOUNT:service/svc-ID (gives region and account).
    #[arg(long, env = "TRELLIS_SERVICE_ARN", value_name = "ARN")]
    pub service_arn: String,
    /// arn:aws:vpc-lattice:REGION:ACCOUNT:servicenetwork/sn-ID.
    #[arg(long, env = "TRELLIS_SERVICE_NETWORK_ARN", value_name = "ARN")]
    pub service_network_arn: Option<String>,
    /// The service's auth type; AWS_IAM without a policy denies everything.
    #[arg(
        long,
        env = "TRELLIS_SERVICE_AUTH_TYPE",
        value_enum,
        default_value = "AWS_IAM"
    )]
    pub service_auth_type: AuthTypeArg,
    /// The service's auth policy.
    #[arg(long, env = "TRELLIS_SERVICE_POLICY", value_name = "FILE")]
    pub service_policy: Option<PathBuf>,
    /// The service network's auth type [default: AWS_IAM with --network-policy, else NONE].
    #[arg(long, env = "TRELLIS_NETWORK_AUTH_TYPE", value_enum)]
    pub network_auth_type: Option<AuthTypeArg>,
    /// The service network's auth policy.
    #[arg(long, env = "TRELLIS_NETWORK_POLICY", value_name = "FILE")]
    pub network_policy: Option<PathBuf>,
    /// Callers' keys, identities and identity policies.
    #[arg(long, env = "TRELLIS_PRINCIPALS", value_name = "FILE")]
    pub principals: Option<PathBuf>,
    /// Whether a signed caller also needs an allow from its identity policies.
    #[arg(
        long,
        env = "TRELLIS_IDENTITY_POLICIES",
        value_enum,
        default_value = "enforce"
    )]
    pub identity_policies: IdentityPoliciesArg,
    /// `audit`: decide, log and count every request, but forward even denied ones.
    #[arg(long, env = "TRELLIS_MODE", value_enum, default_value = "enforce")]
    pub mode: ModeArg,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "TRELLIS_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "TRELLIS_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// JSON access log: stdout, off or a file to append to.
    #[arg(
        long,
        env = "TRELLIS_ACCESS_LOG",
        default_value = "stdout",
        value_name = "stdout|off|FILE"
    )]
    pub access_log: String,
    /// Append one JSON line per decided request to this file, for `trellis policy replay`
    /// (reopened on SIGHUP).
    #[arg(long, env = "TRELLIS_DECISION_LOG", value_name = "FILE")]
    pub decision_log: Option<PathBuf>,
    /// Allowed difference between X-Amz-Date and now.
    #[arg(
        long,
        env = "TRELLIS_MAX_CLOCK_SKEW",
        default_value = "5m",
        value_name = "DURATION"
    )]
    pub max_clock_skew: String,
    /// Value of vpc-lattice-svcs:SourceVpc.
    #[arg(long, env = "TRELLIS_SOURCE_VPC", value_name = "ID")]
    pub source_vpc: Option<String>,
    /// Value of vpc-lattice-svcs:SourceVpcOwnerAccount.
    #[arg(long, env = "TRELLIS_SOURCE_VPC_OWNER", value_name = "ACCOUNT")]
    pub source_vpc_owner: Option<String>,
    /// Also re-check watched files this often; 0 disables.
    #[arg(
        long,
        env = "TRELLIS_RELOAD_POLL",
        default_value = "10s",
        value_name = "DURATION"
    )]
    pub reload_poll: String,
    /// On SIGTERM: keep serving this long while /readyz answers 503, then drain.
    #[arg(
        long,
        env = "TRELLIS_SHUTDOWN_DELAY",
        default_value = "0s",
        value_name = "DURATION"
    )]
    pub shutdown_delay: String,
    /// On SIGTERM/SIGINT, finish in-flight requests up to this long.
    #[arg(
        long,
        env = "TRELLIS_DRAIN_TIMEOUT",
        default_value = "20s",
        value_name = "DURATION"
    )]
    pub drain_timeout: String,
    /// Keep `;` in paths (matrix parameters); without it a path with `;` is refused with 400,
    /// because servlet containers cut `;...` from segments after the policy has decided.
    #[arg(
        long,
        env = "TRELLIS_ALLOW_PATH_SEMICOLONS",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub allow_path_semicolons: bool,
    /// Inbound header names with `_` (WSGI/Rack read `x_a` as `x-a`): drop, reject (400) or allow.
    #[arg(
        long,
        env = "TRELLIS_HEADERS_WITH_UNDERSCORES",
        value_enum,
        default_value = "drop"
    )]
    pub headers_with_underscores: UnderscoresArg,
    /// `x-forwarded-for` as the TCP peer alone (replace) or the caller's list plus the peer (append).
    #[arg(long, env = "TRELLIS_XFF", value_enum, default_value = "replace")]
    pub xff: XffArg,
    /// How requests reach the upstream, whatever the caller spoke; gRPC services need http2.
    #[arg(
        long,
        env = "TRELLIS_UPSTREAM_PROTOCOL",
        value_enum,
        default_value = "http1"
    )]
    pub upstream_protocol: UpstreamProtocolArg,
    /// Trust only the CA certificates of this PEM file for an https upstream; `system` uses
    /// the operating system's store [default: the bundled Mozilla roots].
    #[arg(long, env = "TRELLIS_UPSTREAM_CA", value_name = "FILE|system")]
    pub upstream_ca: Option<String>,
    /// Close a connection with no request in flight for this long (HTTP/2 PINGs do not
    /// count), and a tunnel moving no bytes for this long.
    #[arg(
        long,
        env = "TRELLIS_IDLE_TIMEOUT",
        default_value = "60s",
        value_name = "DURATION"
    )]
    pub idle_timeout: String,
    /// Most open caller connections, upgraded tunnels included; more wait in the backlog.
    #[arg(
        long,
        env = "TRELLIS_MAX_CONNECTIONS",
        default_value = "10000",
        value_name = "N"
    )]
    pub max_connections: String,
    /// Data-plane threads: each accepts and serves its connections start to end, with its own
    /// upstream connections [default: the CPUs this process may use, its cgroup CPU quota
    /// included].
    #[arg(long, env = "TRELLIS_WORKERS", value_name = "N")]
    pub workers: Option<String>,
    /// Accept STS identity tokens (`aws eks get-token --cluster-name ID`) whose signed
    /// `x-k8s-aws-id` is this audience; conventionally the service id `svc-…`.
    #[arg(long, env = "TRELLIS_STS_AUDIENCE", value_name = "ID")]
    pub sts_audience: Option<String>,
    /// Ask STS here instead of the token's host (a VPC endpoint); https, or http for a
    /// loopback address only.
    #[arg(long, env = "TRELLIS_STS_ENDPOINT", value_name = "URL")]
    pub sts_endpoint: Option<String>,
    /// Verified identity tokens kept (when full, one not used recently is evicted).
    #[arg(
        long,
        env = "TRELLIS_STS_CACHE",
        default_value = "10000",
        value_name = "N"
    )]
    pub sts_cache: String,
    /// A candidate service policy, decided beside the enforced one and never enforced.
    #[arg(long, env = "TRELLIS_SHADOW_SERVICE_POLICY", value_name = "FILE")]
    pub shadow_service_policy: Option<PathBuf>,
    /// A candidate network policy, decided beside the enforced one and never enforced.
    #[arg(long, env = "TRELLIS_SHADOW_NETWORK_POLICY", value_name = "FILE")]
    pub shadow_network_policy: Option<PathBuf>,
}

/// A shadow policy file: not the enforced file itself, whose shadow decision would always
/// equal the enforced one and hide a mistyped flag. (An empty value is refused by the parser.)
fn shadow_file(
    flag: &'static str,
    shadow: Option<PathBuf>,
    enforced: Option<&std::path::Path>,
) -> Result<Option<PathBuf>, ConfigError> {
    match shadow {
        Some(p) if Some(p.as_path()) == enforced => Err(ConfigError::new(
            flag,
            format!(
                "`{}` is the enforced policy file itself; give the candidate policy to compare with it",
                p.display()
            ),
        )),
        p => Ok(p),
    }
}

/// A flag value is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`--{flag}`: {message}")]
pub struct ConfigError {
    /// The flag, without dashes.
    pub flag: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

impl ConfigError {
    /// The message when the value came from the environment variable `var`, not the flag:
    /// users must find what they set.
    pub fn with_env_var(&self, var: &str) -> String {
        format!(
            "`{var}` (the environment variable of `--{}`): {}",
            self.flag, self.message
        )
    }

    fn new(flag: &'static str, message: impl Into<String>) -> Self {
        Self {
            flag,
            message: message.into(),
        }
    }
}

/// A validated `trellis run` configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `--listen`.
    pub listen: SocketAddr,
    /// `--upstream`.
    pub upstream: Uri,
    /// `--admin`; `None` for `off`.
    pub admin: Option<SocketAddr>,
    /// `--service-arn`.
    pub service_arn: LatticeArn,
    /// `--service-network-arn`.
    pub service_network_arn: Option<LatticeArn>,
    /// The auth levels and the files a snapshot is built from.
    pub snapshot: SnapshotConfig,
    /// `--identity-policies`.
    pub identity_policies: IdentityPolicies,
    /// `--mode`.
    pub mode: Mode,
    /// `--tls-cert`, `--tls-key`.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `--access-log`.
    pub access_log: AccessLogTarget,
    /// `--decision-log`.
    pub decision_log: Option<PathBuf>,
    /// `--max-clock-skew`.
    pub max_clock_skew: Duration,
    /// `--source-vpc`.
    pub source_vpc: Option<String>,
    /// `--source-vpc-owner`.
    pub source_vpc_owner: Option<String>,
    /// `--reload-poll`; `None` for `0`.
    pub reload_poll: Option<Duration>,
    /// `--drain-timeout`.
    pub drain_timeout: Duration,
    /// `--allow-path-semicolons`.
    pub path_rules: PathRules,
    /// `--headers-with-underscores`, `--xff`.
    pub header_rules: HeaderRules,
    /// `--upstream-protocol`.
    pub upstream_protocol: UpstreamProtocol,
    /// `--upstream-ca`.
    pub upstream_roots: UpstreamRoots,
    /// `--idle-timeout`.
    pub idle_timeout: Duration,
    /// `--max-connections`.
    pub max_connections: usize,
    /// `--workers`.
    pub workers: usize,
    /// `--shutdown-delay`.
    pub shutdown_delay: Duration,
    /// `--sts-audience`, `--sts-endpoint`, `--sts-cache`; `None` without an audience.
    pub sts: Option<StsConfig>,
    /// `--shadow-service-policy`, `--shadow-network-policy`.
    pub shadow: ShadowConfig,
}

/// `IP:PORT`, or `HOST:PORT` resolved once, here at start (the first IPv4 address the name
/// has, else the first IPv6 one), as `trellis healthcheck --admin` accepts names too.
fn addr(flag: &'static str, s: &str) -> Result<SocketAddr, ConfigError> {
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    let hint = "give IP:PORT such as `0.0.0.0:8080` or HOST:PORT such as `localhost:8080`";
    let port_ok = s
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !port_ok {
        return Err(ConfigError::new(
            flag,
            format!("`{s}` is not an address with a port; {hint}"),
        ));
    }
    let resolved: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(s)
        .map_err(|e| ConfigError::new(flag, format!("cannot resolve `{s}`: {e}; {hint}")))?
        .collect();
    resolved
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| resolved.first())
        .copied()
        .ok_or_else(|| ConfigError::new(flag, format!("`{s}` resolves to no address; {hint}")))
}

fn duration(flag: &'static str, s: &str) -> Result<Duration, ConfigError> {
    parse_duration(s).map_err(|m| ConfigError::new(flag, m))
}

fn upstream_roots(value: Option<&str>) -> Result<UpstreamRoots, ConfigError> {
    match value {
        None => Ok(UpstreamRoots::Webpki),
        Some(s) if s.trim().is_empty() => Err(ConfigError::new(
            "upstream-ca",
            "is empty; give a PEM file of CA certificates, `system`, or leave the flag out for the bundled Mozilla roots",
        )),
        Some("system") => Ok(UpstreamRoots::Native),
        Some(file) => Ok(UpstreamRoots::CaFile(PathBuf::from(file))),
    }
}

/// The most `--sts-cache` entries (a verified token costs about a kilobyte).
const MAX_STS_CACHE: usize = 1_000_000;

fn sts(
    audience: Option<String>,
    endpoint: Option<String>,
    cache: &str,
) -> Result<Option<StsConfig>, ConfigError> {
    let cache_entries = cache
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_STS_CACHE).contains(n))
        .ok_or_else(|| {
            ConfigError::new(
                "sts-cache",
                format!("`{cache}` is not a number of tokens; give a whole number from 1 to {MAX_STS_CACHE}"),
            )
        })?;
    let Some(audience) = audience else {
        if endpoint.is_some() {
            return Err(ConfigError::new(
                "sts-endpoint",
                "is set without `--sts-audience`; give the audience callers sign (e.g. the service id `svc-…`) or leave the endpoint out",
            ));
        }
        return Ok(None);
    };
    let audience_ok = !audience.is_empty()
        && audience.len() <= 256
        && audience.bytes().all(|b| b.is_ascii_graphic());
    if !audience_ok {
        return Err(ConfigError::new(
            "sts-audience",
            format!("`{audience}` is not an audience: give 1 to 256 visible ASCII characters without spaces, such as the service id `svc-0123456789abcdef0`"),
        ));
    }
    let endpoint = endpoint.map(|e| sts_endpoint(&e)).transpose()?;
    Ok(Some(StsConfig {
        audience,
        endpoint,
        cache_entries,
    }))
}

/// `https://HOST[:PORT]`, or `http://` to a loopback address (a local STS in tests); no path.
fn sts_endpoint(s: &str) -> Result<Uri, ConfigError> {
    let hint = "give `https://HOST` such as `https://sts.us-west-2.amazonaws.com` or a VPC endpoint's name; plain `http://` only for a loopback address such as `http://127.0.0.1:8443`";
    let uri: Uri = s
        .parse()
        .map_err(|_| ConfigError::new("sts-endpoint", format!("`{s}` is not a URL; {hint}")))?;
    let Some(host) = uri.host() else {
        return Err(ConfigError::new(
            "sts-endpoint",
            format!("`{s}` has no host; {hint}"),
        ));
    };
    if uri.path_and_query().is_some_and(|pq| pq.as_str() != "/") {
        return Err(ConfigError::new(
            "sts-endpoint",
            format!("`{s}` has a path or query; STS is asked at `/`; {hint}"),
        ));
    }
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if loopback => Ok(uri),
        Some("http") => Err(ConfigError::new(
            "sts-endpoint",
            format!("`{s}` is plain http to a non-loopback host: identity tokens would cross the network in clear; {hint}"),
        )),
        _ => Err(ConfigError::new("sts-endpoint", format!("`{s}` is not http(s); {hint}"))),
    }
}

fn idle_timeout(s: &str) -> Result<Duration, ConfigError> {
    let d = duration("idle-timeout", s)?;
    if d.is_zero() {
        return Err(ConfigError::new(
            "idle-timeout",
            "must be longer than 0; give a duration such as `60s`",
        ));
    }
    Ok(d)
}

fn max_connections(s: &str) -> Result<usize, ConfigError> {
    s.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_CONNECTIONS_LIMIT).contains(n))
        .ok_or_else(|| {
            ConfigError::new(
                "max-connections",
                format!("`{s}` is not a number of connections; give a whole number from 1 to {MAX_CONNECTIONS_LIMIT}"),
            )
        })
}

/// Most `--workers`: far past any machine's CPUs, short of a typo's thread count.
const MAX_WORKERS: usize = 1024;

/// `--workers`; by default the CPUs the process may run on (`available_parallelism` honours
/// the affinity mask and the cgroup CPU quota), one if even that cannot be read.
fn workers(s: Option<&str>) -> Result<usize, ConfigError> {
    let Some(s) = s else {
        return Ok(std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get));
    };
    s.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_WORKERS).contains(n))
        .ok_or_else(|| {
            ConfigError::new(
                "workers",
                format!("`{s}` is not a number of threads; give a whole number from 1 to {MAX_WORKERS}, or leave it out for one per CPU"),
            )
        })
}

impl Config {
    /// Parses `trellis run` arguments (program name first), for tests and tools.
    pub fn parse_from<I, T>(args: I) -> Result<Config, ParseError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        #[derive(Debug, clap::Parser)]
        struct Run {
            #[command(flatten)]
            args: RunArgs,
        }
        let run = <Run as clap::Parser>::try_parse_from(args).map_err(ParseError::Usage)?;
        Config::from_args(run.args).map_err(ParseError::Invalid)
    }

    /// Validates parsed flags.
    pub fn from_args(a: RunArgs) -> Result<Config, ConfigError> {
        let service_arn =
            LatticeArn::parse(&a.service_arn, "service", "svc-").ok_or_else(|| {
                ConfigError::new(
                    "service-arn",
                    format!(
                        "`{}` must look like arn:aws:vpc-lattice:REGION:ACCOUNT:service/svc-ID",
                        a.service_arn
                    ),
                )
            })?;
        let service_network_arn = a
            .service_network_arn
            .as_deref()
            .map(|s| {
                LatticeArn::parse(s, "servicenetwork", "sn-").ok_or_else(|| {
                    ConfigError::new(
                        "service-network-arn",
                        format!("`{s}` must look like arn:aws:vpc-lattice:REGION:ACCOUNT:servicenetwork/sn-ID"),
                    )
                })
            })
            .transpose()?;
        let upstream: Uri = a
            .upstream
            .parse()
            .ok()
            .filter(|u: &Uri| {
                matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()
            })
            .ok_or_else(|| {
                ConfigError::new(
                    "upstream",
                    format!(
                        "`{}` must be `http://HOST:PORT` or `https://HOST:PORT`",
                        a.upstream
                    ),
                )
            })?;
        let admin = match a.admin.as_str() {
            "off" => None,
            s => Some(addr("admin", s)?),
        };
        let tls = match (a.tls_cert, a.tls_key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "tls-key",
                    "is required with `--tls-cert`; give the certificate's private key",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "tls-cert",
                    "is required with `--tls-key`; give the certificate chain",
                ))
            }
        };
        let access_log = match a.access_log.as_str() {
            "stdout" | "-" => AccessLogTarget::Stdout,
            "off" => AccessLogTarget::Off,
            "" => {
                return Err(ConfigError::new(
                    "access-log",
                    "is empty; give `stdout`, `off` or a file path",
                ))
            }
            f => AccessLogTarget::File(PathBuf::from(f)),
        };
        // clap refuses an empty path itself, naming the flag.
        let decision_log = a.decision_log;
        let network_auth = a.network_auth_type.map_or(
            if a.network_policy.is_some() {
                AuthType::AwsIam
            } else {
                AuthType::None
            },
            AuthType::from,
        );
        let reload_poll = Some(duration("reload-poll", &a.reload_poll)?).filter(|d| !d.is_zero());
        let non_empty = |flag: &'static str, v: Option<String>| match v {
            Some(s) if s.trim().is_empty() => Err(ConfigError::new(
                flag,
                "is empty; give a value or leave the flag out",
            )),
            v => Ok(v),
        };
        let shadow = ShadowConfig {
            network_policy: shadow_file(
                "shadow-network-policy",
                a.shadow_network_policy,
                a.network_policy.as_deref(),
            )?,
            service_policy: shadow_file(
                "shadow-service-policy",
                a.shadow_service_policy,
                a.service_policy.as_deref(),
            )?,
        };
        Ok(Config {
            listen: addr("listen", &a.listen)?,
            upstream,
            admin,
            service_arn,
            service_network_arn,
            snapshot: SnapshotConfig {
                network_auth,
                network_policy: a.network_policy,
                service_auth: a.service_auth_type.into(),
                service_policy: a.service_policy,
                principals: a.principals,
            },
            identity_policies: match a.identity_policies {
                IdentityPoliciesArg::Enforce => IdentityPolicies::Enforce,
                IdentityPoliciesArg::Ignore => IdentityPolicies::Ignore,
            },
            mode: match a.mode {
                ModeArg::Enforce => Mode::Enforce,
                ModeArg::Audit => Mode::Audit,
            },
            tls,
            access_log,
            decision_log,
            max_clock_skew: duration("max-clock-skew", &a.max_clock_skew)?,
            source_vpc: non_empty("source-vpc", a.source_vpc)?,
            source_vpc_owner: non_empty("source-vpc-owner", a.source_vpc_owner)?,
            reload_poll,
            drain_timeout: duration("drain-timeout", &a.drain_timeout)?,
            path_rules: PathRules {
                allow_semicolons: a.allow_path_semicolons,
            },
            header_rules: HeaderRules {
                underscores: match a.headers_with_underscores {
                    UnderscoresArg::Drop => Underscores::Drop,
                    UnderscoresArg::Reject => Underscores::Reject,
                    UnderscoresArg::Allow => Underscores::Allow,
                },
                xff: match a.xff {
                    XffArg::Replace => Xff::Replace,
                    XffArg::Append => Xff::Append,
                },
            },
            upstream_protocol: a.upstream_protocol.into(),
            upstream_roots: upstream_roots(a.upstream_ca.as_deref())?,
            idle_timeout: idle_timeout(&a.idle_timeout)?,
            max_connections: max_connections(&a.max_connections)?,
            workers: workers(a.workers.as_deref())?,
            shutdown_delay: duration("shutdown-delay", &a.shutdown_delay)?,
            sts: sts(a.sts_audience, a.sts_endpoint, &a.sts_cache)?,
            shadow,
        })
    }

    /// Things that are allowed but probably not meant, one line each.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        let s = &self.snapshot;
        if s.service_auth == AuthType::AwsIam && s.service_policy.is_none() {
            w.push("warning: `--service-auth-type AWS_IAM` without `--service-policy` denies every request, as in Lattice; give a policy or use `--service-auth-type NONE`".to_owned());
        }
        if s.service_auth == AuthType::None && s.service_policy.is_some() {
            w.push(
                "warning: `--service-policy` is inactive with `--service-auth-type NONE`"
                    .to_owned(),
            );
        }
        if s.network_auth == AuthType::AwsIam && s.network_policy.is_none() {
            w.push("warning: `--network-auth-type AWS_IAM` without `--network-policy` denies every request; give a policy or use `NONE`".to_owned());
        }
        if s.network_auth == AuthType::None && s.network_policy.is_some() {
            w.push(
                "warning: `--network-policy` is inactive with `--network-auth-type NONE`"
                    .to_owned(),
            );
        }
        if self.upstream_roots != UpstreamRoots::Webpki
            && self.upstream.scheme_str() != Some("https")
        {
            w.push(
                "warning: `--upstream-ca` is inactive with an `http://` `--upstream`".to_owned(),
            );
        }
        w
    }

    /// The settings of the auth layers.
    pub fn auth_settings(&self) -> AuthSettings {
        let mut verifier = VerifierConfig::new(self.service_arn.region());
        verifier.max_clock_skew = self.max_clock_skew;
        AuthSettings {
            verifier,
            service_arn: self.service_arn.as_str().into(),
            service_network_arn: self
                .service_network_arn
                .as_ref()
                .map(|a| Arc::from(a.as_str())),
            source_vpc: self.source_vpc.as_deref().map(Arc::from),
            source_vpc_owner: self.source_vpc_owner.as_deref().map(Arc::from),
            identity_policies: self.identity_policies,
            mode: self.mode,
            xff: self.header_rules.xff,
            sts: None,
            enabled: self.snapshot.auth_enabled(),
        }
    }

    /// The data plane's configuration; `tls` is the loaded server config, if any.
    pub fn proxy_config(&self, tls: Option<Arc<rustls::ServerConfig>>) -> ProxyConfig {
        ProxyConfig {
            listen: self.listen,
            admin: self.admin,
            stack: StackConfig {
                service_arn: self.service_arn.as_str().to_owned(),
                service_network_arn: self
                    .service_network_arn
                    .as_ref()
                    .map(|a| a.as_str().to_owned()),
                mode: self.mode,
                header_limits: HeaderLimits::default(),
                path_rules: self.path_rules,
                header_rules: self.header_rules,
                upstream: UpstreamConfig {
                    protocol: self.upstream_protocol,
                    roots: self.upstream_roots.clone(),
                    tunnel_idle_timeout: self.idle_timeout,
                    ..UpstreamConfig::new(self.upstream.clone())
                },
            },
            server: ServerConfig {
                tls,
                drain_timeout: self.drain_timeout,
                idle_timeout: self.idle_timeout,
                max_connections: self.max_connections,
                ..ServerConfig::default()
            },
            access_log: self.access_log.clone(),
            access_log_queue: 8192,
            decision_log: self.decision_log.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            workers: self.workers,
        }
    }
}

/// Why arguments did not give a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Unknown flag, missing required flag, or a value outside a fixed choice (exit 2).
    #[error(transparent)]
    Usage(clap::Error),
    /// A value is invalid (exit 1).
    #[error(transparent)]
    Invalid(ConfigError),
}

#[cfg(test)]
mod tests;
