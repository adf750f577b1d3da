//! Frontends at run time: a frontend with its routing resolved to the backends of its
//! generation, what one bind serves ([`BindRt`]), the per-connection context and the
//! guards that count connections. Sample fetches and conditions are in [`sample`], routing
//! in [`route`].

pub mod route;
pub mod sample;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::{watch, Notify, Semaphore};

use crate::backend::Backend;
use crate::config::{self, Condition};
use crate::net::listener::Listening;
use crate::net::ConnInfo;
use crate::stats::counters::{now_ms, Counters};

/// Counters of one frontend.
#[derive(Debug, Default)]
pub struct FrontendCounters {
    /// Connections currently open.
    pub active: AtomicUsize,
    /// Of them, idle keep-alive connections parked (waiting without a task).
    pub parked: AtomicUsize,
    /// TLS handshakes that failed (garbage, no common version or suite, timeouts).
    pub tls_failures: AtomicU64,
    /// TLS handshakes completed.
    pub tls_sessions: AtomicU64,
    /// TLS handshakes that resumed a session.
    pub tls_resumed: AtomicU64,
    /// Connections refused by `tcp-request` rules.
    pub denied_conn: AtomicU64,
    /// Requests the proxy answered itself (statistics, redirects, `return`).
    pub intercepted: AtomicU64,
    /// Connections (as `sessions`), requests, responses, bytes: what backends count too.
    pub traffic: Counters,
}

/// A frontend at run time, with its routing resolved to backends of the same generation.
#[derive(Debug)]
pub struct FrontendRt {
    /// The configuration.
    pub cfg: config::Frontend,
    /// `use_backend` rules.
    pub rules: Vec<(Option<Condition>, Arc<Backend>)>,
    /// `default_backend`.
    pub default: Option<Arc<Backend>>,
    /// Counters.
    pub counters: FrontendCounters,
    /// The statistics page, when `stats enable`/`stats uri` is set.
    pub stats: OnceLock<Arc<crate::stats::StatsView>>,
    /// Whether access logs are emitted.
    pub log: bool,
    /// Where they go.
    pub access_log: Arc<crate::log::AccessLog>,
    /// Set when a reload replaced this frontend (or on soft stop): its keep-alive
    /// connections close after their next response (in-flight work finishes on the old
    /// configuration).
    pub retired: watch::Sender<bool>,
    maxconn: Option<Arc<Semaphore>>,
}

impl FrontendRt {
    /// Builds the run-time frontend; `backend` finds backends of the same generation.
    pub fn new(
        cfg: &config::Frontend,
        backend: impl Fn(&str) -> Option<Arc<Backend>>,
        access_log: Arc<crate::log::AccessLog>,
    ) -> FrontendRt {
        let rules = cfg
            .use_backends
            .iter()
            .filter_map(|u| backend(&u.backend).map(|b| (u.cond.clone(), b)))
            .collect();
        let s = &cfg.settings;
        FrontendRt {
            cfg: cfg.clone(),
            rules,
            default: cfg.default_backend.as_deref().and_then(&backend),
            counters: FrontendCounters::default(),
            stats: OnceLock::new(),
            log: !s.logs.is_empty() || s.httplog || s.tcplog,
            access_log,
            retired: watch::Sender::new(false),
            maxconn: s.maxconn.map(|m| Arc::new(Semaphore::new(m as usize))),
        }
    }

    /// The frontend's name.
    pub fn name(&self) -> &str {
        &self.cfg.name
    }
}

/// What one listening address serves: its frontend and, on `ssl` binds, the TLS
/// configuration of that bind line.
#[derive(Debug)]
pub struct BindRt {
    /// The frontend.
    pub fe: Arc<FrontendRt>,
    /// `ssl`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Listening for BindRt {
    fn name(&self) -> &str {
        &self.fe.cfg.name
    }
    fn slots(&self) -> Option<&Arc<Semaphore>> {
        self.fe.maxconn.as_ref()
    }
}

/// Process-wide state shared by all connections of all generations.
#[derive(Debug)]
pub struct Shared {
    /// Open client connections.
    pub active: AtomicUsize,
    /// Becomes `true` on soft stop: keep-alive connections close after their response.
    pub stopping: watch::Receiver<bool>,
    /// Where idle keep-alive connections wait without a task.
    pub parker: crate::net::park::Parker<IdleConn>,
    /// Woken when the last connection closes.
    pub drained: Notify,
}

/// An idle HTTP/1.1 client connection while it is parked: what it goes on with, held
/// inline in the parker's slab (its [`ConnInfo`] by value: the `Arc` it had is freed).
#[derive(Debug)]
pub struct IdleConn {
    /// The frontend it was accepted on (of that generation).
    pub fe: Arc<FrontendRt>,
    /// Its addresses.
    pub conn: ConnInfo,
    /// Counted as open, and its `maxconn` slots.
    pub held: Held,
    /// Counted as parked.
    pub parked: ParkedCount,
}

/// Held until a connection ends, parked or not: the frontend's connection count and the
/// `maxconn` slots.
pub type Held = (ConnGuard, crate::net::listener::Permits);

/// Counts a connection as parked on its frontend while it lives.
#[derive(Debug)]
pub struct ParkedCount(Arc<FrontendRt>);

impl ParkedCount {
    /// Counts one more parked connection on `fe`.
    pub fn new(fe: Arc<FrontendRt>) -> ParkedCount {
        fe.counters.parked.fetch_add(1, Ordering::Relaxed);
        ParkedCount(fe)
    }
}

impl Drop for ParkedCount {
    fn drop(&mut self) {
        self.0.counters.parked.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ConnGuard {
    /// The process-wide state the connection is counted in.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

/// Counts a client connection for the drain logic and the frontend's counters.
#[derive(Debug)]
pub struct ConnGuard {
    shared: Arc<Shared>,
    fe: Arc<FrontendRt>,
}

impl ConnGuard {
    /// Counts one more connection.
    pub fn new(shared: Arc<Shared>, fe: Arc<FrontendRt>) -> ConnGuard {
        shared.active.fetch_add(1, Ordering::Relaxed);
        let active = fe.counters.active.fetch_add(1, Ordering::Relaxed) + 1;
        fe.counters.traffic.session(now_ms(), active);
        ConnGuard { shared, fe }
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.fe.counters.active.fetch_sub(1, Ordering::Relaxed);
        if self.shared.active.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.shared.drained.notify_waiters();
        }
    }
}

/// What a connection handler gets.
#[derive(Debug, Clone)]
pub struct ConnCtx {
    /// The frontend (of the generation the connection was accepted in).
    pub fe: Arc<FrontendRt>,
    /// Process-wide state.
    pub shared: Arc<Shared>,
    /// Addresses and TLS.
    pub conn: Arc<ConnInfo>,
}

impl ConnCtx {
    /// Process, frontend connections: the first two of a log line's `%ac/%fc/...`.
    pub fn conn_counts(&self) -> (usize, usize) {
        (
            self.shared.active.load(Ordering::Relaxed),
            self.fe.counters.active.load(Ordering::Relaxed),
        )
    }
}
