//! `trellis run`: bind, load the first snapshot (or refuse to start), watch the files (policies,
//! principals, the TLS pair), serve until SIGTERM/SIGINT (after `--shutdown-delay`), drain,
//! report. SIGHUP reloads everything and reopens the access log.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use crate::access_log::AccessLogReopen;
use crate::auth::Auth;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::proxy::Proxy;
use crate::reload::{self, ReloadConfig, ReloadHandle};
use crate::signals::{serve_until_shutdown, ShutdownRequests};
use crate::snapshot::{Reporter, SnapshotHandle};
use crate::tls::ReloadableCert;

use super::{EXIT_INVALID, EXIT_OK};

/// Quiet time that ends a burst of file events (an editor's or kubelet's rename dance). Both
/// finish within a millisecond or two; the quiet time adds directly to how long a policy
/// change takes to be in force, so it stays short. Settling too early is harmless: the files
/// are hashed and reloaded again on the next event, and a half-written file is rejected with
/// the last good snapshot kept.
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(25);

pub(crate) fn run(config: &Config, err: &mut dyn Write) -> i32 {
    let runtime = match control_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(err, "trellis run: cannot start the async runtime: {e}");
            return EXIT_INVALID;
        }
    };
    runtime.block_on(async {
        let shutdown = match ShutdownRequests::install() {
            Ok(s) => s,
            Err(e) => {
                let _ = writeln!(err, "trellis run: {e}");
                return EXIT_INVALID;
            }
        };
        serve(config, shutdown, |_| {}, err).await
    })
}

/// The runtime of the control plane: signals, the admin endpoints, the log writers. One thread
/// is plenty; the data plane runs on the worker threads (`--workers`), each on a runtime of
/// its own, and reloads run on threads of their own.
pub(crate) fn control_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Reloads the listener's certificate and key, counting the result; a pair that does not load
/// leaves the one in force.
fn reload_tls(cert: &ReloadableCert, metrics: &Metrics) {
    let ok = match cert.reload() {
        Ok(()) => {
            let until = time::OffsetDateTime::from_unix_timestamp(cert.not_after())
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_else(|| cert.not_after().to_string());
            eprintln!("trellis: TLS certificate reloaded; valid until {until}");
            true
        }
        Err(e) => {
            eprintln!("trellis: TLS certificate reload rejected: {e}; the previous certificate stays in force");
            false
        }
    };
    let _ = metrics.tls_reload(ok, cert.not_after());
}

/// Serves `config` until `shutdown` asks to stop (after `--shutdown-delay`, see
/// [`serve_until_shutdown`]); `on_ready` is called with the bound proxy's addresses once the
/// first snapshot is in force. Returns the exit code.
pub(crate) async fn serve(
    config: &Config,
    shutdown: ShutdownRequests,
    on_ready: impl FnOnce(&Proxy),
    err: &mut dyn Write,
) -> i32 {
    serve_front(
        config,
        shutdown,
        Front::Sidecar,
        on_ready,
        err,
        |proxy, auth, files, stop| async move { proxy.run(&auth, files, stop).await },
    )
    .await
}

/// What serves once everything is loaded: the sidecar's listener, or `trellis authz`'s front
/// doors. It gets the bound proxy, the auth layers' inputs, the `/policy` source and the
/// future that resolves when serving must stop.
pub(crate) type StopSignal = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Which command serves: it names the command in every message, and only the sidecar has an
/// upstream to announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Front {
    Sidecar,
    Authz,
}

impl Front {
    fn command(self) -> &'static str {
        match self {
            Front::Sidecar => "trellis run",
            Front::Authz => "trellis authz",
        }
    }
}

