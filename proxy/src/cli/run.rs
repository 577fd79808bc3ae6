//! `trellis run`: bind, load the first snapshot (or refuse to start), watch the files, serve
//! until SIGTERM/SIGINT, drain, report.

use std::io::Write;
use std::time::Duration;

use crate::config::Config;
use crate::layers::auth::auth_layers;
use crate::proxy::Proxy;
use crate::snapshot::SnapshotHandle;
use crate::watch::{self, WatchConfig};

use super::{EXIT_INVALID, EXIT_OK};

/// Quiet time that ends a burst of file events (an editor's or kubelet's rename dance). Both
/// finish within a millisecond or two; the quiet time adds directly to how long a policy
/// change takes to be in force, so it stays short. Settling too early is harmless: the files
/// are hashed and reloaded again on the next event, and a half-written file is rejected with
/// the last good snapshot kept.
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(25);

pub(crate) fn run(config: &Config, err: &mut dyn Write) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(err, "trellis run: cannot start the async runtime: {e}");
            return EXIT_INVALID;
        }
    };
    runtime.block_on(async {
        let shutdown = match crate::signals::shutdown_signal() {
            Ok(s) => s,
            Err(e) => {
                let _ = writeln!(err, "trellis run: {e}");
                return EXIT_INVALID;
            }
        };
        serve(config, shutdown, |_| {}, err).await
    })
}

/// Serves `config` until `shutdown`; `on_ready` is called with the bound proxy's addresses
/// once the first snapshot is in force. Returns the exit code.
pub(crate) async fn serve(
    config: &Config,
    shutdown: impl std::future::Future<Output = ()>,
    on_ready: impl FnOnce(&Proxy),
    err: &mut dyn Write,
) -> i32 {
    for w in config.warnings() {
        let _ = writeln!(err, "trellis run: {w}");
    }
    let tls = match &config.tls {
        Some((cert, key)) => match crate::tls::server_config_from_pem(cert, key) {
            Ok(t) => Some(t),
            Err(e) => {
                let _ = writeln!(err, "trellis run: {e}");
                return EXIT_INVALID;
            }
        },
        None => None,
    };
    let proxy = match Proxy::bind(config.proxy_config(tls)).await {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(err, "trellis run: {e}");
            return EXIT_INVALID;
        }
    };
    let handle = match SnapshotHandle::load_initial(
        config.snapshot.clone(),
        proxy.metrics().clone(),
        proxy.readiness().clone(),
    ) {
        Ok(h) => h,
        Err(errors) => {
            for e in &errors {
                let _ = writeln!(err, "{e}");
            }
            let _ = writeln!(
                err,
                "trellis run: cannot start: fix the policy and principals files above"
            );
            return EXIT_INVALID;
        }
    };
    let files = config.snapshot.files();
    let _watcher = if files.is_empty() {
        None
    } else {
        let reloader = handle.clone();
        let watch_config = WatchConfig {
            files,
            poll: config.reload_poll,
            debounce: RELOAD_DEBOUNCE,
            events: true,
        };
        match watch::spawn(watch_config, move |_cause| {
            let _ = reloader.reload();
        }) {
            Ok(w) => {
                if let Err(e) = crate::signals::forward_sighup(w.trigger_fn()) {
                    let _ = writeln!(err, "trellis run: {e}; SIGHUP will not reload");
                }
                Some(w)
            }
            Err(e) => {
                let _ = writeln!(err, "trellis run: {e}");
                return EXIT_INVALID;
            }
        }
    };
    let listen = proxy
        .local_addr()
        .map_or_else(|_| config.listen.to_string(), |a| a.to_string());
    let admin = proxy
        .admin_addr()
        .map_or_else(|| "off".to_owned(), |a| a.to_string());
    let _ = writeln!(
        err,
        "trellis: serving {listen} -> {} (admin {admin}, mode {})",
        config.upstream,
        config.mode.as_str()
    );
    on_ready(&proxy);
    let layers = auth_layers(handle.shared(), config.auth_settings());
    match proxy.run(&layers, handle.files_source(), shutdown).await {
        Ok(report) => {
            let _ = writeln!(
                err,
                "trellis: shut down: {} connections drained, {} cut at the drain timeout",
                report.drained, report.cut
            );
            EXIT_OK
        }
        Err(e) => {
            let _ = writeln!(err, "trellis: flushing the access log failed: {e}");
            EXIT_INVALID
        }
    }
}
