//! The live proxy: listeners, the current configuration generation, reload and stop.
//!
//! A reload builds a complete new [`Generation`] first (backends, TLS to servers,
//! certificates of every `ssl` bind, frontends): any error there (a missing file, a key
//! that does not match its certificate) leaves the running generation untouched. Then it
//! binds only the new addresses and publishes the new frontends to the kept listeners: the
//! sockets never close, so no connection is refused, and connections already accepted keep
//! the `Arc` of the generation they started with.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinHandle;

use crate::backend::Backend;
use crate::config::{Bind, Config};
use crate::frontend::{BindRt, FrontendRt, Shared};
use crate::net::listener::{accept_loop, bind};
use crate::net::park::Parker;
use crate::net::tls::server::Resumption;
use crate::net::tls::{self, TlsError};

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
    /// Certificates, keys or TLS settings.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The epoll set idle connections are parked in could not be created.
    #[error("cannot create the idle connection parker: {0}")]
    Parker(std::io::Error),
}

/// Everything one configuration runs with, built before anything is switched.
struct Generation {
    backends: HashMap<String, Arc<Backend>>,
    frontends: Vec<Arc<FrontendRt>>,
    /// (listener key, address, what it serves)
    binds: Vec<(String, Bind, Arc<BindRt>)>,
    sinks: crate::log::LogSinks,
}

impl Generation {
    fn build(cfg: &Config, resumption: &Resumption) -> Result<Generation, RuntimeError> {
        let mut backends = HashMap::new();
        for b in &cfg.backends {
            backends.insert(b.name.clone(), Arc::new(Backend::new(b)?));
        }
        let mut sinks = crate::log::LogSinks::new(&cfg.global.logs);
        let mut frontends = Vec::new();
        let mut binds = Vec::new();
        for f in &cfg.frontends {
            let fe = Arc::new(FrontendRt::new(
                f,
                |n| backends.get(n).cloned(),
                sinks.for_proxy(&f.settings),
            ));
            for (i, b) in f.binds.iter().enumerate() {
                let tls = match &b.tls {
                    Some(t) => Some(tls::server::config(t, resumption)?),
                    None => None,
                };
                // Port 0 (tests) binds an ephemeral port: key it by frontend so a reload
                // keeps it.
                let key = if b.addr.port() == 0 {
                    format!("{}#{i}@{}", f.name, b.addr)
                } else {
                    b.addr.to_string()
                };
                binds.push((
                    key,
                    b.clone(),
                    Arc::new(BindRt {
                        fe: fe.clone(),
                        tls,
                    }),
                ));
            }
            frontends.push(fe);
        }
        let threads = cfg.global.nbthread.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        let ordered = cfg
            .backends
            .iter()
            .filter_map(|b| backends.get(&b.name).cloned())
            .collect();
        let view = Arc::new(crate::stats::StatsView::new(
            &frontends,
            ordered,
            threads,
            cfg.global.maxconn,
        ));
        // Every frontend can serve it: through `stats uri`, or a `use-service
        // prometheus-exporter` rule.
        for fe in &frontends {
            let _ = fe.stats.set(view.clone());
        }
        Ok(Generation {
            backends,
            frontends,
            binds,
            sinks,
        })
    }
}

/// Listen backlog without any `maxconn` to derive it from (an embedding that sets none;
/// the daemon always has a global `maxconn`).
const DEFAULT_BACKLOG: u32 = 1024;

/// The listen backlog as HAProxy chooses it: the bind's `backlog`, else the frontend's,
/// else its `maxconn`, else the global `maxconn`. A kept listener keeps its queue across
/// reloads.
fn backlog(b: &Bind, fe: &crate::config::ProxySettings, g: &crate::config::Global) -> u32 {
    b.backlog
        .or(fe.backlog)
        .or(fe.maxconn)
        .or(g.maxconn)
        .unwrap_or(DEFAULT_BACKLOG)
}

/// Loads every certificate, key and CA file `cfg` names, as a start would, without
/// binding anything: what `lbproxy -c` adds to the syntax check.
pub fn check_files(cfg: &Config) -> Result<(), RuntimeError> {
    let resumption = Resumption::new(1)?;
    Generation::build(cfg, &resumption).map(|_| ())
}

struct ListenerSlot {
    addr: SocketAddr,
    tx: watch::Sender<Option<Arc<BindRt>>>,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct State {
    listeners: HashMap<String, ListenerSlot>,
    /// Health checks of the current generation (dropping them stops them).
    checks: Vec<crate::checks::ServerCheck>,
    backends: HashMap<String, Arc<Backend>>,
    frontends: Vec<Arc<FrontendRt>>,
}

/// The running proxy.
pub struct Proxy {
    shared: Arc<Shared>,
    stop_tx: watch::Sender<bool>,
    /// `global` `maxconn`: process-wide limit of client connections (fixed at start).
    slots: Option<Arc<Semaphore>>,
    /// Session tickets and cache, kept across reloads.
    resumption: Resumption,
    state: tokio::sync::Mutex<State>,
    addrs: Mutex<HashMap<String, Vec<SocketAddr>>>,
    /// Every generation's backends, for the idle-pool sweeper.
    pools: crate::backend::Registry,
    sweeper: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.sweeper.abort();
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy").finish_non_exhaustive()
    }
}

