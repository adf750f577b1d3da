//! Backends at run time: servers, health state, balancing, per-server queue, connection pool.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{self, Balance, ProxySettings};

/// Idle upstream connections kept per server.
const POOL_MAX: usize = 256;
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
    /// Health: read on the request path with one atomic load; written by the check watcher.
    up: AtomicBool,
    disabled: bool,
    checked: bool,
    maxconn: u32,
    queue_max: usize,
    slots: Option<Arc<Semaphore>>,
    active: AtomicUsize,
    queued: AtomicUsize,
    total: AtomicU64,
    pool: Mutex<Vec<TcpStream>>,
}

impl Server {
    fn new(s: &config::Server) -> Server {
        let p = &s.params;
        Server {
            name: s.name.clone(),
            addr: s.addr,
            weight: p.weight,
            backup: p.backup,
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

    /// An idle pooled connection that still looks open.
    pub fn take_idle(&self) -> Option<TcpStream> {
        let mut pool = self.pool.lock().ok()?;
        while let Some(s) = pool.pop() {
            // A readable idle connection was closed (or is misbehaving): drop it.
            let mut b = [0u8; 1];
            match s.try_read(&mut b) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Some(s),
                _ => continue,
            }
        }
        None
    }

    /// Returns a connection to the pool.
    pub fn put_idle(&self, s: TcpStream) {
        if !self.is_up() {
            return;
        }
        if let Ok(mut pool) = self.pool.lock() {
            if pool.len() < POOL_MAX {
                pool.push(s);
            }
        }
    }

    /// Idle pooled connections.
    pub fn idle_count(&self) -> usize {
        self.pool.lock().map(|p| p.len()).unwrap_or(0)
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
    /// Smooth weighted round-robin sequences, precomputed so picking is lock-free: an atomic
    /// counter indexes them and down servers are skipped.
    rr_active: Vec<usize>,
    rr_backup: Vec<usize>,
    counter: AtomicUsize,
}

impl Backend {
    /// Builds the run-time backend from its configuration.
    pub fn new(cfg: &config::Backend) -> Backend {
        let servers: Vec<Arc<Server>> = cfg
            .servers
            .iter()
            .map(|s| Arc::new(Server::new(s)))
            .collect();
        let rr_active = swrr_sequence(&servers, false);
        let rr_backup = swrr_sequence(&servers, true);
        Backend {
            name: cfg.name.clone(),
            settings: cfg.settings.clone(),
            servers,
            rr_active,
            rr_backup,
            counter: AtomicUsize::new(0),
        }
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
        self.servers.iter().map(|s| s.active()).sum()
    }

    /// Chooses a server index for a client, skipping `exclude` (servers that failed this
    /// request). Backup servers are used only when no active server is up.
    pub fn pick(&self, client: IpAddr, exclude: &[usize]) -> Option<usize> {
        let eligible = |i: usize, backup: bool| {
            let s = &self.servers[i];
            s.backup == backup && s.is_up() && !exclude.contains(&i)
        };
        for backup in [false, true] {
            if !self
                .servers
                .iter()
                .enumerate()
                .any(|(i, _)| eligible(i, backup))
            {
                continue;
            }
            let found = match self.settings.balance {
                Balance::RoundRobin => {
                    let seq = if backup {
                        &self.rr_backup
                    } else {
                        &self.rr_active
                    };
                    let start = self.counter.fetch_add(1, Ordering::Relaxed);
                    let order = || (0..seq.len()).map(|k| seq[(start.wrapping_add(k)) % seq.len()]);
                    // A server with a free slot first; queue on the turn's server only when
                    // all are full.
                    order()
                        .find(|&i| eligible(i, backup) && self.servers[i].has_slot())
                        .or_else(|| order().find(|&i| eligible(i, backup)))
                }
                Balance::LeastConn => {
                    let n = self.servers.len();
                    let start = self.counter.fetch_add(1, Ordering::Relaxed);
                    (0..n)
                        .map(|k| (start.wrapping_add(k)) % n)
                        .filter(|&i| eligible(i, backup) && self.servers[i].weight > 0)
                        .min_by_key(|&i| {
                            let s = &self.servers[i];
                            // Connections per unit of weight, scaled to stay integral.
                            (s.active() as u64 * 256) / u64::from(s.weight.max(1))
                        })
                }
                Balance::Source => {
                    let total: u64 = (0..self.servers.len())
                        .filter(|&i| eligible(i, backup))
                        .map(|i| u64::from(self.servers[i].weight))
                        .sum();
                    if total == 0 {
                        None
                    } else {
                        let mut h = hash_ip(client) % total;
                        (0..self.servers.len())
                            .filter(|&i| eligible(i, backup))
                            .find(|&i| {
                                let w = u64::from(self.servers[i].weight);
                                if h < w {
                                    true
                                } else {
                                    h -= w;
                                    false
                                }
                            })
                    }
                }
                Balance::First => (0..self.servers.len())
                    .filter(|&i| eligible(i, backup))
                    .find(|&i| {
                        let s = &self.servers[i];
                        s.maxconn == 0 || s.active() < s.maxconn as usize
                    })
                    .or_else(|| (0..self.servers.len()).find(|&i| eligible(i, backup))),
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// Takes a slot on server `index`, waiting in its queue up to `queue_timeout` when the
    /// server is at `maxconn`.
    pub async fn acquire(
        &self,
        index: usize,
        queue_timeout: Duration,
    ) -> Result<ServerSlot, PickError> {
        let server = self.servers.get(index).ok_or(PickError::NoServer)?.clone();
        let permit = match &server.slots {
            None => None,
            Some(sem) => match sem.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    if server.queued.fetch_add(1, Ordering::Relaxed) >= server.queue_max {
                        server.queued.fetch_sub(1, Ordering::Relaxed);
                        return Err(PickError::QueueFull);
                    }
                    let r = tokio::time::timeout(queue_timeout, sem.clone().acquire_owned()).await;
                    server.queued.fetch_sub(1, Ordering::Relaxed);
                    match r {
                        Ok(Ok(p)) => Some(p),
                        Ok(Err(_)) => return Err(PickError::NoServer),
                        Err(_) => return Err(PickError::QueueTimeout),
                    }
                }
            },
        };
        server.active.fetch_add(1, Ordering::Relaxed);
        server.total.fetch_add(1, Ordering::Relaxed);
        Ok(ServerSlot {
            server,
            index,
            _permit: permit,
        })
    }
}

/// nginx's smooth weighted round robin, unrolled over one full cycle (sum of weights).
fn swrr_sequence(servers: &[Arc<Server>], backup: bool) -> Vec<usize> {
    let members: Vec<(usize, i64)> = servers
        .iter()
        .enumerate()
        .filter(|(_, s)| s.backup == backup && s.weight > 0)
        .map(|(i, s)| (i, i64::from(s.weight)))
        .collect();
    let total: i64 = members.iter().map(|(_, w)| w).sum();
    let mut current = vec![0i64; members.len()];
    let mut seq = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for _ in 0..total {
        let mut best = 0;
        for (k, (_, w)) in members.iter().enumerate() {
            current[k] += w;
            if current[k] > current[best] {
                best = k;
            }
        }
        current[best] -= total;
        seq.push(members[best].0);
    }
    seq
}

fn hash_ip(ip: IpAddr) -> u64 {
    // FNV-1a: stable across runs and processes, so a client sticks to a server.
    let bytes: Vec<u8> = match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;

    fn backend(text: &str) -> Backend {
        let l = parse_str("t", text).expect("valid config");
        Backend::new(&l.config.backends[0])
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
        let s1 = b
            .acquire(0, Duration::from_millis(50))
            .await
            .expect("free slot");
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
