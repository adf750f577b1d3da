//! One request, whatever the protocol it came by: checks, the frontend's rules, the
//! statistics page, routing, the backend's rules, forwarding, and the access log line.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::builtin;
use super::h1::headers::{Edited, HeaderEdits};
use super::h1::request::{analyze, RequestHead};
use super::rules::{self, Verdict};
use super::session::{Bufs, Session};
use super::upstream::{forward, Outcome, Request, Trace};
use crate::backend::{Backend, Server};
use crate::frontend::sample::Sampler;
use crate::frontend::ConnCtx;
use crate::log::HttpLog;

/// When a request started, for its log line.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    /// The instant of its first byte (`%tr`).
    pub at: Instant,
    /// The wall-clock date of that instant (only computed when logging).
    pub date: SystemTime,
}

/// What the log line says about a request that was answered.
pub(super) struct Answered<'a> {
    backend: &'a str,
    server: Option<Arc<Server>>,
    /// The server field when no server answered: `<NOSRV>`, or `<STATS>`.
    label: &'static str,
    status: u16,
    bytes: u64,
    term: [u8; 2],
    trace: Trace,
    backend_active: usize,
}

/// Handles one request; returns whether the client connection stays open.
pub async fn handle(
    ctx: &ConnCtx,
    sess: &mut Session<'_>,
    bufs: &mut Bufs,
    head: RequestHead,
    t: Started,
) -> bool {
    let fe = &ctx.fe;
    fe.counters.requests.fetch_add(1, Ordering::Relaxed);
    let reqline = if fe.log {
        head.request_line()
    } else {
        String::new()
    };
    let cto = fe.cfg.settings.timeouts.client;
    let errorfiles = &fe.cfg.settings.errorfiles;
    let mut trace = Trace {
        t_req: Some(t.at.elapsed()),
        ..Trace::default()
    };
    let info = match analyze(&head) {
        Ok(i) => i,
        Err(code) => {
            let bytes = sess
                .reply(&builtin::error_page(code, errorfiles), cto)
                .await;
            log(
                ctx,
                t,
                &reqline,
                answered_locally(fe.name(), code, bytes, *b"PR", trace),
            );
            return false;
        }
    };
    let mut edits = HeaderEdits::default();
    if let Some(keep) = reply_by_rules(
        ctx,
        sess,
        &fe.cfg.http_request,
        &head,
        &mut edits,
        t,
        &reqline,
    )
    .await
    {
        return keep && !info.close;
    }
    let fs = &fe.cfg.settings;
    if let (Some(uri), Some(view)) = (&fs.stats_uri, fe.stats.get()) {
        if head.uri().starts_with(uri.as_str()) {
            // A request body is not read here: close rather than parse it as the next request.
            let keep = !info.close && info.framing == crate::io::Framing::None;
            if !builtin::stats_authorized(&fs.stats_auth, &head) {
                let page = builtin::stats_unauthorized(fs.stats_realm.as_deref());
                let bytes = sess.reply(&page, cto).await;
                log(
                    ctx,
                    t,
                    &reqline,
                    answered_locally(fe.name(), 401, bytes, *b"PR", trace),
                );
                return bytes > 0 && keep;
            }
            let bytes = sess
                .reply(&builtin::stats(view, head.uri(), !keep), cto)
                .await;
            let mut a = answered_locally(fe.name(), 200, bytes, *b"LR", trace);
            a.label = "<STATS>";
            log(ctx, t, &reqline, a);
            return bytes > 0 && keep;
        }
    }
    let backend = {
        let view = Edited {
            msg: &head,
            edits: &edits,
        };
        let s = Sampler {
            conn: &ctx.conn,
            req: Some(&view),
            res: None,
        };
        fe.route(&s).cloned()
    };
    let Some(backend) = backend else {
        let bytes = sess.reply(&builtin::error_page(503, errorfiles), cto).await;
        log(
            ctx,
            t,
            &reqline,
            answered_locally(fe.name(), 503, bytes, *b"SC", trace),
        );
        return false;
    };
    if let Some(keep) = reply_by_rules(
        ctx,
        sess,
        &backend.http_request,
        &head,
        &mut edits,
        t,
        &reqline,
    )
    .await
    {
        return keep && !info.close;
    }
    let r = Request {
        ctx,
        head: &head,
        info: &info,
        edits: &edits,
        backend: &backend,
    };
    let outcome = forward(r, sess, bufs, &mut trace).await;
    bufs.ubuf.clear();
    let (a, keep) = match outcome {
        Outcome::Done {
            status,
            bytes,
            server,
            keep,
        } => (answer(&backend, server, status, bytes, *b"--", trace), keep),
        Outcome::Error { code, term, server } => {
            let page = builtin::error_page(code, &backend.settings.errorfiles);
            let bytes = sess.reply(&page, cto).await;
            (answer(&backend, server, code, bytes, term, trace), false)
        }
        Outcome::Aborted {
            status,
            term,
            server,
            bytes,
        } => (answer(&backend, server, status, bytes, term, trace), false),
    };
    log(ctx, t, &reqline, a);
    keep
}

