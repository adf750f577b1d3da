//! A server at run time: health state, counters, `maxconn` slots and the pool of idle
//! connections to it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use tokio::sync::{watch, Semaphore};

use super::pool::IdlePool;
use super::updown::UpDownClock;
use crate::config;
use crate::net::tls::client::UpstreamTls;
use crate::net::Stream;
use crate::stats::counters::Counters;

/// Queue bound per server when `maxqueue` is not set: beyond it a request gets 503 at once.
const DEFAULT_QUEUE_MAX: usize = 4096;

/// A server at run time.
#[derive(Debug)]
pub struct Server {
    /// `server NAME`.
    pub name: String,
    /// Resolved address.
    pub addr: SocketAddr,
    /// Weight (0 = no traffic from weighted algorithms).
    pub weight: u32,
    /// `backup`.
    pub backup: bool,
    /// `ssl`: how to open TLS to it.
    pub tls: Option<UpstreamTls>,
    /// Health: read on the request path with one atomic load; written by the check watcher.
    up: AtomicBool,
    pub(super) disabled: bool,
    checked: bool,
    pub(super) maxconn: u32,
    pub(super) queue_max: usize,
    maxqueue: u32,
    pub(super) slots: Option<Arc<Semaphore>>,
    pub(super) active: AtomicUsize,
    /// Connections using any server of the same backend (shared by its servers).
    pub(super) backend_active: Arc<AtomicUsize>,
    pub(super) queued: AtomicUsize,
    /// Traffic counters for the statistics.
    pub counters: Counters,
    /// `rise` and `fall` of its check.
    pub rise_fall: (u32, u32),
    /// The running check's state (latest result included), once checks start.
    pub check: OnceLock<watch::Receiver<health::HealthState>>,
    /// When the health state last changed, and the time spent DOWN.
    clock: UpDownClock,
    /// Idle connections for reuse.
    pub pool: IdlePool,
    /// The log line of failed connects, one per second.
    pub connect_failures: crate::log::Throttle,
}

impl Server {
    pub(super) fn new(
        s: &config::Server,
        tls: Option<UpstreamTls>,
        backend_active: Arc<AtomicUsize>,
    ) -> Server {
        let p = &s.params;
        Server {
            name: s.name.clone(),
            addr: s.addr,
            weight: p.weight,
            backup: p.backup,
            tls,
            up: AtomicBool::new(!p.disabled),
            disabled: p.disabled,
            checked: p.check,
            maxconn: p.maxconn,
            maxqueue: p.maxqueue,
            queue_max: if p.maxqueue == 0 {
                DEFAULT_QUEUE_MAX
            } else {
                p.maxqueue as usize
            },
            slots: (p.maxconn > 0).then(|| Arc::new(Semaphore::new(p.maxconn as usize))),
            active: AtomicUsize::new(0),
            backend_active,
            queued: AtomicUsize::new(0),
            counters: Counters::default(),
            rise_fall: (p.rise, p.fall),
            check: OnceLock::new(),
            clock: UpDownClock::new(),
            pool: IdlePool::new(p.pool_max_conn, p.pool_purge_delay),
            connect_failures: crate::log::Throttle::default(),
        }
    }

    /// Whether the server takes traffic (health UP and not disabled).
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Sets the health state (the check watcher calls this).
    pub fn set_up(&self, up: bool) {
        let up = up && !self.disabled;
        let was = self.up.swap(up, Ordering::Relaxed);
        if was != up {
            self.clock.changed(up);
        }
        if !up {
            // Connections to a dead server are useless.
            self.pool.clear();
        }
    }

    /// Connections currently using this server.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// `maxconn` (0 = unlimited).
    pub fn maxconn(&self) -> u32 {
        self.maxconn
    }

    /// HAProxy's status word: `UP`, `DOWN`, `MAINT` (disabled) or `no check`.
    pub fn status(&self) -> &'static str {
        if self.disabled {
            "MAINT"
        } else if !self.checked {
            "no check"
        } else if self.is_up() {
            "UP"
        } else {
            "DOWN"
        }
    }

    /// Whether a health check runs on it.
    pub fn is_checked(&self) -> bool {
        self.checked && !self.disabled
    }

    /// Milliseconds since the health state last changed (HAProxy's `lastchg`).
    pub fn since_change_ms(&self, now: u64) -> u64 {
        self.clock.since_change_ms(now)
    }

    /// Milliseconds spent DOWN in total, the current DOWN period included (`downtime`).
    pub fn downtime_ms(&self, now: u64) -> u64 {
        self.clock.downtime_ms(now, self.is_up())
    }

    /// Whether a request would be served now (below `maxconn`).
    pub fn has_slot(&self) -> bool {
        self.maxconn == 0 || self.active() < self.maxconn as usize
    }

    /// `maxqueue` as configured (0: not set).
    pub fn queue_max_configured(&self) -> u32 {
        self.maxqueue
    }

    /// Requests waiting in this server's queue.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Requests/connections sent to this server so far.
    pub fn total(&self) -> u64 {
        self.counters.sessions_total.load(Ordering::Relaxed)
    }

    /// The most recently idled connection opened with `sni` that is still usable.
    pub fn take_idle(&self, sni: Option<&str>) -> Option<Stream> {
        self.pool.take(sni, Instant::now())
    }

    /// Returns a connection to the pool (closed instead when the server is down or the
    /// pool is full).
    pub fn put_idle(&self, stream: Stream, sni: Option<String>) {
        if self.is_up() {
            self.pool.put(stream, sni, Instant::now());
        }
    }

    /// Idle pooled connections.
    pub fn idle_count(&self) -> usize {
        self.pool.len()
    }
}
