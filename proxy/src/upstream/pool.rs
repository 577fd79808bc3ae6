//! The per-thread free lists of upstream connections.
//!
//! Why thread-local: a warm checkout must take no lock and allocate nothing. The data plane
//! runs one current-thread runtime per worker, and each worker builds its own [`Upstream`];
//! its requests are only ever polled on its thread, so a `thread_local!` free list keyed by
//! the upstream's id is that worker's pool, reached with a `RefCell` borrow instead of a
//! mutex. Under a multi-thread runtime it stays correct and simply becomes a pool per thread
//! (a connection checked out on one thread may come back on another: it then joins that
//! thread's list). No hashing either: a thread holds one entry per live upstream, usually one,
//! found by a linear scan.
//!
//! What crosses threads is per connection, not per request: the [`ConnState`] the
//! connection's driver task shares with its sender (idle since when, closed), allocated once
//! at connect. The driver closes the socket itself when the connection stays idle past
//! `pool_idle_timeout` or when the upstream is dropped ([`PoolShared::drain`]), so idle
//! sockets close without anyone checking the list.
//!
//! [`Upstream`]: super::Upstream

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use hyper::client::conn::{http1, http2};
use tokio::sync::Notify;

use super::body::{OutBody, Release};

/// What every connection of one upstream shares with it.
#[derive(Debug)]
pub(crate) struct PoolShared {
    /// The key of this upstream's entry in each thread's list.
    pub(crate) id: u64,
    pub(crate) idle_timeout: Duration,
    /// Idle HTTP/1.1 connections kept per thread; a connection coming back to a full list
    /// is closed.
    pub(crate) max_idle: usize,
    /// Set when the upstream is dropped: connections are no longer kept.
    pub(crate) closed: AtomicBool,
    /// Wakes every driver when the upstream is dropped, so idle connections close now.
    pub(crate) drain: Notify,
    epoch: Instant,
}

