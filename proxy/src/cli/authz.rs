//! `trellis authz`: the sidecar's decisions for Envoy/Istio `ext_authz` (gRPC on
//! `--grpc-listen`, HTTP on `--http-listen`) and nginx `auth_request` (on `--http-listen`).
//!
//! Everything but the front doors is `trellis run`'s: the flags (policies, principals, STS,
//! mode, shadow, logs, admin), the snapshot and its reloads, SIGHUP, readiness, the drain.

use std::io::Write;
use std::net::SocketAddr;

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::authz::grpc::{AuthorizationServer, GrpcFront};
use crate::authz::http_front::HttpFront;
use crate::authz::pipeline::Pipeline;
use crate::authz::view::FrontDoor;
use crate::config::{Config, RunArgs};
use crate::proxy::Worker;
use crate::server::{Admission, ShutdownReport};
use crate::signals::ShutdownRequests;
use crate::workers::SharedListener;

use super::{EXIT_INVALID, EXIT_OK};

/// The flags of `trellis authz`.
#[derive(Debug, Clone, clap::Args)]
pub struct AuthzArgs {
    /// Envoy/Istio gRPC ext_authz: `envoy.service.auth.v3.Authorization/Check`.
    #[arg(
        long,
        env = "TRELLIS_GRPC_LISTEN",
        default_value = "0.0.0.0:9000",
        value_name = "ADDR"
    )]
    pub grpc_listen: String,
    /// Envoy/Istio HTTP ext_authz and nginx `auth_request`.
    #[arg(
        long,
        env = "TRELLIS_HTTP_LISTEN",
        default_value = "0.0.0.0:8000",
        value_name = "ADDR"
    )]
    pub http_listen: String,
    /// Envoy's HTTP ext_authz `path_prefix`: stripped from the check request's path.
    #[arg(
        long,
        env = "TRELLIS_PATH_PREFIX",
        default_value = "",
        value_name = "P"
    )]
    pub path_prefix: String,
    /// `trellis run`'s flags (`--listen`, `--upstream` and the TLS pair do not apply).
    #[command(flatten)]
    pub run: RunArgs,
}

fn addr(flag: &str, text: &str, err: &mut dyn Write) -> Option<SocketAddr> {
    match text.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            let _ = writeln!(
                err,
                "trellis authz: `--{flag}`: `{text}` is not an address; write it as IP:PORT, such as 0.0.0.0:9000"
            );
            None
        }
    }
}

/// Runs `trellis authz` until SIGTERM/SIGINT.
pub(crate) fn run(args: AuthzArgs, err: &mut dyn Write) -> i32 {
    let (Some(grpc), Some(http)) = (
        addr("grpc-listen", &args.grpc_listen, err),
        addr("http-listen", &args.http_listen, err),
    ) else {
        return EXIT_INVALID;
    };
    if !args.path_prefix.is_empty() && !args.path_prefix.starts_with('/') {
        let _ = writeln!(
            err,
            "trellis authz: `--path-prefix`: `{}` must start with `/`, as Envoy's `path_prefix` does",
            args.path_prefix
        );
        return EXIT_INVALID;
    }
    let mut run = args.run;
    run.listen = http.to_string();
    if run.tls_cert.is_some() || run.tls_key.is_some() {
        let _ = writeln!(
            err,
            "trellis authz: `--tls-cert`/`--tls-key` do not apply: the proxy in front terminates TLS"
        );
        return EXIT_INVALID;
    }
    let config = match Config::from_args(run) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(err, "trellis authz: {e}");
            return EXIT_INVALID;
        }
    };
    let runtime = match super::run::control_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(err, "trellis authz: cannot start the async runtime: {e}");
            return EXIT_INVALID;
        }
    };
    runtime.block_on(async {
        let shutdown = match ShutdownRequests::install() {
            Ok(s) => s,
            Err(e) => {
                let _ = writeln!(err, "trellis authz: {e}");
                return EXIT_INVALID;
            }
        };
        serve(&config, grpc, args.path_prefix, shutdown, err).await
    })
}

async fn serve(
    config: &Config,
    grpc: SocketAddr,
    path_prefix: String,
    shutdown: ShutdownRequests,
    err: &mut dyn Write,
) -> i32 {
    // Bound before the policies load, so a taken port fails the start like `--listen` does.
    let (listener, grpc_addr) = match TcpListener::bind(grpc)
        .await
        .and_then(TcpListener::into_std)
        .and_then(|l| {
            let addr = l.local_addr()?;
            Ok((SharedListener::new(l, config.workers)?, addr))
        }) {
        Ok((l, addr)) => (Arc::new(l), addr),
        Err(e) => {
            let _ = writeln!(
                err,
                "trellis authz: cannot listen on `{grpc}`: {e}; choose a free address with `--grpc-listen`"
            );
            return EXIT_INVALID;
        }
    };
    let mut grpc_server = config.proxy_config(None).server;
    // Envoy carries every caller's check over one or two connections: allow as many checks
    // at once on one as the sidecar allows caller connections (`--max-connections`), so a
    // burst is decided, never refused (Envoy answers a refused check with 403).
    grpc_server.max_concurrent_streams =
        u32::try_from(grpc_server.max_connections).unwrap_or(u32::MAX);
    // A check's answer is a few hundred bytes: one write per answer, not two.
    grpc_server.gather_small_writes = true;
    let code = super::run::serve_front(
        config,
        shutdown,
        super::run::Front::Authz,
        |proxy| {
            let http = proxy
                .local_addr()
                .map_or_else(|_| "-".to_owned(), |a| a.to_string());
            let admin = proxy
                .admin_addr()
                .map_or_else(|| "off".to_owned(), |a| a.to_string());
            eprintln!(
                "trellis: authz serving gRPC {grpc_addr} and HTTP {http} (admin {admin}, mode {}, {} workers)",
                config.mode.as_str(),
                config.workers
            );
        },
        err,
        move |proxy, auth, files, stop| {
            // Every worker serves both front doors; the gRPC listener's connection limit is
            // one for all of them, like the HTTP listener's.
            let grpc_admission = Admission::new(grpc_server.max_connections);
            proxy.run_workers(files, stop, move |worker: Worker| {
                let stack = &worker.stack;
                let grpc = GrpcFront::new(Pipeline::new(stack, &auth, FrontDoor::EnvoyGrpc));
                let http = HttpFront::new(
                    Pipeline::new(stack, &auth, FrontDoor::EnvoyHttp),
                    Pipeline::new(stack, &auth, FrontDoor::Nginx),
                    path_prefix.clone(),
                );
                let listener = listener.take(worker.index);
                let grpc_server = grpc_server.clone();
                let grpc_admission = worker.admission(&grpc_admission);
                let grpc_stop = worker.stop();
                async move {
                    // The sidecar's server (h2c by prior knowledge, connection limits, drain)
                    // with the generated gRPC service in place of the stack.
                    let grpc = crate::server::serve_admitted(
                        listener?,
                        grpc_server,
                        &grpc_admission,
                        AuthorizationServer::new(grpc),
                        grpc_stop,
                    );
                    let (grpc, http) = tokio::join!(grpc, worker.serve(http));
                    Ok(ShutdownReport {
                        drained: grpc.drained + http.drained,
                        cut: grpc.cut + http.cut,
                    })
                }
            })
        },
    )
    .await;
    if code == EXIT_OK {
        let _ = writeln!(err, "trellis: authz stopped");
    }
    code
}
