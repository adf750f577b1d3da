//! Listening sockets and their accept loops. A loop reads the current frontend from a
//! `watch` channel at every accept, so a reload swaps frontends without closing the
//! socket; it knows frontends only through [`Listening`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

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

/// Binds a listening TCP socket (`SO_REUSEADDR`, optionally `SO_BINDTODEVICE`).
pub fn bind(addr: SocketAddr, interface: Option<&str>) -> std::io::Result<TcpListener> {
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
    sock.listen(1024)?;
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
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(frontend = %fe.name(), error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
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
