//! The progress bar on stderr for long interactive runs.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::client::Shared;

/// Draws elapsed time against the run's length, with responses and the current rate, every
/// 200 ms until aborted. The bar is cleared when the task is dropped.
pub async fn show(shared: Arc<Shared>, start: Instant, total: Duration) {
    let bar =
        ProgressBar::with_draw_target(Some(total.as_millis() as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {msg}") {
        bar.set_style(style);
    }
    let _clear = Clear(bar.clone());
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut last = (Instant::now(), 0u64);
    loop {
        tick.tick().await;
        let now = Instant::now();
        let done = shared.progress.load(Ordering::Relaxed);
        let rate = (done - last.1) as f64 / now.duration_since(last.0).as_secs_f64().max(1e-3);
        last = (now, done);
        let elapsed = now.duration_since(start);
        bar.set_position(elapsed.as_millis() as u64);
        bar.set_message(format!(
            "{:.0}/{:.0} s  {done} responses  {rate:.0} rps",
            elapsed.as_secs_f64().min(total.as_secs_f64()),
            total.as_secs_f64()
        ));
    }
}

struct Clear(ProgressBar);

impl Drop for Clear {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
