//! The reload trigger, generic over what is reloaded: file events in the watched files'
//! directories, polling, and explicit triggers (SIGHUP), debounced, with the reload run off the
//! request path.
//!
//! Directories are watched rather than files because Kubernetes ConfigMap/Secret volumes swap a
//! `..data` symlink and editors replace files by rename: a watch on the file itself would follow
//! the old inode and miss the change. Every event only means "check": after a quiet period the
//! files' SHA-256 are compared with the last seen ones, so unrelated events in the same
//! directory (or a touch without change) cause no reload, and a burst causes exactly one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use self::reloader::Reloader;

mod reloader;

/// Why a reload runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadCause {
    /// A watched file's content changed (seen by an event or by polling).
    Changed,
    /// Forced (SIGHUP or [`ReloadHandle::trigger`]), whether or not anything changed.
    Forced,
}

/// What to watch and how.
#[derive(Debug, Clone)]
pub struct ReloadConfig {
    /// The files whose content matters.
    pub files: Vec<PathBuf>,
    /// Re-check every this often (`--reload-poll`); `None` disables polling.
    pub poll: Option<Duration>,
    /// Quiet time that ends a burst of events.
    pub debounce: Duration,
    /// Whether to use file-system events (off: polling and triggers only).
    pub events: bool,
}

impl ReloadConfig {
    /// Events on, polling every 10 s, 200 ms debounce.
    pub fn new(files: Vec<PathBuf>) -> Self {
        Self {
            files,
            poll: Some(Duration::from_secs(10)),
            debounce: Duration::from_millis(200),
            events: true,
        }
    }
}

/// The watcher cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The OS refused a directory watch (e.g. the inotify watch limit).
    #[error("cannot watch directory `{dir}`: {source}; raise fs.inotify.max_user_watches or rely on `--reload-poll`")]
    Watch {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        source: notify::Error,
    },
}

/// Keeps the watcher alive; dropping it stops watching.
#[derive(Debug)]
pub struct ReloadHandle {
    trigger: mpsc::Sender<Signal>,
    task: JoinHandle<()>,
    _events: Option<RecommendedWatcher>,
}

#[derive(Debug, Clone, Copy)]
enum Signal {
    Event,
    Force,
}

impl ReloadHandle {
    /// Forces a reload, as SIGHUP does.
    pub fn trigger(&self) {
        let _ = self.trigger.try_send(Signal::Force);
    }

    /// A sender for [`crate::signals::forward_sighup`] and other trigger sources.
    pub fn trigger_fn(&self) -> impl Fn() + Send + Sync + 'static {
        let tx = self.trigger.clone();
        move || {
            let _ = tx.try_send(Signal::Force);
        }
    }
}

impl Drop for ReloadHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// SHA-256 of each file, `None` when it cannot be read (missing during a swap).
pub fn hash_files(files: &[PathBuf]) -> Vec<Option<[u8; 32]>> {
    files
        .iter()
        .map(|f| {
            std::fs::read(f)
                .ok()
                .map(|data| Sha256::digest(&data).into())
        })
        .collect()
}

fn relevant(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        // Opens and reads (including our own hashing) change nothing.
        EventKind::Access(_) => false,
        _ => true,
    }
}

fn directories(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    files
        .iter()
        .map(|f| match f.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => Path::new(".").to_path_buf(),
        })
        .collect()
}

/// Starts watching; `reload` runs on the blocking pool, one call at a time, after the initial
/// contents (read now) change or a trigger arrives. The caller does the initial load itself.
pub fn spawn<F>(config: ReloadConfig, reload: F) -> Result<ReloadHandle, ReloadError>
where
    F: Fn(ReloadCause) + Send + Sync + 'static,
{
    let (tx, rx) = mpsc::channel(64);
    let events = if config.events {
        let event_tx = tx.clone();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(event) = res {
                if relevant(&event.kind) {
                    // A full queue already holds a pending check.
                    let _ = event_tx.try_send(Signal::Event);
                }
            }
        })
        .map_err(|source| ReloadError::Watch {
            dir: PathBuf::new(),
            source,
        })?;
        for dir in directories(&config.files) {
            watcher
                .watch(&dir, RecursiveMode::NonRecursive)
                .map_err(|source| ReloadError::Watch {
                    dir: dir.clone(),
                    source,
                })?;
        }
        Some(watcher)
    } else {
        None
    };
    let initial = hash_files(&config.files);
    let task = tokio::spawn(run(config, initial, rx, Arc::new(reload)));
    Ok(ReloadHandle {
        trigger: tx,
        task,
        _events: events,
    })
}

async fn run<F>(
    config: ReloadConfig,
    mut seen: Vec<Option<[u8; 32]>>,
    mut rx: mpsc::Receiver<Signal>,
    reload: Arc<F>,
) where
    F: Fn(ReloadCause) + Send + Sync + 'static,
{
    let files: Arc<[PathBuf]> = config.files.into();
    let reloader = Reloader::start(Arc::clone(&reload));
    let mut poll = config.poll.filter(|d| !d.is_zero()).map(|d| {
        let mut i = tokio::time::interval_at(tokio::time::Instant::now() + d, d);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    });
    loop {
        let first = tokio::select! {
            s = rx.recv() => match s {
                Some(s) => s,
                None => return,
            },
            _ = async {
                match poll.as_mut() {
                    Some(p) => p.tick().await,
                    None => std::future::pending().await,
                }
            } => Signal::Event,
        };
        let mut forced = matches!(first, Signal::Force);
        // Wait for the burst to settle.
        loop {
            match tokio::time::timeout(config.debounce, rx.recv()).await {
                Ok(Some(Signal::Force)) => forced = true,
                Ok(Some(Signal::Event)) => {}
                Ok(None) => return,
                Err(_) => break,
            }
        }
        let hash_files_of = Arc::clone(&files);
        let Ok(now) = tokio::task::spawn_blocking(move || hash_files(&hash_files_of)).await else {
            continue;
        };
        let changed = now != seen;
        seen = now;
        let cause = match (forced, changed) {
            (true, _) => ReloadCause::Forced,
            (false, true) => ReloadCause::Changed,
            (false, false) => continue,
        };
        // One reload at a time, on the low-priority reload thread.
        reloader.run(cause, &reload).await;
    }
}

#[cfg(test)]
mod tests;
