//! The idle connections a server keeps for reuse. Taken newest first (the warmest socket);
//! a connection leaves the pool when it is taken, when the server closes it, after
//! `pool-purge-delay` unused, and when the process's idle budget (HAProxy's
//! `tune.pool-high-fd-ratio`, a quarter of the file limit) is spent, so idle sockets never
//! crowd out clients.
//!
//! HAProxy closes half of a pool's surplus each purge period; closing what has been idle a
//! whole period gives the same bound (an unused pool empties within two periods) and keeps
//! the connections that are actually in use.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::net::Stream;

/// Idle connections kept by all pools together: `usize::MAX` until [`set_idle_budget`].
static BUDGET: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Idle connections held by all pools now.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// Caps the idle connections of all pools together (the daemon sets it from its file limit).
pub fn set_idle_budget(n: usize) {
    BUDGET.store(n, Ordering::Relaxed);
}

/// Idle connections held by all pools of the process.
pub fn idle_total() -> usize {
    HELD.load(Ordering::Relaxed)
}

fn release(n: usize) {
    if n > 0 {
        HELD.fetch_sub(n, Ordering::Relaxed);
    }
}

/// An idle connection, the SNI it was opened with (a TLS connection is reused only for
/// requests that would send the same name), and when it went idle.
#[derive(Debug)]
struct Idle {
    sni: Option<String>,
    stream: Stream,
    since: Instant,
}

/// One server's idle connections, oldest at the front.
#[derive(Debug)]
pub struct IdlePool {
    conns: Mutex<VecDeque<Idle>>,
    /// `pool-max-conn` (`usize::MAX` for -1).
    max: usize,
    /// `pool-purge-delay` (`None`: 0, never purged by age).
    purge_after: Option<Duration>,
}

impl IdlePool {
    /// A pool keeping at most `max` connections (`None`: no limit of its own), each for at
    /// most `purge_delay` unused (zero: no age limit).
    pub fn new(max: Option<u32>, purge_delay: Duration) -> IdlePool {
        IdlePool {
            conns: Mutex::new(VecDeque::new()),
            max: max.map_or(usize::MAX, |m| m as usize),
            purge_after: (!purge_delay.is_zero()).then_some(purge_delay),
        }
    }

    /// `pool-max-conn` as HAProxy reports it (-1: no limit).
    pub fn limit(&self) -> i64 {
        i64::try_from(self.max).unwrap_or(-1)
    }

    /// The most recently idled connection opened with `sni` that is still open and young
    /// enough; dead or expired ones met on the way are closed. Checked without a system
    /// call ([`Stream::has_arrivals`]): one per request was a third of the reads of a
    /// keep-alive request. A close the reactor has not seen yet is the race any check
    /// has; a request without a body is then replayed on a new connection.
    pub fn take(&self, sni: Option<&str>, now: Instant) -> Option<Stream> {
        let mut dropped = Vec::new();
        let found = {
            let mut conns = self.conns.lock().ok()?;
            let mut found = None;
            while let Some(i) = conns.iter().rposition(|c| c.sni.as_deref() == sni) {
                let Some(c) = conns.remove(i) else { break };
                release(1);
                if !self.expired(&c, now) && !c.stream.has_arrivals() {
                    found = Some(c.stream);
                    break;
                }
                dropped.push(c);
            }
            found
        };
        // Closing sockets is a system call each: not under the lock.
        drop(dropped);
        found
    }

    /// Keeps `stream` for reuse; false (and the stream is closed) when the pool or the
    /// process's idle budget is full.
    pub fn put(&self, stream: Stream, sni: Option<String>, now: Instant) -> bool {
        if self.max == 0 {
            return false;
        }
        let Ok(mut conns) = self.conns.lock() else {
            return false;
        };
        if conns.len() >= self.max {
            return false;
        }
        if HELD.fetch_add(1, Ordering::Relaxed) >= BUDGET.load(Ordering::Relaxed) {
            release(1);
            return false;
        }
        conns.push_back(Idle {
            sni,
            stream,
            since: now,
        });
        true
    }

    /// Closes the connections the server has closed (or written to while idle) and those
    /// unused for `pool-purge-delay`. Returns how many were closed.
    pub fn sweep(&self, now: Instant) -> usize {
        let dropped: Vec<Idle> = {
            let Ok(mut conns) = self.conns.lock() else {
                return 0;
            };
            if conns.is_empty() {
                return 0;
            }
            let mut dropped = Vec::new();
            for c in std::mem::take(&mut *conns) {
                if !self.expired(&c, now) && c.stream.is_idle_and_open() {
                    conns.push_back(c);
                } else {
                    dropped.push(c);
                }
            }
            dropped
        };
        release(dropped.len());
        dropped.len()
    }

    /// Closes every idle connection (the server went down).
    pub fn clear(&self) {
        let dropped = match self.conns.lock() {
            Ok(mut conns) => std::mem::take(&mut *conns),
            Err(_) => return,
        };
        release(dropped.len());
    }

    /// Idle connections held.
    pub fn len(&self) -> usize {
        self.conns.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Whether no connection is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn expired(&self, c: &Idle, now: Instant) -> bool {
        self.purge_after
            .is_some_and(|d| now.saturating_duration_since(c.since) >= d)
    }
}

impl Drop for IdlePool {
    fn drop(&mut self) {
        let n = self.conns.get_mut().map(|c| c.len()).unwrap_or(0);
        release(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` client ends of loopback connections, and their server ends (kept open).
    async fn connections(n: usize) -> (Vec<Stream>, Vec<tokio::net::TcpStream>) {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let (c, s) = crate::net::loopback_pair().await;
            ours.push(Stream::Tcp(c));
            theirs.push(s);
        }
        (ours, theirs)
    }

    #[tokio::test]
    async fn pools_share_one_idle_budget_and_give_back_what_they_close() {
        let (mut ours, _theirs) = connections(4).await;
        let (a, b) = (
            IdlePool::new(None, Duration::ZERO),
            IdlePool::new(None, Duration::ZERO),
        );
        let now = Instant::now();
        let base = idle_total();
        set_idle_budget(base + 2);
        let put = |pool: &IdlePool, ours: &mut Vec<Stream>| {
            let s = ours.pop().expect("a connection left");
            pool.put(s, None, now)
        };
        assert!(put(&a, &mut ours));
        assert!(put(&b, &mut ours));
        assert!(
            !put(&a, &mut ours),
            "the third is over the budget of both pools"
        );
        assert_eq!(idle_total(), base + 2);
        a.clear();
        assert!(put(&b, &mut ours), "what a pool closed is budget again");
        assert!(b.take(None, now).is_some());
        assert_eq!(idle_total(), base + 1);
        drop(b);
        assert_eq!(idle_total(), base, "a dropped pool gives its budget back");
        set_idle_budget(usize::MAX);
    }
}
