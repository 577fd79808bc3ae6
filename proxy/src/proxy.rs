//! The data plane assembled: listener, worker threads (see [`crate::workers`]), admin
//! endpoints, access-log writer and the stack, with an ordered shutdown (stop accepting, drain,
//! stop admin, flush the log).
//!
//! `trellis run` builds a [`ProxyConfig`] from its flags, binds, hands in its [`Auth`] and
//! the `/policy` file source, and awaits [`Proxy::run`].

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::access_log::{AccessLogOpenError, AccessLogReopen, AccessLogTarget, AccessLogWriter};
use crate::admin::{AdminState, FilesSource, Readiness};
use crate::auth::Auth;
use crate::metrics::{Metrics, MetricsError};
use crate::server::{Admission, ServerConfig, ShutdownReport};
use crate::stack::{Stack, StackConfig, StackError};
use crate::workers::{Job, SharedListener, StopSignal, WorkerFailed};

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
    /// `--workers`: data-plane threads (at least one).
    pub workers: usize,
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

/// Serving ended badly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A worker thread panicked, failed or stopped serving early (the others were drained).
    #[error("a worker thread failed: {0}")]
    Worker(#[from] WorkerFailed),
    /// The access or decision log could not be written out.
    #[error("flushing the access log failed: {0}")]
    Flush(#[from] std::io::Error),
}

/// A bound, not yet serving data plane.
#[derive(Debug)]
pub struct Proxy {
    metrics: Arc<Metrics>,
    ready: Readiness,
    stack: Stack,
    /// One stack per worker thread, built before serving so a pool that cannot be set up
    /// fails the start.
    workers: Vec<Stack>,
    server: ServerConfig,
    /// The one listening socket every worker accepts on.
    listener: Arc<SharedListener>,
    local_addr: SocketAddr,
    admission: Admission,
    admin: Option<TcpListener>,
    log_writer: AccessLogWriter,
    decision_log_writer: Option<AccessLogWriter>,
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ProxyStartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ProxyStartError::Bind { addr, source })
}

/// What one worker thread serves with: its own stack (upstream pool, metric shard), its own
/// descriptor of the listening socket, and the stop signal.
#[derive(Debug)]
pub struct Worker {
    /// `K` of `trellis-worker-K`, from 0.
    pub index: usize,
    /// This worker's stack ([`Stack::worker`]).
    pub stack: Stack,
    listener: TcpListener,
    server: ServerConfig,
    admission: Admission,
    stop: StopSignal,
}

impl Worker {
    /// Resolves when the worker must stop accepting and drain (for a listener of its own).
    pub fn stop(&self) -> impl Future<Output = ()> + Send + 'static {
        self.stop.wait()
    }

    /// `admission` counting this worker's accepted connections, for a listener of its own.
    pub fn admission(&self, admission: &Admission) -> Admission {
        admission.counting(self.connections())
    }

    fn connections(&self) -> prometheus::IntCounter {
        self.stack.metrics().shard(self.index).connections().clone()
    }

    /// Serves `service` on the proxy's listener until the stop, then drains.
    pub async fn serve<S, B>(self, service: S) -> ShutdownReport
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
        let stop = self.stop.wait();
        crate::server::serve_admitted(self.listener, self.server, &self.admission, service, stop)
            .await
    }
}

impl Proxy {
    /// Binds the listeners, opens the access log and builds the stack.
    pub async fn bind(config: ProxyConfig) -> Result<Self, ProxyStartError> {
        let workers = config.workers.max(1);
        let metrics = Arc::new(Metrics::with_workers(&config.version, workers)?);
        metrics.set_mode(config.stack.mode.as_str())?;
        let bind_error = |source| ProxyStartError::Bind {
            addr: config.listen,
            source,
        };
        let listener = bind(config.listen).await?.into_std().map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let listener = SharedListener::new(listener, workers).map_err(bind_error)?;
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
        let workers = (0..workers)
            .map(|k| stack.worker(k))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            metrics,
            ready: Readiness::new(),
            stack,
            workers,
            admission: Admission::new(config.server.max_connections),
            server: config.server,
            listener: Arc::new(listener),
            local_addr,
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
        Ok(self.local_addr)
    }

    /// The admin address, when enabled.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The shared parts of the stack (`trellis authz` builds its pipelines from them).
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests (up to the drain
    /// timeout), stops the admin endpoints and flushes the access log.
    pub async fn run(
        self,
        auth: &Auth,
        files: FilesSource,
        shutdown: impl Future<Output = ()>,
    ) -> Result<ShutdownReport, ServeError> {
        let auth = auth.clone();
        self.run_workers(files, shutdown, move |worker: Worker| {
            let service = worker.stack.service(&auth);
            async move { Ok(worker.serve(service).await) }
        })
        .await
    }

    /// [`Proxy::run`] with `auth` in place of `Authenticate → Authorize` (see
    /// [`Stack::service_with_auth`]).
    #[cfg(feature = "test-util")]
    pub async fn run_with_auth<A>(
        self,
        auth: &A,
        files: FilesSource,
        shutdown: impl Future<Output = ()>,
    ) -> Result<ShutdownReport, ServeError>
    where
        A: tower_layer::Layer<crate::stack::AuthInner> + Clone + Send + Sync + 'static,
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
        let auth = auth.clone();
        self.run_workers(files, shutdown, move |worker: Worker| {
            let service = worker.stack.service_with_auth(&auth);
            async move { Ok(worker.serve(service).await) }
        })
        .await
    }

    /// Runs `serve` on every worker thread (see [`crate::workers`]) with the admin endpoints
    /// and the access log on this one, until `shutdown` resolves; the workers' drains are
    /// summed. `trellis authz` serves its front doors this way.
    pub async fn run_workers<F, Fut>(
        self,
        files: FilesSource,
        shutdown: impl Future<Output = ()>,
        serve: F,
    ) -> Result<ShutdownReport, ServeError>
    where
        F: Fn(Worker) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::io::Result<ShutdownReport>> + 'static,
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
        let serve = Arc::new(serve);
        let listener = self.listener;
        let jobs = self
            .workers
            .into_iter()
            .enumerate()
            .map(|(index, stack)| {
                let serve = Arc::clone(&serve);
                let listener = Arc::clone(&listener);
                let server = self.server.clone();
                let admission = self.admission.clone();
                let job: Job = Box::new(move |stop: StopSignal| {
                    Box::pin(async move {
                        let worker = Worker {
                            index,
                            listener: listener.take(index)?,
                            server,
                            admission: admission
                                .counting(stack.metrics().shard(index).connections().clone()),
                            stack,
                            stop,
                        };
                        (*serve)(worker).await
                    }) as Pin<Box<dyn Future<Output = _>>>
                });
                job
            })
            .collect();
        drop((serve, listener));
        let report = crate::workers::run(jobs, shutdown).await;
        let _ = admin_stop.send(());
        if let Some(task) = admin_task {
            let _ = task.await;
        }
        // The workers' stacks (and their log senders) ended with their threads.
        drop(self.stack);
        let flushed = self.log_writer.shutdown().await;
        let decisions_flushed = match self.decision_log_writer {
            Some(writer) => writer.shutdown().await,
            None => Ok(()),
        };
        let report = report?;
        flushed?;
        decisions_flushed?;
        Ok(report)
    }
}
