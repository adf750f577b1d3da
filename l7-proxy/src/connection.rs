//! One accepted client connection: `tcp-request connection` rules, the TLS handshake on
//! `ssl` binds (bounded by `timeout client`), `tcp-request content` rules, then TCP mode,
//! HTTP/2 (ALPN `h2`) or HTTP/1.1.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::net::TcpStream;

use crate::config::{H2Limits, Mode, TcpStage};
use crate::frontend::sample::Sampler;
use crate::frontend::{
    BindRt, ConnCtx, ConnGuard, FrontendRt, Held, IdleConn, ParkedCount, Shared,
};
use crate::http::Idle;
use crate::io::within;
use crate::log::accept_date;
use crate::net::listener::Permits;
use crate::net::tls::server_stream::ServerStream;
use crate::net::{ConnInfo, Stream, TlsInfo};

/// Serves an accepted connection until it ends.
///
/// The task keeps the size of the state it is in, not of its largest one: opening the
/// connection (its addresses, the connection rules, the TLS handshake) runs boxed and is
/// gone before the connection waits for its client, TCP mode and HTTP/2 run boxed, and
/// HTTP/1.1 waits for a request in a few hundred bytes (see [`crate::http::serve_h1`]).
/// Written as a function returning the future so the arguments are not kept in it twice.
pub fn serve(
    bind: Arc<BindRt>,
    tcp: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    h2: H2Limits,
    permits: Permits,
) -> impl std::future::Future<Output = ()> {
    let open = Box::pin(open(bind, tcp, peer, shared, permits));
    async move {
        let Some(Opened {
            ctx,
            stream,
            is_h2,
            held,
        }) = open.await
        else {
            return;
        };
        match (ctx.fe.cfg.settings.mode, is_h2) {
            (Mode::Tcp, _) => Box::pin(crate::tcp::serve(ctx, stream)).await,
            (Mode::Http, true) => Box::pin(crate::http::serve_h2(ctx, stream, h2)).await,
            (Mode::Http, false) => {
                if let Some(idle) = crate::http::serve_h1(ctx, stream, false).await {
                    park(idle, held);
                    return;
                }
            }
        }
        drop(held);
    }
}

/// Parks an idle HTTP/1.1 connection, with what it holds; when it has bytes again,
/// [`resume`] goes on with it in a new task. Closed if it cannot be parked (soft stop).
fn park(idle: Idle, held: Held) {
    let Idle { ctx, stream, due } = idle;
    let Stream::Tcp(tcp) = stream else {
        return; // only plain connections are parked (see `H1Conn::wait_request`)
    };
    let ConnCtx { fe, shared, conn } = ctx;
    // By value in the parker's slab: the connection's own allocation is freed.
    let conn = Arc::try_unwrap(conn).unwrap_or_else(|shared| (*shared).clone());
    let state = IdleConn {
        parked: ParkedCount::new(fe.clone()),
        fe,
        conn,
        held,
    };
    if let Err(e) = shared.parker.park(tcp, due, state) {
        drop(e); // closed
    }
}

/// A parked connection back with bytes to read: served in a new task (the parker's resume
/// function, given to it by [`crate::proxy`]).
pub fn resume(tcp: TcpStream, idle: IdleConn) {
    let IdleConn {
        fe,
        conn,
        held,
        parked,
    } = idle;
    drop(parked);
    let ctx = ConnCtx {
        fe,
        shared: held.0.shared().clone(),
        conn: Arc::new(conn),
    };
    let serve = crate::http::serve_h1(ctx, Stream::Tcp(tcp), true);
    tokio::spawn(async move {
        match serve.await {
            Some(idle) => park(idle, held),
            None => drop(held),
        }
    });
}

/// A connection past its rules and handshake, ready for its protocol.
struct Opened {
    ctx: ConnCtx,
    stream: Stream,
    is_h2: bool,
    /// Held until the connection ends.
    held: Held,
}

/// `tcp-request connection` rules, the TLS handshake on `ssl` binds (bounded by `timeout
/// client`), `tcp-request content` rules. None when the connection is refused or the
/// handshake fails.
async fn open(
    bind: Arc<BindRt>,
    tcp: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    permits: Permits,
) -> Option<Opened> {
    let fe = bind.fe.clone();
    let guard = ConnGuard::new(shared.clone(), fe.clone());
    let _ = tcp.set_nodelay(true);
    let local = tcp
        .local_addr()
        .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut info = ConnInfo {
        peer,
        local,
        tls: None,
    };
    if !fe.tcp_accepts(TcpStage::Connection, &Sampler::conn(&info)) {
        fe.counters.denied_conn.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    let stream = match &bind.tls {
        None => Stream::Tcp(tcp),
        Some(cfg) => {
            let accept = ServerStream::accept(tcp, cfg.clone());
            match within(fe.cfg.settings.timeouts.client, accept).await {
                Some(Ok(s)) => {
                    let tls = s.session();
                    fe.counters.tls_sessions.fetch_add(1, Ordering::Relaxed);
                    if tls.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
                        fe.counters.tls_resumed.fetch_add(1, Ordering::Relaxed);
                    }
                    info.tls = Some(TlsInfo::of(&s));
                    Stream::TlsServer(Box::new(s))
                }
                failed => {
                    handshake_failed(&fe, peer, failed.map(|r| r.err()));
                    return None;
                }
            }
        }
    };
    if !fe.tcp_accepts(TcpStage::Content, &Sampler::conn(&info)) {
        fe.counters.denied_conn.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    let is_h2 = info.tls.as_ref().is_some_and(TlsInfo::is_h2);
    Some(Opened {
        ctx: ConnCtx {
            fe,
            shared,
            conn: Arc::new(info),
        },
        stream,
        is_h2,
        held: (guard, permits),
    })
}

/// Counts a failed handshake (garbage, no common version or suite, timeout) and logs it
/// as HAProxy does: `client [date] frontend/bind: SSL handshake failure`.
fn handshake_failed(fe: &FrontendRt, peer: SocketAddr, why: Option<Option<std::io::Error>>) {
    fe.counters.tls_failures.fetch_add(1, Ordering::Relaxed);
    let reason = match why {
        None => "timeout".to_string(),
        Some(Some(e)) => e.to_string(),
        Some(None) => "closed".to_string(),
    };
    tracing::debug!(frontend = %fe.name(), %peer, %reason, "TLS handshake failed");
    if fe.log {
        let line = format!(
            "{peer} [{}] {}/1: SSL handshake failure",
            accept_date(SystemTime::now()),
            fe.name()
        );
        fe.access_log.emit(&line);
    }
}

#[cfg(test)]
mod tests {
    /// The size of the future `f` returns, without calling it.
    fn future_size<A, B, C, D, E, G, F>(_: fn(A, B, C, D, E, G) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// An idle keep-alive connection is the task of [`super::serve`] waiting in HTTP/1.1:
    /// the request's state (kilobytes: head, exchange, relay) must stay boxed outside it,
    /// or every idle connection pays for it (6.3 kB of RSS per idle connection before,
    /// 1.7 kB after; scripts/bench-conns.sh). 552 bytes in a test build when written.
    #[test]
    fn a_connections_task_holds_only_its_waiting_state() {
        let size = future_size(super::serve);
        assert!(size <= 1024, "connection task state grew to {size} bytes");
    }
}
