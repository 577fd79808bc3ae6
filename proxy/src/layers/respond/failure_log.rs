//! Where the detail of the proxy's own failures goes: standard error, one line each, written
//! by a thread of its own through a bounded queue, so a request never waits on a slow stderr
//! (a flood of `502`s while the service is down must not stall the workers). When the queue is
//! full, lines are dropped and the next line written says how many.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::OnceLock;

/// Lines waiting to be written.
const QUEUE: usize = 1024;

static SENDER: OnceLock<Option<SyncSender<String>>> = OnceLock::new();
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Queues `line` for standard error; never blocks.
pub(crate) fn report(line: String) {
    let Some(sender) = SENDER.get_or_init(start) else {
        return;
    };
    if sender.try_send(line).is_err() {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

fn start() -> Option<SyncSender<String>> {
    let (sender, receiver) = sync_channel::<String>(QUEUE);
    std::thread::Builder::new()
        .name("trellis-failure-log".to_owned())
        .spawn(move || {
            for line in receiver {
                let mut err = std::io::stderr().lock();
                let dropped = DROPPED.swap(0, Ordering::Relaxed);
                if dropped > 0 {
                    let _ = writeln!(
                        err,
                        "trellis: {dropped} failure lines dropped: standard error is not read fast enough"
                    );
                }
                let _ = writeln!(err, "{line}");
            }
        })
        .ok()?;
    Some(sender)
}
