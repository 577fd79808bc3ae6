//! The data plane assembled: listener, admin endpoints, access-log writer and the stack, with
//! an ordered shutdown (stop accepting, drain, stop admin, flush the log).
//!
//! `trellis run` builds a [`ProxyConfig`] from its flags, binds, hands in its [`Auth`] and
//! the `/policy` file source, and awaits [`Proxy::run`].

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::access_log::{AccessLogOpenError, AccessLogReopen, AccessLogTarget, AccessLogWriter};
use crate::admin::{AdminState, FilesSource, Readiness};
use crate::auth::Auth;
use crate::metrics::{Metrics, MetricsError};
use crate::server::{ServerConfig, ShutdownReport};
use crate::stack::{Stack, StackConfig, StackError};

/// Everything the data plane needs.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// `--listen`.
    pub listen: SocketAddr,
    /// `--admin` (`None` for `off`).
    pub admin: Option<SocketAddr>,
    /// The stack: ARNs, mode, header limits, upstream.
    pub stack: StackConfig,
    /// Listener limits, TLS, drain timeout.
    pub server: ServerConfig,
    /// `--access-log`.
    pub access_log: AccessLogTarget,
    /// Records queued for the log writer before lines are dropped (and counted).
    pub access_log_queue: usize,
    /// `trellis_build_info{version}`.
    pub version: String,
    /// `--decision-log`: the file every decision is appended to.
    pub decision_log: Option<std::path::PathBuf>,
}

/// The data plane cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyStartError {
    /// A listen address is taken or not allowed.
    #[error(
        "cannot listen on `{addr}`: {source}; choose a free address with `--listen` / `--admin`"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Metrics registration failed.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// The access log cannot be opened.
    #[error(transparent)]
    AccessLog(#[from] AccessLogOpenError),
    /// The stack cannot be built.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// The decision log cannot be opened.
    #[error(transparent)]
    DecisionLog(#[from] crate::access_log::DecisionLogOpenError),
}

/// A bound, not yet serving data plane.
#[derive(Debug)]
pub struct Proxy {
    metrics: Arc<Metrics>,
    ready: Readiness,
    stack: Stack,
    server: ServerConfig,
    listener: TcpListener,
    admin: Option<TcpListener>,
    log_writer: AccessLogWriter,
    decision_log_writer: Option<AccessLogWriter>,
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ProxyStartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ProxyStartError::Bind { addr, source })
}

impl Proxy {
    /// Binds the listeners, opens the access log and builds the stack.
    pub async fn bind(config: ProxyConfig) -> Result<Self, ProxyStartError> {
        let metrics = Arc::new(Metrics::new(&config.version)?);
        metrics.set_mode(config.stack.mode.as_str())?;
        let listener = bind(config.listen).await?;
        let admin = match config.admin {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let (log, log_writer) = crate::access_log::spawn(
            &config.access_log,
            config.access_log_queue,
            metrics.access_log_dropped().clone(),
        )
        .await?;
        let mut stack = Stack::new(&config.stack, Arc::clone(&metrics), log)?;
        let decision_log_writer = match &config.decision_log {
            Some(path) => {
                let (log, writer) = crate::access_log::spawn_file(
                    path,
                    config.access_log_queue,
                    metrics.decision_log_dropped().clone(),
                )
                .await
                .map_err(crate::access_log::DecisionLogOpenError)?;
                stack.set_decision_log(log);
                Some(writer)
            }
            None => None,
        };
        Ok(Self {
            metrics,
            ready: Readiness::new(),
            stack,
            server: config.server,
            listener,
            admin,
            log_writer,
            decision_log_writer,
        })
    }

    /// The metrics, to resolve statement counters and count reloads.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The readiness flag `/readyz` reports; set it once policies and principals are loaded.
    pub fn readiness(&self) -> &Readiness {
        &self.ready
    }

    /// The handle that reopens the access-log file (`SIGHUP`, after logrotate).
    pub fn access_log_reopener(&self) -> AccessLogReopen {
        self.log_writer.reopener()
    }

    /// The handle that reopens the decision-log file (`SIGHUP`), when there is one.
    pub fn decision_log_reopener(&self) -> Option<AccessLogReopen> {
        self.decision_log_writer
            .as_ref()
            .map(AccessLogWriter::reopener)
    }

    /// The address callers connect to.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The admin address, when enabled.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The shared parts of the stack (`trellis authz` builds its pipelines from them).
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// Serves `service` in place of the stack on the listener, with the admin endpoints and
    /// the access log of [`Proxy::run`] (`trellis authz`'s HTTP front door).
    pub async fn run_service<S, B>(
        self,
        service: S,
        files: FilesSource,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<ShutdownReport>
    where
        S: tower_service::Service<
                http::Request<hyper::body::Incoming>,
                Response = http::Response<B>,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.serve(service, files, shutdown).await
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests (up to the drain
    /// timeout), stops the admin endpoints and flushes the access log.
    pub async fn run(
        self,
        auth: &Auth,
        files: FilesSource,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<ShutdownReport> {
        let service = self.stack.service(auth);
        self.serve(service, files, shutdown).await
    }

    /// [`Proxy::run`] with `auth` in place of `Authenticate → Authorize` (see
    /// [`Stack::service_with_auth`]).
    #[cfg(feature = "test-util")]
    pub async fn run_with_auth<A>(
        self,
        auth: &A,
        files: FilesSource,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<ShutdownReport>
    where
        A: tower_layer::Layer<crate::stack::AuthInner>,
        crate::stack::ProxyServiceWith<A>: tower_service::Service<
                http::Request<hyper::body::Incoming>,
                Response = http::Response<crate::layers::audit::Observed<crate::body::ProxyBody>>,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + Sync
            + 'static,
        <crate::stack::ProxyServiceWith<A> as tower_service::Service<
            http::Request<hyper::body::Incoming>,
        >>::Future: Send + 'static,
    {
        let service = self.stack.service_with_auth(auth);
        self.serve(service, files, shutdown).await
    }

    async fn serve<S, B>(
        self,
        service: S,
        files: FilesSource,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<ShutdownReport>
    where
        S: tower_service::Service<
                http::Request<hyper::body::Incoming>,
                Response = http::Response<B>,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (admin_stop, admin_stopped) = tokio::sync::oneshot::channel::<()>();
        let admin_task = self.admin.map(|listener| {
            let state = AdminState {
                metrics: Arc::clone(&self.metrics),
                ready: self.ready.clone(),
                files,
            };
            tokio::spawn(crate::admin::serve(listener, state, async move {
                let _ = admin_stopped.await;
            }))
        });
        let report = crate::server::serve(self.listener, self.server, service, shutdown).await;
        let _ = admin_stop.send(());
        if let Some(task) = admin_task {
            let _ = task.await;
        }
        // The stack's clones (and their log senders) are gone with the connections.
        drop(self.stack);
        self.log_writer.shutdown().await?;
        if let Some(writer) = self.decision_log_writer {
            writer.shutdown().await?;
        }
        Ok(report)
    }
}
