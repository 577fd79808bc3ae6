//! Real process signals: SIGHUP forwards to a reload trigger, SIGTERM starts the shutdown.
//! Its own test binary, so the signals reach only this process's handlers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a panic is a failed test"
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn kill(signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(std::process::id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn sighup_triggers_and_sigterm_shuts_down() {
    // Handlers first: without them the default action would end the test process.
    let hups = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hups);
    let _hup = trellis::signals::forward_sighup(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    let shutdown = trellis::signals::shutdown_signal().unwrap();

    kill("HUP");
    tokio::time::timeout(Duration::from_secs(5), async {
        while hups.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("SIGHUP must reach the trigger");
    assert_eq!(hups.load(Ordering::SeqCst), 1);

    let waiting = tokio::spawn(shutdown);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "nothing asked for shutdown yet");
    kill("TERM");
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("SIGTERM must start the shutdown")
        .unwrap();
}
