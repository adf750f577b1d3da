//! The live proxy: listeners, the current configuration generation, reload and stop.
//!
//! Each listening socket has an accept task that reads the current frontend from a `watch`
//! channel at every accept. A reload builds a new generation (backends, checks), binds only
//! the new addresses, then publishes the new frontends to the kept listeners: the sockets
//! never close, so no connection is refused, and connections already accepted keep the
//! `Arc` of the generation they started with.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinHandle;

use crate::backend::Backend;
use crate::config::{self, Acl, AclFetch, Condition, Config, Mode};

/// Errors starting or reloading the proxy.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A listening address could not be bound.
    #[error("frontend '{frontend}': cannot bind {addr}: {source}")]
    Bind {
        /// Frontend name.
        frontend: String,
        /// Address.
        addr: SocketAddr,
        /// OS error.
        source: std::io::Error,
    },
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
    /// Connections currently open on this frontend.
    pub active: AtomicUsize,
    /// Connections accepted so far.
    pub total: std::sync::atomic::AtomicU64,
    /// The statistics page, when `stats enable`/`stats uri` is set.
    pub stats: std::sync::OnceLock<Arc<crate::stats::StatsView>>,
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
    /// Chooses the backend for a request (HTTP mode).
    pub fn route(&self, path: &str, header: &dyn Fn(&str) -> Vec<String>) -> Option<&Arc<Backend>> {
        for (cond, be) in &self.rules {
            match cond {
                None => return Some(be),
                Some(c) if self.eval(c, path, header) => return Some(be),
                Some(_) => {}
            }
        }
        self.default.as_ref()
    }

    fn eval(&self, c: &Condition, path: &str, header: &dyn Fn(&str) -> Vec<String>) -> bool {
        let any = c.any_of.iter().any(|group| {
            group.iter().all(|t| {
                let m = self
                    .cfg
                    .acls
                    .get(&t.acl)
                    .is_some_and(|a| acl_matches(a, path, header));
                m != t.negate
            })
        });
        any != c.unless
    }
}

fn acl_matches(a: &Acl, path: &str, header: &dyn Fn(&str) -> Vec<String>) -> bool {
    let eq = |s: &str, v: &str| {
        if a.ignore_case {
            s.eq_ignore_ascii_case(v)
        } else {
            s == v
        }
    };
    let beg = |s: &str, v: &str| {
        s.len() >= v.len() && s.is_char_boundary(v.len()) && eq(&s[..v.len()], v)
    };
    match &a.fetch {
        AclFetch::Path => a.values.iter().any(|v| eq(path, v)),
        AclFetch::PathBeg => a.values.iter().any(|v| beg(path, v)),
        AclFetch::Hdr(h) => header(h).iter().any(|s| a.values.iter().any(|v| eq(s, v))),
        AclFetch::HdrBeg(h) => header(h).iter().any(|s| a.values.iter().any(|v| beg(s, v))),
        AclFetch::Unsupported(_) => false,
    }
}

/// Process-wide state shared by all connections of all generations.
#[derive(Debug)]
pub struct Shared {
    /// Open client connections.
    pub active: AtomicUsize,
    /// Becomes `true` on soft stop: keep-alive connections close after their response.
    pub stopping: watch::Receiver<bool>,
    drained: Notify,
    /// `global` `maxconn`: process-wide limit of client connections (fixed at start).
    slots: Option<Arc<Semaphore>>,
}

/// Counts a client connection for the drain logic.
#[derive(Debug)]
pub struct ConnGuard {
    shared: Arc<Shared>,
    fe: Arc<FrontendRt>,
}

