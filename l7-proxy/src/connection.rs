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
use crate::frontend::{BindRt, ConnCtx, ConnGuard, FrontendRt, Shared};
use crate::io::within;
use crate::log::accept_date;
use crate::net::listener::Permits;
use crate::net::{ConnInfo, Stream, TlsInfo};

/// Serves an accepted connection until it ends.
pub async fn serve(
    bind: Arc<BindRt>,
    tcp: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    h2: H2Limits,
    permits: Permits,
) {
    let fe = bind.fe.clone();
    let _guard = ConnGuard::new(shared.clone(), fe.clone());
    let _permits = permits;
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
        return;
    }
    let stream = match &bind.tls {
        None => Stream::Tcp(tcp),
        Some(cfg) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(cfg.clone());
            match within(fe.cfg.settings.timeouts.client, acceptor.accept(tcp)).await {
                Some(Ok(s)) => {
                    let tls = s.get_ref().1;
                    fe.counters.tls_sessions.fetch_add(1, Ordering::Relaxed);
                    if tls.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
                        fe.counters.tls_resumed.fetch_add(1, Ordering::Relaxed);
                    }
                    info.tls = Some(TlsInfo::of(tls));
                    Stream::TlsServer(Box::new(s))
                }
                failed => {
                    handshake_failed(&fe, peer, failed.map(|r| r.err()));
                    return;
                }
            }
        }
    };
    if !fe.tcp_accepts(TcpStage::Content, &Sampler::conn(&info)) {
        fe.counters.denied_conn.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let is_h2 = info.tls.as_ref().is_some_and(TlsInfo::is_h2);
    let ctx = ConnCtx {
        fe,
        shared,
        conn: Arc::new(info),
    };
    match (ctx.fe.cfg.settings.mode, is_h2) {
        (Mode::Tcp, _) => crate::tcp::serve(ctx, stream).await,
        (Mode::Http, true) => crate::http::serve_h2(ctx, stream, h2).await,
        (Mode::Http, false) => crate::http::serve_h1(ctx, stream).await,
    }
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
