//! One request, whatever the protocol it came by: checks, the frontend's rules, the
//! statistics page, routing, the backend's rules, forwarding, and the access log line.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::builtin;
use super::h1::headers::{Edited, HeaderEdits};
use super::h1::request::{analyze, RequestHead, RequestInfo};
use super::rules::{self, Verdict};
use super::session::{Bufs, Session};
use super::upstream::{forward, Outcome, Request, Trace};
use crate::backend::{Backend, Server};
use crate::config::{HttpRule, Service};
use crate::frontend::sample::Sampler;
use crate::frontend::{ConnCtx, FrontendRt};
use crate::io::Framing;
use crate::log::HttpLog;
use crate::stats::counters::Finished;

/// When a request started, for its log line.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    /// The instant of its first byte (`%tr`).
    pub at: Instant,
    /// The wall-clock date of that instant (only computed when logging).
    pub date: SystemTime,
}

/// How a request was answered: what the counters and the log line need.
#[derive(Debug)]
pub(super) struct Answered<'a> {
    /// The backend that took it; `None`: the frontend answered.
    backend: Option<&'a Backend>,
    server: Option<Arc<Server>>,
    /// The server field when no server answered: `<NOSRV>`, or `<STATS>`.
    label: &'static str,
    status: u16,
    bytes: u64,
    term: [u8; 2],
    trace: Trace,
}

impl<'a> Answered<'a> {
    /// Answered by the proxy itself.
    pub(super) fn locally(status: u16, bytes: u64, term: [u8; 2], trace: Trace) -> Answered<'a> {
        Answered {
            backend: None,
            server: None,
            label: "<NOSRV>",
            status,
            bytes,
            term,
            trace,
        }
    }

    fn by(
        backend: &'a Backend,
        server: Option<Arc<Server>>,
        status: u16,
        bytes: u64,
        term: [u8; 2],
        trace: Trace,
    ) -> Answered<'a> {
        Answered {
            backend: Some(backend),
            server,
            label: "<NOSRV>",
            status,
            bytes,
            term,
            trace,
        }
    }
}

/// One request's context for the answers the proxy gives itself.
struct Here<'a> {
    ctx: &'a ConnCtx,
    t: Started,
    reqline: &'a str,
    /// The request head's size, the bytes received of a request answered here.
    head_len: u64,
}

impl Here<'_> {
    /// Sends a response the proxy made and logs it; returns the bytes sent.
    async fn reply(
        &self,
        sess: &mut Session<'_>,
        raw: &[u8],
        status: u16,
        term: [u8; 2],
        label: &'static str,
    ) -> u64 {
        let fe = &self.ctx.fe;
        let bytes = sess.reply(raw, fe.cfg.settings.timeouts.client).await;
        let trace = Trace {
            t_req: Some(self.t.at.elapsed()),
            bytes_in: self.head_len,
            ..Trace::default()
        };
        let mut a = Answered::locally(status, bytes, term, trace);
        a.label = label;
        finish(self.ctx, self.t, self.reqline, a);
        bytes
    }

    /// An error page in the frontend's name; a 4xx counts as a bad request.
    async fn error(&self, sess: &mut Session<'_>, status: u16, term: [u8; 2]) {
        let fe = &self.ctx.fe;
        if (400..500).contains(&status) {
            fe.counters
                .traffic
                .req_errors
                .fetch_add(1, Ordering::Relaxed);
        }
        let page = builtin::error_page(status, &fe.cfg.settings.errorfiles);
        self.reply(sess, &page, status, term, "<NOSRV>").await;
    }
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
    let reqline = if fe.log {
        head.request_line()
    } else {
        String::new()
    };
    let here = Here {
        ctx,
        t,
        reqline: &reqline,
        head_len: head.raw_len() as u64,
    };
    let mut trace = Trace {
        t_req: Some(t.at.elapsed()),
        ..Trace::default()
    };
    let info = match analyze(&head) {
        Ok(i) => i,
        Err(code) => {
            here.error(sess, code, *b"PR").await;
            return false;
        }
    };
    let mut edits = HeaderEdits::default();
    if let Some(keep) = reply_by_rules(&here, sess, &fe.cfg.http_request, &head, &mut edits).await {
        return keep && !info.close;
    }
    if let Some(keep) = stats_page(&here, sess, &head, &info).await {
        return keep;
    }
    let Some(backend) = route(ctx, &head, &edits) else {
        here.error(sess, 503, *b"SC").await;
        return false;
    };
    if let Some(keep) = reply_by_rules(&here, sess, &backend.http_request, &head, &mut edits).await
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
    let (a, keep) = answered(
        sess,
        &backend,
        outcome,
        trace,
        fe.cfg.settings.timeouts.client,
    )
    .await;
    finish(ctx, t, &reqline, a);
    keep
}

