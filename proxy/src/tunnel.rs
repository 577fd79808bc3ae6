//! Upgraded (WebSocket) connections. After a `101` the request's connection becomes a tunnel
//! copying bytes both ways; it is still a caller connection, so it runs in the listener's
//! connection task rather than a task of its own: it keeps holding its `--max-connections`
//! permit and is cut at the drain deadline on shutdown like any connection.
//!
//! `Forward` cannot reach the connection task directly, so the server leaves a [`TunnelSlot`]
//! in the extensions of each request that may upgrade; `Forward` puts the tunnel there before
//! it hands the `101` to hyper, and the connection task runs it once hyper gives up the
//! connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::activity::{Activity, ActivityIo};

/// The work of one tunnel.
pub(crate) type Tunnel = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Where `Forward` leaves the tunnel of an upgraded request for its connection task (at most
/// one: an upgrade ends the connection's HTTP).
#[derive(Clone, Default)]
pub(crate) struct TunnelSlot(Arc<Mutex<Option<Tunnel>>>);

impl std::fmt::Debug for TunnelSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TunnelSlot")
    }
}

impl TunnelSlot {
    /// Leaves `tunnel` for the connection task.
    pub(crate) fn put(&self, tunnel: Tunnel) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(tunnel);
        }
    }

    /// The tunnel left by `Forward`, if the connection was upgraded.
    pub(crate) fn take(&self) -> Option<Tunnel> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Copies bytes both ways until either side closes or nothing moves for `idle`.
pub(crate) async fn copy_until_idle(client: OnUpgrade, upstream: OnUpgrade, idle: Duration) {
    let (client, upstream) = tokio::join!(client, upstream);
    let (Ok(client), Ok(upstream)) = (client, upstream) else {
        return;
    };
    let activity = Activity::new();
    let mut client = ActivityIo::new(TokioIo::new(client), activity.clone());
    let mut upstream = TokioIo::new(upstream);
    let copy = tokio::io::copy_bidirectional(&mut client, &mut upstream);
    tokio::pin!(copy);
    loop {
        tokio::select! {
            // Either side closing ends the tunnel; an error (a reset) has no one to report to.
            _ = &mut copy => return,
            () = tokio::time::sleep(activity.remaining(idle)) => {
                if activity.remaining(idle).is_zero() {
                    return;
                }
            }
        }
    }
}
