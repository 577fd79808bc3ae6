//! Process signals: SIGTERM/SIGINT start a graceful shutdown, SIGHUP forces a reload.

/// The signal handlers cannot be installed.
#[derive(Debug, thiserror::Error)]
#[error("cannot install signal handlers: {0}")]
pub struct SignalError(#[from] std::io::Error);

/// Resolves at the first SIGTERM or SIGINT.
pub fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, SignalError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// Calls `trigger` on every SIGHUP (e.g. [`crate::watch::WatchHandle::trigger_fn`]).
pub fn forward_sighup(
    trigger: impl Fn() + Send + 'static,
) -> Result<tokio::task::JoinHandle<()>, SignalError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        while hup.recv().await.is_some() {
            trigger();
        }
    }))
}