/// The log line's view of how the exchange ended (an error page is sent here), and
/// whether the client connection stays open.
async fn answered<'b>(
    sess: &mut Session<'_>,
    backend: &'b Backend,
    outcome: Outcome,
    trace: Trace,
    cto: Option<std::time::Duration>,
) -> (Answered<'b>, bool) {
    match outcome {
        Outcome::Done {
            status,
            bytes,
            server,
            keep,
        } => (
            Answered::by(backend, server, status, bytes, *b"--", trace),
            keep,
        ),
        Outcome::Error { code, term, server } => {
            let page = builtin::error_page(code, &backend.settings.errorfiles);
            let bytes = sess.reply(&page, cto).await;
            (
                Answered::by(backend, server, code, bytes, term, trace),
                false,
            )
        }
        Outcome::Aborted {
            status,
            term,
            server,
            bytes,
        } => (
            Answered::by(backend, server, status, bytes, term, trace),
            false,
        ),
    }
}

/// The backend `use_backend` rules (or `default_backend`) choose, on the request as the
/// rules edited it.
fn route(ctx: &ConnCtx, head: &RequestHead, edits: &HeaderEdits) -> Option<Arc<Backend>> {
    let view = Edited { msg: head, edits };
    let s = Sampler {
        conn: &ctx.conn,
        req: Some(&view),
        res: None,
    };
    ctx.fe.route(&s).cloned()
}

/// The statistics page, when the request is for it: `Some(keep)` once answered.
async fn stats_page(
    here: &Here<'_>,
    sess: &mut Session<'_>,
    head: &RequestHead,
    info: &RequestInfo,
) -> Option<bool> {
    let fe = &here.ctx.fe;
    let fs = &fe.cfg.settings;
    let (uri, view) = (fs.stats_uri.as_ref()?, fe.stats.get()?);
    if !head.uri().starts_with(uri.as_str()) {
        return None;
    }
    // A request body is not read here: close rather than parse it as the next request.
    let keep = !info.close && info.framing == Framing::None;
    let bytes = if builtin::stats_authorized(&fs.stats_auth, head) {
        let page = builtin::stats(view, fs, head.uri(), !keep);
        here.reply(sess, &page, 200, *b"LR", "<STATS>").await
    } else {
        let page = builtin::stats_unauthorized(fs.stats_realm.as_deref());
        here.reply(sess, &page, 401, *b"PR", "<STATS>").await
    };
    Some(bytes > 0 && keep)
}

/// `use-service prometheus-exporter`: the statistics in Prometheus format; `Some(keep)`.
async fn prometheus_exporter(here: &Here<'_>, sess: &mut Session<'_>, head: &RequestHead) -> bool {
    let fe = &here.ctx.fe;
    let Some(view) = fe.stats.get() else {
        here.error(sess, 503, *b"SC").await;
        return false;
    };
    fe.counters.intercepted.fetch_add(1, Ordering::Relaxed);
    let bodiless =
        head.header("content-length").is_none() && head.header("transfer-encoding").is_none();
    let page = builtin::prometheus(view, !bodiless);
    let bytes = here.reply(sess, &page, 200, *b"LR", "<PROMEX>").await;
    bytes > 0 && bodiless
}

