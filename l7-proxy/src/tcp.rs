//! TCP mode: route by the connection's samples, connect (with retries and redispatch),
//! then a bidirectional pipe with half-close and idle timeouts. The client side may be
//! TLS (`bind ... ssl` in TCP mode: TLS offload) and so may the server side.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::backend::connect::{Attempt, SniSource};
use crate::backend::{Backend, Server};
use crate::frontend::sample::Sampler;
use crate::frontend::ConnCtx;
use crate::io::{splice, tunnel};
use crate::log::TcpLog;
use crate::net::Stream;
use crate::stats::counters::Finished;

/// How a session ended: what the counters and the log line need.
struct Ended<'a> {
    backend: Option<&'a Backend>,
    server: Option<&'a Arc<Server>>,
    t_queue: Option<Duration>,
    t_connect: Option<Duration>,
    /// Client to server.
    bytes_in: u64,
    /// Server to client.
    bytes_out: u64,
    term: [u8; 2],
    retries: usize,
}

/// Serves one TCP-mode connection.
pub async fn serve(ctx: ConnCtx, mut client: Stream) {
    let date = SystemTime::now();
    let t0 = Instant::now();
    let fe = &ctx.fe;
    let backend = fe.route(&Sampler::conn(&ctx.conn)).cloned();
    let Some(backend) = backend else {
        let e = Ended {
            backend: None,
            server: None,
            t_queue: None,
            t_connect: None,
            bytes_in: 0,
            bytes_out: 0,
            term: *b"SC",
            retries: 0,
        };
        finish(&ctx, date, t0, e, true);
        return;
    };
    let mut attempt = Attempt::new(&backend, ctx.conn.peer.ip());
    let names = SniSource {
        host: None,
        client_sni: ctx.conn.tls.as_ref().and_then(|t| t.sni.as_deref()),
    };
    let mut up = match attempt.connect(false, names).await {
        Ok(u) => u,
        Err(e) => {
            let ended = Ended {
                backend: Some(&backend),
                server: attempt.last_server.as_ref(),
                t_queue: attempt.t_queue,
                t_connect: None,
                bytes_in: 0,
                bytes_out: 0,
                term: e.term(),
                retries: attempt.retries,
            };
            finish(&ctx, date, t0, ended, true);
            return;
        }
    };
    let (sent, received, r) = tunnel(
        &mut client,
        &[],
        &mut up.stream,
        &[],
        fe.cfg.settings.timeouts.client,
        backend.settings.timeouts.server,
        splice::modes(fe.cfg.settings.splice.with(backend.settings.splice)),
    )
    .await;
    let term = if r.is_ok() { *b"--" } else { *b"cD" };
    let ended = Ended {
        backend: Some(&backend),
        server: Some(&up.slot.server),
        t_queue: attempt.t_queue,
        t_connect: attempt.t_connect,
        bytes_in: sent,
        bytes_out: received,
        term,
        retries: attempt.retries,
    };
    let log = !(fe.cfg.settings.dontlognull && sent == 0);
    finish(&ctx, date, t0, ended, log);
}

/// Counts the session's bytes and times on its frontend, backend and server, and writes
/// its log line (unless `log` is false: `option dontlognull` and nothing was sent).
fn finish(ctx: &ConnCtx, date: SystemTime, t0: Instant, e: Ended<'_>, log: bool) {
    let fe = &ctx.fe;
    let t_total = t0.elapsed();
    let f = Finished {
        status: 0,
        bytes_in: e.bytes_in,
        bytes_out: e.bytes_out,
        queue: e.t_queue,
        connect: e.t_connect,
        response: None,
        total: t_total,
        term: e.term,
    };
    fe.counters.traffic.bytes(&f);
    for c in e.backend.iter().map(|b| &b.counters) {
        c.transferred(&f);
    }
    for c in e.server.iter().map(|s| &s.counters) {
        c.transferred(&f);
    }
    if !fe.log || !log {
        return;
    }
    let (ac, fc) = ctx.conn_counts();
    let line = TcpLog {
        client: ctx.conn.peer,
        date,
        frontend: fe.name(),
        backend: e.backend.map_or(fe.name(), |b| b.name.as_str()),
        server: e.server.map_or("<NOSRV>", |s| s.name.as_str()),
        t_queue: e.t_queue,
        t_connect: e.t_connect,
        t_total,
        bytes: e.bytes_out,
        term: e.term,
        conns: [ac, fc, 0, e.server.map_or(0, |s| s.active()), e.retries],
    };
    fe.access_log.emit(&line.format());
}
