//! Backends at run time: servers ([`server`]), choosing one ([`balance`]), per-server
//! queues, and opening the connection to it with retries ([`connect`]), written once for
//! HTTP and TCP mode.

mod balance;
pub mod connect;
pub mod pool;
pub mod server;
mod updown;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;

use crate::config::{self, HttpRule, ProxySettings};
use crate::net::tls::client::UpstreamTls;
use crate::net::tls::TlsError;
use crate::stats::counters::{now_ms, Counters};
pub use server::Server;

/// How often idle pools are swept: a connection the server closed is closed here within
/// this time, an expired one within `pool-purge-delay` plus this.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The backends of every live generation (a reload's old backends keep serving the
/// connections that started on them), for the idle-pool sweeper.
pub type Registry = Arc<std::sync::Mutex<Vec<std::sync::Weak<Backend>>>>;

/// Sweeps the idle pools of the registered backends forever, forgetting dropped ones.
pub async fn sweep_idle_pools(registry: Registry) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let live: Vec<Arc<Backend>> = match registry.lock() {
            Ok(mut r) => {
                r.retain(|b| b.strong_count() > 0);
                r.iter().filter_map(std::sync::Weak::upgrade).collect()
            }
            Err(_) => return,
        };
        let now = std::time::Instant::now();
        for b in &live {
            let closed: usize = b.servers.iter().map(|s| s.pool.sweep(now)).sum();
            if closed > 0 {
                tracing::debug!(backend = %b.name, closed, "idle connections closed");
            }
        }
    }
}