/// Runs request rules; when they answer (deny, return, redirect), sends the answer, logs
/// it and returns whether the connection may stay open.
async fn reply_by_rules(
    here: &Here<'_>,
    sess: &mut Session<'_>,
    list: &[HttpRule],
    head: &RequestHead,
    edits: &mut HeaderEdits,
) -> Option<bool> {
    let fe = &here.ctx.fe;
    let v = rules::request(
        list,
        &here.ctx.conn,
        head,
        edits,
        &fe.cfg.settings.errorfiles,
    );
    let (raw, status, denied) = match v {
        Verdict::Continue => return None,
        Verdict::Service(Service::PrometheusExporter) => {
            return Some(prometheus_exporter(here, sess, head).await)
        }
        Verdict::Reply {
            raw,
            status,
            denied,
        } => (raw, status, denied),
    };
    if denied {
        fe.counters
            .traffic
            .denied_req
            .fetch_add(1, Ordering::Relaxed);
    } else {
        fe.counters.intercepted.fetch_add(1, Ordering::Relaxed);
    }
    let term = if denied { *b"PR" } else { *b"LR" };
    let bytes = here.reply(sess, &raw, status, term, "<NOSRV>").await;
    // A request body is not read here: HTTP/1.1 closes unless there is none.
    let bodiless =
        head.header("content-length").is_none() && head.header("transfer-encoding").is_none();
    Some(!denied && bytes > 0 && bodiless)
}

/// Counts a finished request on its frontend, backend and server, and writes its access
/// log line.
pub(super) fn finish(ctx: &ConnCtx, t: Started, reqline: &str, a: Answered<'_>) {
    let fe = &ctx.fe;
    let end = Instant::now();
    let f = Finished {
        status: a.status,
        bytes_in: a.trace.bytes_in,
        bytes_out: a.bytes,
        queue: a.trace.t_queue,
        connect: a.trace.t_connect,
        response: a.trace.t_resp,
        total: end.saturating_duration_since(t.at),
        term: a.term,
    };
    let now = crate::stats::counters::ms_at(end);
    count(fe, a.backend, a.server.as_deref(), &f, now);
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
        backend: a.backend.map_or(fe.name(), |b| b.name.as_str()),
        server: sname,
        t_req: a.trace.t_req,
        t_queue: a.trace.t_queue,
        t_connect: a.trace.t_connect,
        t_resp: a.trace.t_resp,
        t_total: f.total,
        status: a.status,
        bytes: a.bytes,
        term: a.term,
        conns: [
            ac,
            fc,
            a.backend.map_or(0, |b| b.active()),
            sactive,
            a.trace.retries,
        ],
        queues: [squeue, 0],
        request: reqline,
    }
    .format();
    fe.access_log.emit(&line);
}

/// The counters a finished request adds to: every object it went through, and the error
/// counters its termination state names (HAProxy's `ereq`, `eresp`; `econ` is counted
/// where connects fail).
fn count(
    fe: &FrontendRt,
    backend: Option<&Backend>,
    server: Option<&Server>,
    f: &Finished,
    now: u64,
) {
    fe.counters.traffic.request(f, now);
    let on_path = backend
        .map(|b| &b.counters)
        .into_iter()
        .chain(server.map(|s| &s.counters));
    for c in on_path {
        c.forwarded(f, now);
        // A server that answered badly, late or not at all once connected.
        if matches!(f.term, [b'S' | b's', b'H']) {
            c.resp_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A request the client got wrong or never finished (HAProxy's `ereq`), answered with the
/// error page `code` (`bytes` sent): counted and logged.
pub(super) fn bad_request(
    ctx: &ConnCtx,
    t: Started,
    reqline: &str,
    (code, bytes, term): (u16, u64, [u8; 2]),
) {
    let fe = &ctx.fe;
    fe.counters
        .traffic
        .req_errors
        .fetch_add(1, Ordering::Relaxed);
    finish(
        ctx,
        t,
        reqline,
        Answered::locally(code, bytes, term, Trace::default()),
    );
}
