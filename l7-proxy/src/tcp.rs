//! TCP mode: pick a server (with retries/redispatch), then a bidirectional tunnel with
//! half-close propagation and idle timeouts.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use tokio::net::TcpStream;

use crate::io::{tunnel, within};
use crate::log::tcp_log;
use crate::runtime::ConnCtx;

/// Serves one TCP-mode connection.
pub async fn serve(ctx: ConnCtx, client: TcpStream, peer: SocketAddr) {
    let date = SystemTime::now();
    let t0 = Instant::now();
    let fe = &ctx.fe;
    let _ = client.set_nodelay(true);
    let Some(backend) = fe.default.clone().or_else(|| {
        fe.rules
            .iter()
            .find(|(c, _)| c.is_none())
            .map(|(_, b)| b.clone())
    }) else {
        log(
            &ctx,
            peer,
            date,
            &fe.cfg.name,
            "<NOSRV>",
            None,
            None,
            t0,
            0,
            *b"SC",
            0,
            0,
        );
        return;
    };
    let bs = &backend.settings;
    let queue_to = bs
        .timeouts
        .queue
        .or(bs.timeouts.connect)
        .unwrap_or(Duration::from_secs(5));
    let mut exclude = Vec::new();
    let mut retries_left = bs.retries;
    let mut retries = 0;
    // No server could be had: none up (SC), or the queue timed out (sQ).
    let log_no_server = |state: [u8; 2], retries| {
        log(
            &ctx,
            peer,
            date,
            &backend.name,
            "<NOSRV>",
            None,
            None,
            t0,
            0,
            state,
            0,
            retries,
        )
    };
    let (slot, up, tq, tc) = loop {
        let Some(idx) = backend.pick(peer.ip(), &exclude) else {
            log_no_server(*b"SC", retries);
            return;
        };
        let q = Instant::now();
        let Ok(slot) = backend.acquire(idx, queue_to).await else {
            log_no_server(*b"sQ", retries);
            return;
        };
        let tq = q.elapsed();
        let c = Instant::now();
        match within(bs.timeouts.connect, TcpStream::connect(slot.server.addr)).await {
            Some(Ok(s)) => {
                let _ = s.set_nodelay(true);
                break (slot, s, tq, c.elapsed());
            }
            failed => {
                tracing::warn!(frontend = %fe.cfg.name, "connect to {}/{} ({}) failed", backend.name, slot.server.name, slot.server.addr);
                if retries_left == 0 {
                    // HAProxy: `sC` when `timeout connect` expired, `SC` when refused.
                    let term = if failed.is_none() { *b"sC" } else { *b"SC" };
                    log(
                        &ctx,
                        peer,
                        date,
                        &backend.name,
                        &slot.server.name,
                        Some(tq),
                        None,
                        t0,
                        0,
                        term,
                        slot.server.active(),
                        retries,
                    );
                    return;
                }
                retries_left -= 1;
                retries += 1;
                if bs.redispatch {
                    exclude.push(idx);
                }
            }
        }
    };
    let (a, b, r) = tunnel(
        client,
        &[],
        up,
        &[],
        fe.cfg.settings.timeouts.client,
        bs.timeouts.server,
    )
    .await;
    let term = if r.is_ok() { *b"--" } else { *b"cD" };
    if !(fe.cfg.settings.dontlognull && a == 0) {
        log(
            &ctx,
            peer,
            date,
            &backend.name,
            &slot.server.name,
            Some(tq),
            Some(tc),
            t0,
            b,
            term,
            slot.server.active(),
            retries,
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn log(
    ctx: &ConnCtx,
    peer: SocketAddr,
    date: SystemTime,
    backend: &str,
    server: &str,
    tq: Option<Duration>,
    tc: Option<Duration>,
    t0: Instant,
    bytes: u64,
    term: [u8; 2],
    sactive: usize,
    retries: usize,
) {
    if !ctx.fe.log {
        return;
    }
    let line = tcp_log(
        peer,
        date,
        &ctx.fe.cfg.name,
        backend,
        server,
        tq,
        tc,
        t0.elapsed(),
        bytes,
        term,
        [
            ctx.shared.active.load(Ordering::Relaxed),
            ctx.fe.active.load(Ordering::Relaxed),
            0,
            sactive,
            retries,
        ],
    );
    ctx.fe.access_log.emit(&line);
}