impl PoolShared {
    pub(crate) fn new(idle_timeout: Duration, max_idle: usize) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            idle_timeout,
            max_idle,
            closed: AtomicBool::new(false),
            drain: Notify::new(),
            epoch: Instant::now(),
        }
    }

    /// Now, in nanoseconds since the pool was made, never [`BUSY`] nor [`CLOSED`].
    fn ticks(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos())
            .unwrap_or(CLOSED - 1)
            .saturating_add(1)
            .min(CLOSED - 1)
    }

    fn idle_ticks(&self) -> u64 {
        u64::try_from(self.idle_timeout.as_nanos()).unwrap_or(u64::MAX)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// [`ConnState::idle_since`] of a connection in use.
const BUSY: u64 = 0;
/// [`ConnState::idle_since`] of a connection its driver closed.
const CLOSED: u64 = u64::MAX;

/// One HTTP/1.1 connection's state, shared by its sender and its driver task.
#[derive(Debug)]
pub(crate) struct ConnState {
    /// [`BUSY`], [`CLOSED`], or the pool tick at which it became idle.
    idle_since: AtomicU64,
}

impl ConnState {
    fn new() -> Self {
        Self {
            idle_since: AtomicU64::new(BUSY),
        }
    }

    /// Takes an idle connection for a request; false if it has been idle too long (it is
    /// then marked closed) or its driver closed it.
    fn acquire(&self, now: u64, idle: u64) -> bool {
        let since = self.idle_since.load(Ordering::Acquire);
        if since == BUSY || since == CLOSED {
            return false;
        }
        if now.saturating_sub(since) >= idle {
            let _ = self.idle_since.compare_exchange(
                since,
                CLOSED,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
            return false;
        }
        self.idle_since
            .compare_exchange(since, BUSY, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Marks an idle connection closed (by its driver); false if it is in use.
    fn close_if_idle(&self) -> bool {
        let since = self.idle_since.load(Ordering::Acquire);
        since != BUSY
            && (since == CLOSED
                || self
                    .idle_since
                    .compare_exchange(since, CLOSED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok())
    }
}

/// A pooled HTTP/1.1 connection: its sender and what it shares with its driver. Boxed once at
/// connect, then the box itself moves between the free list and the response body's lease.
#[derive(Debug)]
pub(crate) struct H1Conn<B> {
    pub(crate) sender: http1::SendRequest<OutBody<B>>,
    pub(crate) remote: SocketAddr,
    state: Arc<ConnState>,
    shared: Arc<PoolShared>,
}

impl<B> H1Conn<B> {
    /// A new connection in use, and the state its driver watches.
    pub(crate) fn new(
        sender: http1::SendRequest<OutBody<B>>,
        remote: SocketAddr,
        shared: &Arc<PoolShared>,
    ) -> (Box<Self>, Arc<ConnState>) {
        let state = Arc::new(ConnState::new());
        let conn = Box::new(Self {
            sender,
            remote,
            state: Arc::clone(&state),
            shared: Arc::clone(shared),
        });
        (conn, state)
    }
}

impl<B: Send + 'static> Release for H1Conn<B> {
    fn release(self: Box<Self>) {
        if self.shared.is_closed() || self.sender.is_closed() {
            return;
        }
        let shared = Arc::clone(&self.shared);
        self.state
            .idle_since
            .store(shared.ticks(), Ordering::Release);
        let max_idle = shared.max_idle;
        with::<B, _>(&shared, move |pool| {
            if pool.idle.len() < max_idle {
                pool.idle.push(self);
            }
        });
    }
}

/// The multiplexed HTTP/2 connection of a thread.
#[derive(Debug)]
pub(crate) struct H2Conn<B> {
    pub(crate) sender: http2::SendRequest<OutBody<B>>,
    pub(crate) remote: SocketAddr,
}

/// A connection attempt other requests of the thread wait for (HTTP/2: one connection).
#[derive(Debug, Default)]
pub(crate) struct Connecting {
    done: AtomicBool,
    notify: Notify,
}

impl Connecting {
    /// Whether the attempt has ended.
    pub(crate) fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Waits until the attempt ends, whatever its outcome.
    pub(crate) async fn wait(&self) {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if !self.done.load(Ordering::Acquire) {
            notified.await;
        }
    }
}

/// Ends a [`Connecting`] attempt when dropped: succeeded, failed or cancelled.
#[derive(Debug)]
pub(crate) struct ConnectingGuard(pub(crate) Arc<Connecting>);

impl Drop for ConnectingGuard {
    fn drop(&mut self) {
        self.0.done.store(true, Ordering::Release);
        self.0.notify.notify_waiters();
    }
}

/// One thread's connections to one upstream.
#[derive(Debug)]
pub(crate) struct ThreadPool<B> {
    /// Idle HTTP/1.1 connections, the most recently used last (taken first: the warmest).
    #[allow(
        clippy::vec_box,
        reason = "the box moves between this list and a response's lease, never reallocated"
    )]
    idle: Vec<Box<H1Conn<B>>>,
    pub(crate) h2: Option<H2Conn<B>>,
    pub(crate) h2_connecting: Option<Arc<Connecting>>,
}

struct Entry {
    id: u64,
    shared: Weak<PoolShared>,
    pool: Box<dyn Any>,
}

thread_local! {
    static POOLS: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's pool of `shared`, made on first use; `None` while the thread
/// is being torn down.
pub(crate) fn with<B: 'static, R>(
    shared: &Arc<PoolShared>,
    f: impl FnOnce(&mut ThreadPool<B>) -> R,
) -> Option<R> {
    POOLS
        .try_with(|pools| {
            let mut pools = pools.try_borrow_mut().ok()?;
            let at = match pools.iter().position(|e| e.id == shared.id) {
                Some(at) => at,
                None => {
                    // Entries of dropped upstreams go when a new one arrives.
                    pools.retain(|e| e.shared.upgrade().is_some_and(|s| !s.is_closed()));
                    pools.push(Entry {
                        id: shared.id,
                        shared: Arc::downgrade(shared),
                        pool: Box::new(ThreadPool::<B> {
                            idle: Vec::new(),
                            h2: None,
                            h2_connecting: None,
                        }),
                    });
                    pools.len() - 1
                }
            };
            let pool = pools.get_mut(at)?.pool.downcast_mut::<ThreadPool<B>>()?;
            Some(f(pool))
        })
        .ok()
        .flatten()
}

/// Drops this thread's connections of the upstream `id` (the upstream is gone): idle HTTP/1.1
/// connections and the HTTP/2 sender close.
pub(crate) fn forget(id: u64) {
    let removed = POOLS
        .try_with(|pools| {
            let mut pools = pools.try_borrow_mut().ok()?;
            let at = pools.iter().position(|e| e.id == id)?;
            Some(pools.swap_remove(at))
        })
        .ok()
        .flatten();
    // Dropped outside the borrow.
    drop(removed);
}

/// The warmest idle HTTP/1.1 connection still usable; stale and closed ones are dropped.
pub(crate) fn checkout_h1<B: 'static>(shared: &Arc<PoolShared>) -> Option<Box<H1Conn<B>>> {
    let now = shared.ticks();
    let idle = shared.idle_ticks();
    with::<B, _>(shared, |pool| {
        while let Some(conn) = pool.idle.pop() {
            if !conn.sender.is_closed() && conn.state.acquire(now, idle) {
                return Some(conn);
            }
        }
        None
    })
    .flatten()
}

/// How many idle HTTP/1.1 connections this thread keeps for `shared`.
#[cfg(test)]
pub(crate) fn idle_count<B: 'static>(shared: &Arc<PoolShared>) -> usize {
    with::<B, _>(shared, |pool| pool.idle.len()).unwrap_or(0)
}

/// Runs an HTTP/1.1 connection until it ends, closing it once idle past the idle timeout or
/// when the upstream is dropped.
pub(crate) async fn drive_h1<C>(conn: C, state: Arc<ConnState>, shared: Arc<PoolShared>)
where
    C: Future,
{
    let idle = shared.idle_timeout;
    tokio::pin!(conn);
    let sleep = tokio::time::sleep(idle);
    tokio::pin!(sleep);
    loop {
        let drained = shared.drain.notified();
        tokio::pin!(drained);
        drained.as_mut().enable();
        if shared.is_closed() {
            if state.close_if_idle() {
                return;
            }
            // In use: served to its end; its release then drops the sender, which ends it.
            conn.await;
            return;
        }
        tokio::select! {
            _ = &mut conn => return,
            () = &mut sleep => {
                let since = state.idle_since.load(Ordering::Acquire);
                let now = shared.ticks();
                let idle_for = Duration::from_nanos(now.saturating_sub(since));
                if since == CLOSED || (since != BUSY && idle_for >= idle && state.close_if_idle()) {
                    return;
                }
                let wait = if since == BUSY { idle } else { idle.saturating_sub(idle_for) };
                sleep.as_mut().reset(tokio::time::Instant::now() + wait);
            }
            () = &mut drained => {}
        }
    }
}