impl Proxy {
    /// Binds the listeners, starts health checks and starts serving `cfg`.
    pub async fn start(cfg: &Config) -> Result<Proxy, RuntimeError> {
        let (stop_tx, stopping) = watch::channel(false);
        let pools = crate::backend::Registry::default();
        let p = Proxy {
            shared: Arc::new(Shared {
                active: AtomicUsize::new(0),
                parker: Parker::new(stopping.clone(), crate::connection::resume)
                    .map_err(RuntimeError::Parker)?,
                stopping,
                drained: Notify::new(),
            }),
            stop_tx,
            slots: cfg
                .global
                .maxconn
                .map(|m| Arc::new(Semaphore::new(m as usize))),
            resumption: Resumption::new(cfg.global.tls.cache_size)?,
            state: tokio::sync::Mutex::new(State::default()),
            addrs: Mutex::new(HashMap::new()),
            sweeper: tokio::spawn(crate::backend::sweep_idle_pools(pools.clone())),
            pools,
        };
        p.reload(cfg).await?;
        Ok(p)
    }

    /// Switches to `cfg`: keeps the listening sockets of unchanged addresses, binds new ones,
    /// closes removed ones. On any error nothing changes.
    pub async fn reload(&self, cfg: &Config) -> Result<(), RuntimeError> {
        let mut st = self.state.lock().await;
        let mut gen = Generation::build(cfg, &self.resumption)?;
        // Bind what is new before touching anything, so a failure leaves the old state.
        let mut fresh: HashMap<String, TcpListener> = HashMap::new();
        for (key, b, rt) in &gen.binds {
            if st.listeners.contains_key(key) || fresh.contains_key(key) {
                continue;
            }
            let backlog = backlog(b, &rt.fe.cfg.settings, &cfg.global);
            let l = bind(b.addr, b.interface.as_deref(), backlog).map_err(|source| {
                RuntimeError::Bind {
                    frontend: rt.fe.cfg.name.clone(),
                    addr: b.addr,
                    source,
                }
            })?;
            fresh.insert(key.clone(), l);
        }
        // Commit: checks of the new generation, then traffic.
        let checks = crate::checks::start(&gen.backends, cfg, &mut gen.sinks);
        let mut addrs: HashMap<String, Vec<SocketAddr>> = HashMap::new();
        let mut keep: HashMap<String, ListenerSlot> = HashMap::new();
        for (key, _, rt) in gen.binds {
            let slot = if let Some(slot) = st.listeners.remove(&key) {
                slot.tx.send_replace(Some(rt.clone()));
                slot
            } else if let Some(l) = fresh.remove(&key) {
                self.listen(l, rt.clone(), cfg.global.h2)
            } else {
                continue;
            };
            addrs
                .entry(rt.fe.cfg.name.clone())
                .or_default()
                .push(slot.addr);
            keep.insert(key, slot);
        }
        for (_, old) in st.listeners.drain() {
            tracing::info!(addr = %old.addr, "closing listener");
            old.tx.send_replace(None);
        }
        st.listeners = keep;
        for old in std::mem::replace(&mut st.frontends, gen.frontends) {
            old.retired.send_replace(true);
        }
        st.checks = checks;
        if let Ok(mut pools) = self.pools.lock() {
            pools.extend(gen.backends.values().map(Arc::downgrade));
        }
        st.backends = gen.backends;
        if let Ok(mut a) = self.addrs.lock() {
            *a = addrs;
        }
        Ok(())
    }

    /// Starts the accept loop of a new listener.
    fn listen(&self, l: TcpListener, rt: Arc<BindRt>, h2: crate::config::H2Limits) -> ListenerSlot {
        let addr = l
            .local_addr()
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
        tracing::info!(frontend = %rt.fe.cfg.name, %addr, tls = rt.tls.is_some(), "listening");
        let (tx, rx) = watch::channel(Some(rt));
        let shared = self.shared.clone();
        let serve = move |rt: Arc<BindRt>, tcp, peer, permits| {
            crate::connection::serve(rt, tcp, peer, shared.clone(), h2, permits)
        };
        let task = tokio::spawn(accept_loop(l, rx, self.slots.clone(), serve));
        ListenerSlot { addr, tx, task }
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

    /// A frontend of the current generation.
    pub async fn frontend(&self, name: &str) -> Option<Arc<FrontendRt>> {
        self.state
            .lock()
            .await
            .frontends
            .iter()
            .find(|f| f.cfg.name == name)
            .cloned()
    }

    /// The statistics of the current generation (`None` before any frontend).
    pub async fn stats(&self) -> Option<Arc<crate::stats::StatsView>> {
        let st = self.state.lock().await;
        st.frontends.first().and_then(|f| f.stats.get().cloned())
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
            st.checks.clear();
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
