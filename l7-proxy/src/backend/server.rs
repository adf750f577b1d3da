//! A server at run time: health state, counters, `maxconn` slots and the pool of idle
//! connections to it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use crate::config;
use crate::net::tls::client::UpstreamTls;
use crate::net::Stream;

/// Idle upstream connections kept per server.
const POOL_MAX: usize = 256;
/// Queue bound per server when `maxqueue` is not set: beyond it a request gets 503 at once.
const DEFAULT_QUEUE_MAX: usize = 4096;

/// An idle connection and the SNI it was opened with (a TLS connection is reused only for
/// requests that would send the same name).
#[derive(Debug)]
struct Idle {
    sni: Option<String>,
    stream: Stream,
}

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
    pub(super) slots: Option<Arc<Semaphore>>,
    pub(super) active: AtomicUsize,
    pub(super) queued: AtomicUsize,
    pub(super) total: AtomicU64,
    pool: Mutex<Vec<Idle>>,
}

impl Server {
    pub(super) fn new(s: &config::Server, tls: Option<UpstreamTls>) -> Server {
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
            queue_max: if p.maxqueue == 0 {
                DEFAULT_QUEUE_MAX
            } else {
                p.maxqueue as usize
            },
            slots: (p.maxconn > 0).then(|| Arc::new(Semaphore::new(p.maxconn as usize))),
            active: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            total: AtomicU64::new(0),
            pool: Mutex::new(Vec::new()),
        }
    }

    /// Whether the server takes traffic (health UP and not disabled).
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Sets the health state (the check watcher calls this).
    pub fn set_up(&self, up: bool) {
        self.up.store(up && !self.disabled, Ordering::Relaxed);
        if !up {
            // Connections to a dead server are useless.
            if let Ok(mut p) = self.pool.lock() {
                p.clear();
            }
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

    /// Whether a request would be served now (below `maxconn`).
    pub fn has_slot(&self) -> bool {
        self.maxconn == 0 || self.active() < self.maxconn as usize
    }

    /// Requests waiting in this server's queue.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Requests/connections sent to this server so far.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// The most recently idled connection opened with `sni` that still looks open.
    pub fn take_idle(&self, sni: Option<&str>) -> Option<Stream> {
        let mut pool = self.pool.lock().ok()?;
        while let Some(i) = pool.iter().rposition(|c| c.sni.as_deref() == sni) {
            let c = pool.remove(i);
            if c.stream.is_idle_and_open() {
                return Some(c.stream);
            }
        }
        None
    }

    /// Returns a connection to the pool.
    pub fn put_idle(&self, stream: Stream, sni: Option<String>) {
        if !self.is_up() {
            return;
        }
        if let Ok(mut pool) = self.pool.lock() {
            if pool.len() < POOL_MAX {
                pool.push(Idle { sni, stream });
            }
        }
    }

    /// Idle pooled connections.
    pub fn idle_count(&self) -> usize {
        self.pool.lock().map(|p| p.len()).unwrap_or(0)
    }
}
