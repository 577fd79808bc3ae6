//! Process signals: SIGTERM/SIGINT start a graceful shutdown, SIGHUP forces a reload.
//!
//! The shutdown of `trellis run` has two steps. First the proxy announces it is going away
//! (`/readyz` answers 503) while it keeps serving for `--shutdown-delay`: Kubernetes removes a
//! terminating pod from its Service endpoints and load balancers deregister a target only
//! after they notice, and until then they keep sending new connections. Closing the listener at
//! once refuses those. Then the listener closes and in-flight requests drain. A second
//! SIGTERM/SIGINT skips what is left of the delay (an operator's Ctrl-C twice).

use std::time::Duration;

use tokio::sync::mpsc;

use crate::admin::Readiness;

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

/// Every SIGTERM and SIGINT, one [`ShutdownRequests::next`] each (or requests sent through a
/// channel, for embedders and tests).
#[derive(Debug)]
pub struct ShutdownRequests {
    source: Source,
}

#[derive(Debug)]
enum Source {
    Signals {
        term: tokio::signal::unix::Signal,
        int: tokio::signal::unix::Signal,
    },
    Channel(mpsc::UnboundedReceiver<()>),
}

impl ShutdownRequests {
    /// Installs the SIGTERM and SIGINT handlers (from now on neither ends the process by
    /// itself).
    pub fn install() -> Result<Self, SignalError> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            source: Source::Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            },
        })
    }

    /// Requests sent on the returned sender, one per `send(())`.
    pub fn channel() -> (mpsc::UnboundedSender<()>, Self) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            tx,
            Self {
                source: Source::Channel(rx),
            },
        )
    }

    /// Waits for the next request; never resolves once no request can come any more.
    pub async fn next(&mut self) {
        let more = match &mut self.source {
            Source::Signals { term, int } => tokio::select! {
                s = term.recv() => s.is_some(),
                s = int.recv() => s.is_some(),
            },
            Source::Channel(rx) => rx.recv().await.is_some(),
        };
        if !more {
            std::future::pending::<()>().await;
        }
    }
}

/// The first step of the shutdown: waits for the first request, marks `ready` as shutting
/// down, keeps serving for `delay` (cut short by another request), and then resolves: the
/// listener stops accepting and the drain begins. `log` gets one line per step.
pub async fn serve_until_shutdown(
    requests: &mut ShutdownRequests,
    ready: &Readiness,
    delay: Duration,
    log: &mut (dyn FnMut(&str) + Send),
) {
    requests.next().await;
    ready.begin_shutdown();
    if delay.is_zero() {
        log("trellis: shutting down: no longer accepting connections, draining");
        return;
    }
    log(&format!(
        "trellis: shutting down: /readyz answers 503; serving {} ms more so load balancers stop sending, then draining (signal again to skip)",
        delay.as_millis()
    ));
    tokio::select! {
        () = tokio::time::sleep(delay) => {
            log("trellis: shutdown delay over: no longer accepting connections, draining");
        }
        () = requests.next() => {
            log("trellis: second shutdown signal: skipping the shutdown delay, draining");
        }
    }
}

/// Calls `trigger` on every SIGHUP (e.g. [`crate::reload::ReloadHandle::trigger_fn`]).
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn logger() -> (
        std::sync::Arc<std::sync::Mutex<Vec<String>>>,
        impl FnMut(&str) + Send,
    ) {
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&lines);
        (lines, move |l: &str| {
            sink.lock().unwrap().push(l.to_owned())
        })
    }

    #[tokio::test]
    async fn the_first_shutdown_signal_fails_readiness_and_serving_goes_on_for_the_delay() {
        let (tx, mut requests) = ShutdownRequests::channel();
        let ready = Readiness::new();
        ready.set(true);
        let (lines, mut log) = logger();
        let seq_ready = ready.clone();
        let sequence = tokio::spawn(async move {
            serve_until_shutdown(
                &mut requests,
                &seq_ready,
                Duration::from_millis(400),
                &mut log,
            )
            .await;
            Instant::now()
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(ready.is_ready(), "no signal yet");
        assert!(!sequence.is_finished());
        let signalled = Instant::now();
        tx.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!ready.is_ready());
        assert!(ready.is_shutting_down());
        assert!(!sequence.is_finished(), "still serving during the delay");
        let ended = tokio::time::timeout(Duration::from_secs(5), sequence)
            .await
            .unwrap()
            .unwrap();
        assert!(ended - signalled >= Duration::from_millis(400));
        let lines = lines.lock().unwrap();
        assert!(lines[0].contains("/readyz answers 503"), "{lines:?}");
        assert!(lines[1].contains("delay over"), "{lines:?}");
    }

    #[tokio::test]
    async fn a_second_shutdown_signal_skips_the_delay() {
        let (tx, mut requests) = ShutdownRequests::channel();
        let ready = Readiness::new();
        let (lines, mut log) = logger();
        tx.send(()).unwrap();
        let sender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            tx.send(()).unwrap();
            tx
        });
        let started = Instant::now();
        tokio::time::timeout(
            Duration::from_secs(10),
            serve_until_shutdown(&mut requests, &ready, Duration::from_secs(60), &mut log),
        )
        .await
        .expect("the second signal ends the delay");
        assert!(started.elapsed() >= Duration::from_millis(100));
        drop(sender.await.unwrap());
        assert!(lines.lock().unwrap()[1].contains("second shutdown signal"));
    }

    #[tokio::test]
    async fn without_a_delay_the_listener_stops_at_the_first_signal() {
        let (tx, mut requests) = ShutdownRequests::channel();
        let ready = Readiness::new();
        ready.set(true);
        let (_, mut log) = logger();
        tx.send(()).unwrap();
        tokio::time::timeout(
            Duration::from_millis(100),
            serve_until_shutdown(&mut requests, &ready, Duration::ZERO, &mut log),
        )
        .await
        .expect("no delay");
        assert!(!ready.is_ready());
    }
}