/// Held while a request/connection uses a server: counts it and holds its `maxconn` slot.
#[derive(Debug)]
pub struct ServerSlot {
    /// The server.
    pub server: Arc<Server>,
    /// Index in the backend's server list.
    pub index: usize,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Drop for ServerSlot {
    fn drop(&mut self) {
        self.server.active.fetch_sub(1, Ordering::Relaxed);
        self.server.backend_active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why no server slot could be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickError {
    /// No server is up (and no backup).
    NoServer,
    /// The chosen server's queue is full.
    QueueFull,
    /// `timeout queue` expired.
    QueueTimeout,
}

/// A backend at run time.
#[derive(Debug)]
pub struct Backend {
    /// Name.
    pub name: String,
    /// Settings from the configuration.
    pub settings: ProxySettings,
    /// Servers in configuration order.
    pub servers: Vec<Arc<Server>>,
    /// `http-request` rules run once this backend is chosen.
    pub http_request: Vec<HttpRule>,
    /// `http-response` rules, run before the frontend's.
    pub http_response: Vec<HttpRule>,
    /// Smooth weighted round-robin sequences, precomputed so picking is lock-free: an atomic
    /// counter indexes them and down servers are skipped.
    rr_active: Vec<usize>,
    rr_backup: Vec<usize>,
    counter: AtomicUsize,
    /// Connections using its servers (each server holds a clone).
    active: Arc<AtomicUsize>,
    /// Traffic counters for the statistics.
    pub counters: Counters,
    /// When it last went UP or DOWN (no server up), and its time DOWN.
    clock: updown::UpDownClock,
    /// Times it went DOWN (`chkdown`).
    downs: AtomicU64,
}

impl Backend {
    /// Builds the run-time backend from its configuration; TLS to servers is set up here,
    /// so a bad CA or client certificate stops a start or a reload.
    pub fn new(cfg: &config::Backend) -> Result<Backend, TlsError> {
        let mut servers = Vec::with_capacity(cfg.servers.len());
        let active = Arc::new(AtomicUsize::new(0));
        for s in &cfg.servers {
            let tls = match s.params.ssl {
                true => Some(UpstreamTls::new(&s.params.tls)?),
                false => None,
            };
            servers.push(Arc::new(Server::new(s, tls, active.clone())));
        }
        let rr_active = balance::swrr_sequence(&servers, false);
        let rr_backup = balance::swrr_sequence(&servers, true);
        Ok(Backend {
            name: cfg.name.clone(),
            settings: cfg.settings.clone(),
            servers,
            http_request: cfg.http_request.clone(),
            http_response: cfg.http_response.clone(),
            rr_active,
            rr_backup,
            counter: AtomicUsize::new(0),
            active,
            counters: Counters::default(),
            clock: updown::UpDownClock::new(),
            downs: AtomicU64::new(0),
        })
    }

    /// The backend's state as HAProxy reports it: UP while any server, active or backup,
    /// is up, and always for a backend without servers (a `listen stats`).
    pub fn is_up(&self) -> bool {
        self.servers.is_empty() || self.servers.iter().any(|s| s.is_up())
    }

    /// Sets server `index`'s health and follows the backend's own UP/DOWN state (no server
    /// up is DOWN) for `lastchg`, `downtime` and `chkdown`.
    pub fn set_server_up(&self, index: usize, up: bool) {
        let Some(server) = self.servers.get(index) else {
            return;
        };
        let was = self.is_up();
        server.set_up(up);
        let now_up = self.is_up();
        if was != now_up {
            self.clock.changed(now_up);
            if !now_up {
                self.downs.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Milliseconds since the backend went UP or DOWN.
    pub fn since_change_ms(&self, now: u64) -> u64 {
        self.clock.since_change_ms(now)
    }

    /// Milliseconds spent DOWN, the current DOWN period included.
    pub fn downtime_ms(&self, now: u64) -> u64 {
        self.clock.downtime_ms(now, self.is_up())
    }

    /// Times the backend went DOWN.
    pub fn downs(&self) -> u64 {
        self.downs.load(Ordering::Relaxed)
    }

    /// Requests waiting in its servers' queues.
    pub fn queued(&self) -> usize {
        self.servers.iter().map(|s| s.queued()).sum()
    }

    /// Number of servers up, (active, backup).
    pub fn up_counts(&self) -> (usize, usize) {
        let a = self
            .servers
            .iter()
            .filter(|s| !s.backup && s.is_up())
            .count();
        let b = self
            .servers
            .iter()
            .filter(|s| s.backup && s.is_up())
            .count();
        (a, b)
    }

    /// Connections currently using this backend's servers.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Takes a slot on server `index`, waiting in its queue up to `queue_timeout` when the
    /// server is at `maxconn`; with the time it waited.
    pub async fn acquire(
        &self,
        index: usize,
        queue_timeout: Duration,
    ) -> Result<(ServerSlot, Duration), PickError> {
        let server = self.servers.get(index).ok_or(PickError::NoServer)?.clone();
        let mut waited = Duration::ZERO;
        let permit = match &server.slots {
            None => None,
            Some(sem) => match sem.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    let ahead = server.queued.fetch_add(1, Ordering::Relaxed);
                    if ahead >= server.queue_max {
                        server.queued.fetch_sub(1, Ordering::Relaxed);
                        return Err(PickError::QueueFull);
                    }
                    let queued = (ahead + 1) as u64;
                    server
                        .counters
                        .max_queued
                        .fetch_max(queued, Ordering::Relaxed);
                    self.counters
                        .max_queued
                        .fetch_max(self.queued() as u64, Ordering::Relaxed);
                    let t = std::time::Instant::now();
                    let r = tokio::time::timeout(queue_timeout, sem.clone().acquire_owned()).await;
                    waited = t.elapsed();
                    server.queued.fetch_sub(1, Ordering::Relaxed);
                    match r {
                        Ok(Ok(p)) => Some(p),
                        Ok(Err(_)) => return Err(PickError::NoServer),
                        Err(_) => return Err(PickError::QueueTimeout),
                    }
                }
            },
        };
        let active = server.active.fetch_add(1, Ordering::Relaxed) + 1;
        let backend_active = self.active.fetch_add(1, Ordering::Relaxed) + 1;
        let now = now_ms();
        server.counters.session(now, active);
        self.counters.session(now, backend_active);
        let slot = ServerSlot {
            server,
            index,
            _permit: permit,
        };
        Ok((slot, waited))
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;
    use std::net::IpAddr;

    fn backend(text: &str) -> Backend {
        let l = parse_str("t", text).expect("valid config");
        Backend::new(&l.config.backends[0]).expect("no TLS")
    }

    #[test]
    fn smooth_wrr_interleaves() {
        let b = backend(
            "backend b\n server a 127.0.0.1:1 weight 5\n server b 127.0.0.1:2 weight 1\n server c 127.0.0.1:3 weight 1\n",
        );
        assert_eq!(b.rr_active, vec![0, 0, 1, 0, 2, 0, 0]);
        let ip: IpAddr = [127, 0, 0, 1].into();
        let mut counts = [0; 3];
        for _ in 0..700 {
            counts[b.pick(ip, &[]).expect("a server")] += 1;
        }
        assert_eq!(counts, [500, 100, 100]);
    }

    #[test]
    fn backup_only_when_all_down() {
        let b = backend("backend b\n server a 127.0.0.1:1\n server bk 127.0.0.1:2 backup\n");
        let ip: IpAddr = [127, 0, 0, 1].into();
        assert_eq!(b.pick(ip, &[]), Some(0));
        b.servers[0].set_up(false);
        assert_eq!(b.pick(ip, &[]), Some(1));
        b.servers[1].set_up(false);
        assert_eq!(b.pick(ip, &[]), None);
        b.servers[1].set_up(true);
        assert_eq!(b.pick(ip, &[1]), None);
    }

    #[test]
    fn source_is_sticky_and_first_fills() {
        let b = backend("backend b\n balance source\n server a 127.0.0.1:1\n server b 127.0.0.1:2\n server c 127.0.0.1:3\n");
        let mut seen = std::collections::HashSet::new();
        for i in 0..50u8 {
            let ip: IpAddr = [127, 0, 0, i].into();
            let first = b.pick(ip, &[]);
            assert_eq!(first, b.pick(ip, &[]));
            seen.insert(first);
        }
        assert!(seen.len() > 1);
        let f = backend("backend b\n balance first\n server a 127.0.0.1:1 maxconn 1\n server b 127.0.0.1:2 maxconn 1\n");
        let ip: IpAddr = [127, 0, 0, 1].into();
        assert_eq!(f.pick(ip, &[]), Some(0));
        f.servers[0].active.store(1, Ordering::Relaxed);
        assert_eq!(f.pick(ip, &[]), Some(1));
    }

    #[test]
    fn roundrobin_skips_full_servers() {
        let b = backend(
            "backend b\n server a 127.0.0.1:1 maxconn 1\n server b 127.0.0.1:2 maxconn 1\n",
        );
        let ip: IpAddr = [127, 0, 0, 1].into();
        b.servers[0].active.store(1, Ordering::Relaxed);
        for _ in 0..4 {
            assert_eq!(b.pick(ip, &[]), Some(1));
        }
        b.servers[1].active.store(1, Ordering::Relaxed);
        assert!(b.pick(ip, &[]).is_some(), "all full: queue on one");
    }

    #[test]
    fn leastconn_prefers_idle() {
        let b = backend(
            "backend b\n balance leastconn\n server a 127.0.0.1:1\n server b 127.0.0.1:2\n",
        );
        b.servers[0].active.store(3, Ordering::Relaxed);
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..5 {
            assert_eq!(b.pick(ip, &[]), Some(1));
        }
    }

    #[tokio::test]
    async fn maxconn_queue_times_out_and_bounds() {
        let b = backend("backend b\n server a 127.0.0.1:1 maxconn 1 maxqueue 1\n");
        let (s1, waited) = b
            .acquire(0, Duration::from_millis(50))
            .await
            .expect("free slot");
        assert_eq!(waited, Duration::ZERO);
        assert_eq!(
            b.acquire(0, Duration::from_millis(50)).await.err(),
            Some(PickError::QueueTimeout)
        );
        drop(s1);
        let _s2 = b
            .acquire(0, Duration::from_millis(50))
            .await
            .expect("slot released");
        assert_eq!(b.servers[0].active(), 1);
    }
}