/// [`serve`] with `serve` (`trellis authz`'s front doors) in place of the sidecar's listener.
pub(crate) async fn serve_front<F, Fut>(
    config: &Config,
    mut shutdown: ShutdownRequests,
    front: Front,
    on_ready: impl FnOnce(&Proxy),
    err: &mut dyn Write,
    serve: F,
) -> i32
where
    F: FnOnce(Proxy, Auth, crate::admin::FilesSource, StopSignal) -> Fut,
    Fut: std::future::Future<
        Output = Result<crate::server::ShutdownReport, crate::proxy::ServeError>,
    >,
{
    for w in config.warnings() {
        let _ = writeln!(err, "{}: {w}", front.command());
    }
    let cert = match &config.tls {
        Some((cert, key)) => match ReloadableCert::load(cert, key) {
            Ok(c) => Some(c),
            Err(e) => {
                let _ = writeln!(err, "{}: {e}", front.command());
                return EXIT_INVALID;
            }
        },
        None => None,
    };
    let tls = match cert.as_ref().map(ReloadableCert::server_config).transpose() {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(err, "{}: {e}", front.command());
            return EXIT_INVALID;
        }
    };
    let proxy = match Proxy::bind(config.proxy_config(tls)).await {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(err, "{}: {e}", front.command());
            return EXIT_INVALID;
        }
    };
    if let Some(cert) = &cert {
        if let Err(e) = proxy.metrics().enable_tls(cert.not_after()) {
            let _ = writeln!(err, "{}: {e}", front.command());
            return EXIT_INVALID;
        }
    }
    let handle = match SnapshotHandle::load_initial_reporting(
        config.snapshot.clone(),
        config.shadow.clone(),
        proxy.metrics().clone(),
        proxy.readiness().clone(),
        Reporter::stderr(),
    ) {
        Ok(h) => h,
        Err(errors) => {
            for e in &errors {
                let _ = writeln!(err, "{e}");
            }
            let _ = writeln!(
                err,
                "{}: cannot start: fix the policy and principals files above",
                front.command()
            );
            return EXIT_INVALID;
        }
    };
    let reload_config = |files| ReloadConfig {
        files,
        poll: config.reload_poll,
        debounce: RELOAD_DEBOUNCE,
        events: true,
    };
    let mut files = config.snapshot.files();
    files.extend(config.shadow.files());
    let policy_watcher = if files.is_empty() {
        None
    } else {
        let reloader = handle.clone();
        match reload::spawn(reload_config(files), move |_cause| {
            let _ = reloader.reload();
        }) {
            Ok(w) => Some(w),
            Err(e) => {
                let _ = writeln!(err, "{}: {e}", front.command());
                return EXIT_INVALID;
            }
        }
    };
    let tls_watcher = match cert {
        None => None,
        Some(cert) => {
            let metrics = Arc::clone(proxy.metrics());
            match reload::spawn(reload_config(cert.files()), move |_cause| {
                reload_tls(&cert, &metrics);
            }) {
                Ok(w) => Some(w),
                Err(e) => {
                    let _ = writeln!(err, "{}: {e}", front.command());
                    return EXIT_INVALID;
                }
            }
        }
    };
    // SIGHUP is always handled, whatever is configured: its default action ends the process.
    let policy_trigger = policy_watcher.as_ref().map(ReloadHandle::trigger_fn);
    let tls_trigger = tls_watcher.as_ref().map(ReloadHandle::trigger_fn);
    let reopen = proxy.access_log_reopener();
    let reopen_decisions = proxy.decision_log_reopener();
    let on_hup = move || {
        policy_trigger
            .iter()
            .chain(tls_trigger.iter())
            .for_each(|t| t());
        reopen.reopen();
        reopen_decisions.iter().for_each(AccessLogReopen::reopen);
    };
    if let Err(e) = crate::signals::forward_sighup(on_hup) {
        let _ = writeln!(err, "{}: {e}; SIGHUP will not reload", front.command());
    }
    let listen = proxy
        .local_addr()
        .map_or_else(|_| config.listen.to_string(), |a| a.to_string());
    let admin = proxy
        .admin_addr()
        .map_or_else(|| "off".to_owned(), |a| a.to_string());
    if front == Front::Sidecar {
        let _ = writeln!(
            err,
            "trellis: serving {listen} -> {} (admin {admin}, mode {}, {} workers)",
            config.upstream,
            config.mode.as_str(),
            config.workers
        );
    }
    on_ready(&proxy);
    let mut settings = config.auth_settings();
    if let Some(sts) = &config.sts {
        let verifier = crate::sts::StsMetrics::register(proxy.metrics().registry())
            .map_err(|e| e.to_string())
            .and_then(|m| {
                crate::sts::TokenVerifier::new(sts, config.max_clock_skew, m)
                    .map_err(|e| e.to_string())
            });
        match verifier {
            Ok(v) => settings.sts = Some(Arc::new(v)),
            Err(e) => {
                let _ = writeln!(err, "{}: `--sts-audience`: {e}", front.command());
                return EXIT_INVALID;
            }
        }
    }
    let auth = Auth::new(handle.shared(), settings);
    let ready = proxy.readiness().clone();
    let delay = config.shutdown_delay;
    let stop = Box::pin(async move {
        serve_until_shutdown(&mut shutdown, &ready, delay, &mut |line| {
            eprintln!("{line}")
        })
        .await;
    });
    let result = serve(proxy, auth, handle.files_source(), stop).await;
    drop((policy_watcher, tls_watcher));
    match result {
        Ok(report) => {
            let _ = writeln!(
                err,
                "trellis: shut down: {} connections drained, {} cut at the drain timeout",
                report.drained, report.cut
            );
            EXIT_OK
        }
        Err(e) => {
            let _ = writeln!(err, "trellis: {e}");
            EXIT_INVALID
        }
    }
}
