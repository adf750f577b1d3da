//! TCP mode: route by the connection's samples, connect (with retries and redispatch),
//! then a bidirectional pipe with half-close and idle timeouts. The client side may be
//! TLS (`bind ... ssl` in TCP mode: TLS offload) and so may the server side.

use std::time::{Duration, Instant, SystemTime};

use crate::backend::connect::{Attempt, SniSource};
use crate::frontend::sample::Sampler;
use crate::frontend::ConnCtx;
use crate::io::tunnel;
use crate::log::TcpLog;
use crate::net::Stream;

/// What the log line needs.
struct Ended<'a> {
    backend: &'a str,
    server: &'a str,
    t_queue: Option<Duration>,
    t_connect: Option<Duration>,
    bytes: u64,
    term: [u8; 2],
    server_active: usize,
    retries: usize,
}

/// Serves one TCP-mode connection.
pub async fn serve(ctx: ConnCtx, mut client: Stream) {
    let date = SystemTime::now();
    let t0 = Instant::now();
    let fe = &ctx.fe;
    let backend = fe.route(&Sampler::conn(&ctx.conn)).cloned();
    let Some(backend) = backend else {
        log(
            &ctx,
            date,
            t0,
            Ended {
                backend: fe.name(),
                server: "<NOSRV>",
                t_queue: None,
                t_connect: None,
                bytes: 0,
                term: *b"SC",
                server_active: 0,
                retries: 0,
            },
        );
        return;
    };
    let mut attempt = Attempt::new(&backend, ctx.conn.peer.ip(), true);
    let names = SniSource {
        host: None,
        client_sni: ctx.conn.tls.as_ref().and_then(|t| t.sni.as_deref()),
    };
    let mut up = match attempt.connect(false, names).await {
        Ok(u) => u,
        Err(e) => {
            let server = attempt.last_server.as_ref();
            log(
                &ctx,
                date,
                t0,
                Ended {
                    backend: &backend.name,
                    server: server.map_or("<NOSRV>", |s| s.name.as_str()),
                    t_queue: attempt.t_queue,
                    t_connect: None,
                    bytes: 0,
                    term: e.term(),
                    server_active: server.map_or(0, |s| s.active()),
                    retries: attempt.retries,
                },
            );
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
    )
    .await;
    let term = if r.is_ok() { *b"--" } else { *b"cD" };
    if !(fe.cfg.settings.dontlognull && sent == 0) {
        let s = &up.slot.server;
        log(
            &ctx,
            date,
            t0,
            Ended {
                backend: &backend.name,
                server: &s.name,
                t_queue: attempt.t_queue,
                t_connect: attempt.t_connect,
                bytes: received,
                term,
                server_active: s.active(),
                retries: attempt.retries,
            },
        );
    }
}

fn log(ctx: &ConnCtx, date: SystemTime, t0: Instant, e: Ended<'_>) {
    if !ctx.fe.log {
        return;
    }
    let (ac, fc) = ctx.conn_counts();
    let line = TcpLog {
        client: ctx.conn.peer,
        date,
        frontend: ctx.fe.name(),
        backend: e.backend,
        server: e.server,
        t_queue: e.t_queue,
        t_connect: e.t_connect,
        t_total: t0.elapsed(),
        bytes: e.bytes,
        term: e.term,
        conns: [ac, fc, 0, e.server_active, e.retries],
    };
    ctx.fe.access_log.emit(&line.format());
}
