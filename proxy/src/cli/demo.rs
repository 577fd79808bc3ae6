//! `trellis demo`: the embedded default. A built-in echo upstream, the proxy with the example
//! policies and principals of `deploy/examples` (compiled into the binary and written to a
//! temporary directory, so reloads and `/policy` behave as in production), and ready-to-paste
//! `curl --aws-sigv4` commands with the answer each one should get.

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use super::{EXIT_INVALID, EXIT_USAGE};
use crate::config::{Config, ParseError};

const SERVICE_POLICY: &str = include_str!("../../../deploy/examples/service-policy.json");
const NETWORK_POLICY: &str = include_str!("../../../deploy/examples/network-policy.json");
const PRINCIPALS: &str = include_str!("../../../deploy/examples/principals.json");

/// The example service, as the example policies name it.
pub const DEMO_SERVICE_ARN: &str =
    "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";
/// The example service network.
pub const DEMO_NETWORK_ARN: &str =
    "arn:aws:vpc-lattice:us-west-2:111122223333:servicenetwork/sn-0123456789abcdef0";
/// The checkout role's example key (from `deploy/examples/principals.json`).
pub const DEMO_KEY: (&str, &str) = (
    "AKIAEXAMPLECHECKOUT1",
    "checkout/EXAMPLE/secret/key/do/not/use/0001",
);

#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Where the demo proxy listens.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: String,
    /// Admin endpoints of the demo proxy; `off` disables.
    #[arg(long, default_value = "127.0.0.1:9901", value_name = "ADDR")]
    admin: String,
    /// JSON access log: stdout, off or a file.
    #[arg(long, default_value = "stdout", value_name = "stdout|off|FILE")]
    access_log: String,
}

/// Answers every request with a JSON echo of what arrived: method, path and headers, so the
/// identity headers the proxy adds are visible.
async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut headers = serde_json::Map::new();
    for (name, value) in req.headers() {
        headers.insert(
            name.as_str().to_owned(),
            serde_json::Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
        );
    }
    let body = serde_json::json!({
        "service": "demo echo upstream",
        "method": req.method().as_str(),
        "path": req.uri().path_and_query().map_or("/", |p| p.as_str()),
        "headers": headers,
    });
    let mut text = serde_json::to_vec_pretty(&body).unwrap_or_default();
    text.push(b'\n');
    let mut res = Response::new(Full::new(Bytes::from(text)));
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(res)
}

/// Serves HTTP/1.1 and h2c: the proxy forwards an HTTP/2 caller's request over HTTP/2, as
/// Lattice does, so an HTTP/1-only echo would answer every `curl --http2-prior-knowledge` 502.
async fn spawn_echo() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), hyper::service::service_fn(echo))
                    .await;
            });
        }
    });
    Ok(addr)
}

fn write_examples(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("service-policy.json"), SERVICE_POLICY)?;
    std::fs::write(dir.join("network-policy.json"), NETWORK_POLICY)?;
    std::fs::write(dir.join("principals.json"), PRINCIPALS)
}

/// The instructions printed once the proxy serves at `addr`.
pub fn instructions(addr: SocketAddr, dir: &Path) -> String {
    let curl = format!(
        "curl --aws-sigv4 'aws:amz:us-west-2:vpc-lattice-svcs' --user '{}:{}' -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD'",
        DEMO_KEY.0, DEMO_KEY.1
    );
    format!(
        "trellis demo: proxy on http://{addr} in front of a built-in echo service\n\
         policies and principals: {dir} (edit them: changes are reloaded)\n\
         \n\
         # 1. allowed: the checkout role reads an order (network, service and identity policies allow)\n\
         {curl} http://{addr}/orders/7\n\
         #    -> 200, the echo of your request with x-amzn-lattice-identity: Principal=arn:aws:sts::111122223333:assumed-role/checkout/checkout-task-1; ...\n\
         \n\
         # 2. denied: the service policy explicitly denies /admin/* to everyone outside the platform team\n\
         {curl} http://{addr}/admin/users\n\
         #    -> 403 AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/checkout/checkout-task-1 is not authorized to perform: vpc-lattice-svcs:Invoke on resource: {DEMO_SERVICE_ARN}/admin/users with an explicit deny in a service-based policy\n\
         \n\
         # 3. anonymous: an unsigned request for a public page\n\
         curl http://{addr}/public/index.html\n\
         #    -> 200, the echo without any x-amzn-lattice-identity header\n\
         \n\
         Ctrl-C stops the demo.\n",
        dir = dir.display()
    )
}

pub(crate) fn run(args: &DemoArgs, err: &mut dyn Write) -> i32 {
    let dir: PathBuf = std::env::temp_dir().join(format!("trellis-demo-{}", std::process::id()));
    if let Err(e) = write_examples(&dir) {
        let _ = writeln!(
            err,
            "trellis demo: cannot write the example files to `{}`: {e}",
            dir.display()
        );
        return EXIT_INVALID;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(err, "trellis demo: cannot start the async runtime: {e}");
            return EXIT_INVALID;
        }
    };
    let code = runtime.block_on(async {
        let upstream = match spawn_echo().await {
            Ok(a) => a,
            Err(e) => {
                let _ = writeln!(err, "trellis demo: cannot start the echo service: {e}");
                return EXIT_INVALID;
            }
        };
        let file = |name: &str| dir.join(name).display().to_string();
        let argv = [
            "demo".to_owned(),
            "--listen".to_owned(),
            args.listen.clone(),
            "--admin".to_owned(),
            args.admin.clone(),
            "--access-log".to_owned(),
            args.access_log.clone(),
            "--upstream".to_owned(),
            format!("http://{upstream}"),
            "--service-arn".to_owned(),
            DEMO_SERVICE_ARN.to_owned(),
            "--service-network-arn".to_owned(),
            DEMO_NETWORK_ARN.to_owned(),
            "--service-policy".to_owned(),
            file("service-policy.json"),
            "--network-policy".to_owned(),
            file("network-policy.json"),
            "--principals".to_owned(),
            file("principals.json"),
        ];
        let config = match Config::parse_from(argv) {
            Ok(c) => c,
            Err(ParseError::Invalid(e)) => {
                let _ = writeln!(err, "trellis demo: {e}");
                return EXIT_INVALID;
            }
            Err(ParseError::Usage(e)) => {
                let _ = writeln!(err, "trellis demo: {e}");
                return EXIT_USAGE;
            }
        };
        let shutdown = match crate::signals::ShutdownRequests::install() {
            Ok(s) => s,
            Err(e) => {
                let _ = writeln!(err, "trellis demo: {e}");
                return EXIT_INVALID;
            }
        };
        let dir = dir.clone();
        super::run::serve(
            &config,
            shutdown,
            move |proxy| {
                if let Ok(addr) = proxy.local_addr() {
                    let stdout = std::io::stdout();
                    let mut out = stdout.lock();
                    let _ = out.write_all(instructions(addr, &dir).as_bytes());
                    let _ = out.flush();
                }
            },
            err,
        )
        .await
    });
    let _ = std::fs::remove_dir_all(&dir);
    code
}