/// Runs request rules; when they answer (deny, return, redirect), sends the answer, logs
/// it and returns whether the connection may stay open.
async fn reply_by_rules(
    ctx: &ConnCtx,
    sess: &mut Session<'_>,
    list: &[crate::config::HttpRule],
    head: &RequestHead,
    edits: &mut HeaderEdits,
    t: Started,
    reqline: &str,
) -> Option<bool> {
    let fe = &ctx.fe;
    let v = rules::request(list, &ctx.conn, head, edits, &fe.cfg.settings.errorfiles);
    let Verdict::Reply {
        raw,
        status,
        denied,
    } = v
    else {
        return None;
    };
    if denied {
        fe.counters.denied_req.fetch_add(1, Ordering::Relaxed);
    }
    let bytes = sess.reply(&raw, fe.cfg.settings.timeouts.client).await;
    let term = if denied { *b"PR" } else { *b"LR" };
    let trace = Trace {
        t_req: Some(t.at.elapsed()),
        ..Trace::default()
    };
    log(
        ctx,
        t,
        reqline,
        answered_locally(fe.name(), status, bytes, term, trace),
    );
    // A request body is not read here: HTTP/1.1 closes unless there is none.
    Some(
        !denied
            && bytes > 0
            && head.header("content-length").is_none()
            && head.header("transfer-encoding").is_none(),
    )
}

pub(super) fn answered_locally(
    frontend: &str,
    status: u16,
    bytes: u64,
    term: [u8; 2],
    trace: Trace,
) -> Answered<'_> {
    Answered {
        backend: frontend,
        server: None,
        label: "<NOSRV>",
        status,
        bytes,
        term,
        trace,
        backend_active: 0,
    }
}

fn answer(
    backend: &Backend,
    server: Option<Arc<Server>>,
    status: u16,
    bytes: u64,
    term: [u8; 2],
    trace: Trace,
) -> Answered<'_> {
    Answered {
        backend: &backend.name,
        server,
        label: "<NOSRV>",
        status,
        bytes,
        term,
        trace,
        backend_active: backend.active(),
    }
}

pub(super) fn log(ctx: &ConnCtx, t: Started, reqline: &str, a: Answered<'_>) {
    let fe = &ctx.fe;
    if !fe.log {
        return;
    }
    let (sname, sactive, squeue) = match &a.server {
        Some(s) => (s.name.as_str(), s.active(), s.queued()),
        None => (a.label, 0, 0),
    };
    let (ac, fc) = ctx.conn_counts();
    let line = HttpLog {
        client: ctx.conn.peer,
        date: t.date,
        frontend: fe.name(),
        backend: a.backend,
        server: sname,
        t_req: a.trace.t_req,
        t_queue: a.trace.t_queue,
        t_connect: a.trace.t_connect,
        t_resp: a.trace.t_resp,
        t_total: t.at.elapsed(),
        status: a.status,
        bytes: a.bytes,
        term: a.term,
        conns: [ac, fc, a.backend_active, sactive, a.trace.retries],
        queues: [squeue, 0],
        request: reqline,
    }
    .format();
    fe.access_log.emit(&line);
}