impl ConnGuard {
    fn new(shared: Arc<Shared>, fe: Arc<FrontendRt>) -> ConnGuard {
        shared.active.fetch_add(1, Ordering::Relaxed);
        fe.active.fetch_add(1, Ordering::Relaxed);
        fe.total.fetch_add(1, Ordering::Relaxed);
        ConnGuard { shared, fe }
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.fe.active.fetch_sub(1, Ordering::Relaxed);
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
}

struct ListenerSlot {
    addr: SocketAddr,
    tx: watch::Sender<Option<Arc<FrontendRt>>>,
    task: JoinHandle<()>,
}

/// One configuration generation's background tasks (health checks and their watchers).
struct Generation {
    _checks: Vec<crate::checks::ServerCheck>,
}

/// The running proxy.
pub struct Proxy {
    shared: Arc<Shared>,
    stop_tx: watch::Sender<bool>,
    state: tokio::sync::Mutex<State>,
    addrs: Mutex<HashMap<String, Vec<SocketAddr>>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    listeners: HashMap<String, ListenerSlot>,
    generation: Option<Generation>,
    backends: HashMap<String, Arc<Backend>>,
    frontends: Vec<Arc<FrontendRt>>,
}

impl Proxy {
    /// Binds the listeners, starts health checks and starts serving `cfg`.
    pub async fn start(cfg: &Config) -> Result<Proxy, RuntimeError> {
        let (stop_tx, stopping) = watch::channel(false);
        let p = Proxy {
            shared: Arc::new(Shared {
                active: AtomicUsize::new(0),
                stopping,
                drained: Notify::new(),
                slots: cfg
                    .global
                    .maxconn
                    .map(|m| Arc::new(Semaphore::new(m as usize))),
            }),
            stop_tx,
            state: tokio::sync::Mutex::new(State::default()),
            addrs: Mutex::new(HashMap::new()),
        };
        p.reload(cfg).await?;
        Ok(p)
    }

    /// Switches to `cfg`: keeps the listening sockets of unchanged addresses, binds new ones,
    /// closes removed ones. On a bind error nothing changes.
    pub async fn reload(&self, cfg: &Config) -> Result<(), RuntimeError> {
        let mut st = self.state.lock().await;
        let backends: HashMap<String, Arc<Backend>> = cfg
            .backends
            .iter()
            .map(|b| (b.name.clone(), Arc::new(Backend::new(b))))
            .collect();
        let mut sinks = crate::log::LogSinks::new(&cfg.global.logs);
        let mut frontends = Vec::new();
        for f in &cfg.frontends {
            let get = |n: &str| backends.get(n).cloned();
            let rules = f
                .use_backends
                .iter()
                .filter_map(|u| get(&u.backend).map(|b| (u.cond.clone(), b)))
                .collect();
            let maxconn = f.settings.maxconn;
            frontends.push(Arc::new(FrontendRt {
                cfg: f.clone(),
                rules,
                default: f.default_backend.as_deref().and_then(get),
                active: AtomicUsize::new(0),
                total: std::sync::atomic::AtomicU64::new(0),
                stats: std::sync::OnceLock::new(),
                log: !f.settings.logs.is_empty() || f.settings.httplog || f.settings.tcplog,
                access_log: sinks.for_proxy(&f.settings),
                retired: watch::Sender::new(false),
                maxconn: maxconn.map(|m| Arc::new(Semaphore::new(m as usize))),
            }));
        }
        let view = Arc::new(crate::stats::StatsView {
            frontends: frontends.iter().map(Arc::downgrade).collect(),
            backends: cfg
                .backends
                .iter()
                .filter_map(|b| backends.get(&b.name).cloned())
                .collect(),
        });
        for fe in &frontends {
            if fe.cfg.settings.stats_uri.is_some() {
                let _ = fe.stats.set(view.clone());
            }
        }
        // Bind what is new before touching anything, so a failure leaves the old state.
        let mut wanted: Vec<(String, SocketAddr, Arc<FrontendRt>)> = Vec::new();
        for fe in &frontends {
            for (i, b) in fe.cfg.binds.iter().enumerate() {
                if b.tls.is_some() {
                    tracing::warn!(frontend = %fe.cfg.name, addr = %b.addr, "TLS is not implemented yet; bind skipped");
                    continue;
                }
                // Port 0 (tests) binds an ephemeral port: key it by frontend so a reload
                // keeps it.
                let key = if b.addr.port() == 0 {
                    format!("{}#{i}@{}", fe.cfg.name, b.addr)
                } else {
                    b.addr.to_string()
                };
                wanted.push((key, b.addr, fe.clone()));
            }
        }
        let mut fresh: HashMap<String, TcpListener> = HashMap::new();
        for (key, addr, fe) in &wanted {
            if st.listeners.contains_key(key) || fresh.contains_key(key) {
                continue;
            }
            let l = bind(*addr).map_err(|source| RuntimeError::Bind {
                frontend: fe.cfg.name.clone(),
                addr: *addr,
                source,
            })?;
            fresh.insert(key.clone(), l);
        }
        // Commit: checks of the new generation, then traffic.
        let checks = crate::checks::start(&backends, cfg, &mut sinks);
        let mut addrs: HashMap<String, Vec<SocketAddr>> = HashMap::new();
        let mut keep: HashMap<String, ListenerSlot> = HashMap::new();
        for (key, _, fe) in wanted {
            let slot = if let Some(slot) = st.listeners.remove(&key) {
                slot.tx.send_replace(Some(fe.clone()));
                slot
            } else if let Some(l) = fresh.remove(&key) {
                let addr = l
                    .local_addr()
                    .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
                let (tx, rx) = watch::channel(Some(fe.clone()));
                let task = tokio::spawn(accept_loop(l, rx, self.shared.clone()));
                tracing::info!(frontend = %fe.cfg.name, %addr, "listening");
                ListenerSlot { addr, tx, task }
            } else {
                continue;
            };
            addrs
                .entry(fe.cfg.name.clone())
                .or_default()
                .push(slot.addr);
            keep.insert(key, slot);
        }
        for (_, old) in st.listeners.drain() {
            tracing::info!(addr = %old.addr, "closing listener");
            old.tx.send_replace(None);
        }
        st.listeners = keep;
        for old in std::mem::replace(&mut st.frontends, frontends) {
            old.retired.send_replace(true);
        }
        st.generation = Some(Generation { _checks: checks });
        st.backends = backends;
        if let Ok(mut a) = self.addrs.lock() {
            *a = addrs;
        }
        Ok(())
    }

