//! Listening sockets and their accept loops. A loop reads the current frontend from a
//! `watch` channel at every accept, so a reload swaps frontends without closing the
//! socket; it knows frontends only through [`Listening`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::log::Throttle;

/// What an accept loop needs of the frontend it serves.
pub trait Listening: Send + Sync + 'static {
    /// The frontend's name, for logs.
    fn name(&self) -> &str;
    /// The frontend's `maxconn` slots, if limited.
    fn slots(&self) -> Option<&Arc<Semaphore>>;
}

/// The connection slots an accepted connection holds until it closes.
#[derive(Debug)]
pub struct Permits {
    _frontend: Option<OwnedSemaphorePermit>,
    _global: Option<OwnedSemaphorePermit>,
}

/// Binds a listening TCP socket (`SO_REUSEADDR`, optionally `SO_BINDTODEVICE`) whose accept
/// queue holds `backlog` connections (the kernel caps it at `net.core.somaxconn`).
pub fn bind(
    addr: SocketAddr,
    interface: Option<&str>,
    backlog: u32,
) -> std::io::Result<TcpListener> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    if let Some(dev) = interface {
        sock.bind_device(Some(dev.as_bytes()))?;
    }
    sock.bind(&addr.into())?;
    sock.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    TcpListener::from_std(sock.into())
}

/// Waits for a permit of `sem` (if any), or for the frontend to change (`None`: stop).
async fn permit<T>(
    sem: Option<&Arc<Semaphore>>,
    rx: &mut watch::Receiver<Option<Arc<T>>>,
) -> Result<Option<OwnedSemaphorePermit>, bool> {
    let Some(sem) = sem else {
        return Ok(None);
    };
    tokio::select! {
        p = sem.clone().acquire_owned() => Ok(p.ok()),
        // Err(true): the proxy is gone (sender dropped); Err(false): look again.
        r = rx.changed() => Err(r.is_err()),
    }
}

/// Accepts connections for the frontend `rx` holds until it holds `None` or is dropped,
/// and spawns `serve` for each. At a `maxconn` limit (global or the frontend's) it stops
/// accepting, so the kernel's backlog holds new clients, as HAProxy does.
pub async fn accept_loop<T, F, Fut>(
    l: TcpListener,
    mut rx: watch::Receiver<Option<Arc<T>>>,
    global: Option<Arc<Semaphore>>,
    serve: F,
) where
    T: Listening,
    F: Fn(Arc<T>, TcpStream, SocketAddr, Permits) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut failures = AcceptFailures::default();
    loop {
        let Some(fe) = rx.borrow_and_update().clone() else {
            return;
        };
        let global_permit = match permit(global.as_ref(), &mut rx).await {
            Ok(p) => p,
            Err(true) => return,
            Err(false) => continue,
        };
        let fe_permit = match permit(fe.slots(), &mut rx).await {
            Ok(p) => p,
            Err(true) => return,
            Err(false) => continue,
        };
        let accepted = tokio::select! {
            biased;
            a = l.accept() => a,
            r = rx.changed() => {
                if r.is_err() { return; }
                continue;
            }
        };
        let (stream, peer) = match accepted {
            Ok(x) => {
                failures.recovered(fe.name());
                x
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                let (pause, log) = failures.failed(crate::stats::counters::now_ms());
                if let Some(suppressed) = log {
                    tracing::warn!(frontend = %fe.name(), error = %e, suppressed, "accept failed; pausing {pause:?} between attempts");
                }
                tokio::time::sleep(pause).await;
                continue;
            }
        };
        let permits = Permits {
            _frontend: fe_permit,
            _global: global_permit,
        };
        tokio::spawn(serve(fe, stream, peer, permits));
    }
}

/// First pause after a failed accept; it doubles up to [`PAUSE_MAX`].
const PAUSE_MIN: Duration = Duration::from_millis(10);
const PAUSE_MAX: Duration = Duration::from_millis(500);
/// A failing accept is logged at most this often (with the failures left unlogged).
const LOG_EVERY_MS: u64 = 10_000;

/// A run of failed accepts (out of files, memory or buffers): each pauses the loop longer,
/// and the log gets one line per [`LOG_EVERY_MS`], not one per attempt.
#[derive(Debug, Default)]
struct AcceptFailures {
    streak: u32,
    log: Throttle,
}

impl AcceptFailures {
    /// Records a failure at `now_ms`: how long to pause, and whether to log it (with the
    /// number of failures not logged since the last line).
    fn failed(&mut self, now_ms: u64) -> (Duration, Option<u64>) {
        let pause = PAUSE_MIN
            .saturating_mul(1 << self.streak.min(10))
            .min(PAUSE_MAX);
        self.streak = self.streak.saturating_add(1);
        (pause, self.log.admit(now_ms, LOG_EVERY_MS))
    }

    /// An accept worked: the run of failures, if any, is over.
    fn recovered(&mut self, frontend: &str) {
        if self.streak > 0 {
            tracing::info!(frontend, failures = self.streak, "accepting again");
            self.streak = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_accepts_back_off_and_are_logged_once_per_period() {
        let mut f = AcceptFailures::default();
        let t0 = 1_000u64;
        let mut pauses = Vec::new();
        let mut logged = 0;
        // Five seconds of failures at the pace the pauses allow.
        let mut now = t0;
        while now < t0 + 5_000 {
            let (pause, log) = f.failed(now);
            pauses.push(pause);
            logged += usize::from(log.is_some());
            now += pause.as_millis() as u64;
        }
        assert_eq!(pauses[0], PAUSE_MIN);
        assert_eq!(pauses[1], PAUSE_MIN * 2);
        assert_eq!(*pauses.last().unwrap_or(&Duration::ZERO), PAUSE_MAX);
        assert!(pauses.len() < 20, "{} attempts in 5 s", pauses.len());
        assert_eq!(logged, 1, "one line for the first five seconds");
        // The next line, a period later, says how many failures it stands for.
        let (_, log) = f.failed(t0 + LOG_EVERY_MS);
        assert_eq!(log, Some(pauses.len() as u64 - 1));
        f.recovered("fe");
        assert_eq!(
            f.failed(t0 + LOG_EVERY_MS).0,
            PAUSE_MIN,
            "a new run starts short"
        );
    }
}