    /// The bound addresses of a frontend (useful with port 0).
    pub fn local_addrs(&self, frontend: &str) -> Vec<SocketAddr> {
        self.addrs
            .lock()
            .ok()
            .and_then(|a| a.get(frontend).cloned())
            .unwrap_or_default()
    }

    /// A backend of the current generation.
    pub async fn backend(&self, name: &str) -> Option<Arc<Backend>> {
        self.state.lock().await.backends.get(name).cloned()
    }

    /// Open client connections.
    pub fn active_connections(&self) -> usize {
        self.shared.active.load(Ordering::Relaxed)
    }

    /// Soft stop: closes the listeners, lets keep-alive connections finish their current
    /// request, and waits until all connections are gone or `grace` has passed. Returns the
    /// number of connections still open.
    pub async fn soft_stop(&self, grace: Option<Duration>) -> usize {
        self.stop_tx.send_replace(true);
        {
            let mut st = self.state.lock().await;
            for (_, l) in st.listeners.drain() {
                l.tx.send_replace(None);
                let _ = l.task.await;
            }
            st.generation = None;
            // Idle keep-alive connections wait on their frontend's retire signal only.
            for fe in &st.frontends {
                fe.retired.send_replace(true);
            }
        }
        let wait = async {
            loop {
                let notified = self.shared.drained.notified();
                if self.shared.active.load(Ordering::Relaxed) == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = crate::io::within(grace, wait).await;
        self.active_connections()
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    TcpListener::from_std(sock.into())
}

async fn accept_loop(
    l: TcpListener,
    mut rx: watch::Receiver<Option<Arc<FrontendRt>>>,
    shared: Arc<Shared>,
) {
    loop {
        let Some(fe) = rx.borrow_and_update().clone() else {
            return;
        };
        // At the limit we stop accepting (the kernel backlog holds new clients), as HAProxy.
        let global_permit = match &shared.slots {
            Some(sem) => tokio::select! {
                p = sem.clone().acquire_owned() => p.ok(),
                r = rx.changed() => {
                    // The proxy is gone (sender dropped): stop accepting.
                    if r.is_err() { return; }
                    continue;
                }
            },
            None => None,
        };
        let permit = match &fe.maxconn {
            Some(sem) => tokio::select! {
                p = sem.clone().acquire_owned() => p.ok(),
                r = rx.changed() => {
                    // The proxy is gone (sender dropped): stop accepting.
                    if r.is_err() { return; }
                    continue;
                }
            },
            None => None,
        };
        let accepted = tokio::select! {
            biased;
            a = l.accept() => a,
            r = rx.changed() => {
                    // The proxy is gone (sender dropped): stop accepting.
                    if r.is_err() { return; }
                    continue;
                }
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(frontend = %fe.cfg.name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let ctx = ConnCtx {
            fe: fe.clone(),
            shared: shared.clone(),
        };
        tokio::spawn(async move {
            let _guard = ConnGuard::new(ctx.shared.clone(), ctx.fe.clone());
            let _permit = (permit, global_permit);
            handle(ctx, stream, peer).await;
        });
    }
}

async fn handle(ctx: ConnCtx, stream: TcpStream, peer: SocketAddr) {
    match ctx.fe.cfg.settings.mode {
        Mode::Http => crate::http::serve(ctx, stream, peer).await,
        Mode::Tcp => crate::tcp::serve(ctx, stream, peer).await,
    }
}
