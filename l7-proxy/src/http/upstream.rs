//! One request's way through a server: connect (with retries), send the head and body,
//! read the response head, pass interim responses and upgrades on, run the response rules
//! and relay the response. Written once for HTTP/1.1 and HTTP/2 clients.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::h1::headers::{edit_head, upstream_head_into, HeaderEdits, Upstream as HeadEnd};
use super::h1::request::{RequestHead, RequestInfo};
use super::h1::response::{read_response, RespError, ResponseHead};
use super::rules::{self, Verdict};
use super::session::{Bufs, Session};
use crate::backend::connect::{Attempt, SniSource, Upstream};
use crate::backend::{Backend, Server};
use crate::config::HttpConnMode;
use crate::frontend::ConnCtx;
use crate::io::{CopyError, Framing, SpliceMode};
use crate::net::early::{Early, EarlyReply};
use crate::net::Stream;

/// How an exchange with a server ended.
#[derive(Debug)]
pub enum Outcome {
    /// The response was relayed.
    Done {
        /// Status sent.
        status: u16,
        /// Bytes sent to the client.
        bytes: u64,
        /// The server.
        server: Option<Arc<Server>>,
        /// The client connection stays open.
        keep: bool,
    },
    /// Nothing was sent to the client yet: answer with an error page.
    Error {
        /// The status of the page.
        code: u16,
        /// Termination state.
        term: [u8; 2],
        /// The server, if one was chosen.
        server: Option<Arc<Server>>,
    },
    /// The exchange broke after the response started (or the client went away).
    Aborted {
        /// Status sent (0 if none).
        status: u16,
        /// Termination state.
        term: [u8; 2],
        /// The server.
        server: Option<Arc<Server>>,
        /// Bytes sent to the client before it broke.
        bytes: u64,
    },
}

/// Timings and retries, for the log line.
#[derive(Debug, Default)]
pub struct Trace {
    /// `%TR` (`None`: no complete head, logged -1).
    pub t_req: Option<Duration>,
    /// `%Tw`.
    pub t_queue: Option<Duration>,
    /// `%Tc`.
    pub t_connect: Option<Duration>,
    /// `%Tr`.
    pub t_resp: Option<Duration>,
    /// `%rc`.
    pub retries: usize,
    /// Bytes received from the client: the request head and the body forwarded.
    pub bytes_in: u64,
}

/// What the exchange forwards.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The connection's context.
    pub ctx: &'a ConnCtx,
    /// The request head.
    pub head: &'a RequestHead,
    /// Its framing and connection fields.
    pub info: &'a RequestInfo,
    /// The request rules' edits.
    pub edits: &'a HeaderEdits,
    /// The backend chosen.
    pub backend: &'a Arc<Backend>,
}

impl Request<'_> {
    pub(super) fn cto(&self) -> Option<Duration> {
        self.ctx.fe.cfg.settings.timeouts.client
    }
    pub(super) fn sto(&self) -> Option<Duration> {
        self.backend.settings.timeouts.server
    }
    /// How (client → server, server → client) may splice: `option splice-*` of the
    /// frontend or the backend.
    pub(super) fn splice(&self) -> [SpliceMode; 2] {
        let fe = self.ctx.fe.cfg.settings.splice;
        crate::io::splice::modes(fe.with(self.backend.settings.splice))
    }
    /// The more closing of the frontend's and backend's modes wins, as in HAProxy.
    fn mode(&self) -> HttpConnMode {
        match (
            self.ctx.fe.cfg.settings.conn_mode,
            self.backend.settings.conn_mode,
        ) {
            (HttpConnMode::Close, _) | (_, HttpConnMode::Close) => HttpConnMode::Close,
            (HttpConnMode::ServerClose, _) | (_, HttpConnMode::ServerClose) => {
                HttpConnMode::ServerClose
            }
            _ => HttpConnMode::KeepAlive,
        }
    }
    fn head_request(&self) -> bool {
        self.head.method_bytes() == b"HEAD"
    }
}

/// Per-request state across retries.
#[derive(Debug, Default)]
struct Progress {
    sent_continue: bool,
    /// The request body was not fully read from the client (the server cut it short).
    body_cut: bool,
    /// Request body bytes forwarded.
    body_bytes: u64,
}

/// Forwards one request and relays the response.
pub async fn forward(
    r: Request<'_>,
    sess: &mut Session<'_>,
    bufs: &mut Bufs,
    trace: &mut Trace,
) -> Outcome {
    let reuse = r.mode() == HttpConnMode::KeepAlive && r.info.upgrade.is_none();
    let fs = &r.ctx.fe.cfg.settings;
    // `option forwardfor` applies when the frontend or the backend has it, as in HAProxy.
    let xff = (fs.forwardfor || r.backend.settings.forwardfor).then(|| r.ctx.conn.peer.ip());
    let end = HeadEnd {
        forwarded_for: xff,
        close: !reuse && r.info.upgrade.is_none(),
    };
    upstream_head_into(r.head, r.info, r.edits, end, &mut bufs.qbuf);
    bufs.ubuf.clear();
    if bufs.ubuf.capacity() == 0 {
        bufs.ubuf = crate::io::pool::take();
    }
    let mut attempt = Attempt::new(r.backend, r.ctx.conn.peer.ip());
    let mut progress = Progress::default();
    let got = send_request(r, sess, bufs, &mut attempt, reuse, &mut progress, trace).await;
    trace.bytes_in = r.head.raw_len() as u64 + progress.body_bytes;
    trace.retries = attempt.retries;
    trace.t_queue = attempt.t_queue;
    trace.t_connect = attempt.t_connect;
    let (mut up, resp) = match got {
        Ok(x) => x,
        Err(o) => return o,
    };
    let server = Some(up.slot.server.clone());
    let resp = match interim(r, sess, bufs, &mut up.stream, resp, &progress).await {
        Ok(resp) => resp,
        Err((0, term)) => {
            return Outcome::Aborted {
                status: 100,
                term,
                server,
                bytes: 0,
            }
        }
        Err((code, term)) => return Outcome::Error { code, term, server },
    };
    if resp.status == 101 {
        // Boxed: rare, and its state would otherwise be part of every request's future.
        return Box::pin(super::upgrade::upgrade(r, sess, bufs, up, resp)).await;
    }
    respond(r, sess, bufs, up, resp, reuse, progress.body_cut).await
}

/// What one try on one server connection came to.
enum Try {
    /// The response head arrived.
    Answered(ResponseHead),
    /// The server closed before answering and nothing of the request body was consumed:
    /// the request may be replayed.
    Replayable,
    /// The exchange failed.
    Failed(Outcome),
}

/// Connects, sends the head and body, and reads the response head, retrying while
/// nothing is lost by retrying.
async fn send_request(
    r: Request<'_>,
    sess: &mut Session<'_>,
    bufs: &mut Bufs,
    attempt: &mut Attempt<'_>,
    reuse: bool,
    progress: &mut Progress,
    trace: &mut Trace,
) -> Result<(Upstream, ResponseHead), Outcome> {
    let names = SniSource {
        host: r.head.header("host"),
        client_sni: r.ctx.conn.tls.as_ref().and_then(|t| t.sni.as_deref()),
    };
    loop {
        let mut up = attempt
            .connect(reuse, names)
            .await
            .map_err(|e| Outcome::Error {
                code: 503,
                term: e.term(),
                server: attempt.last_server.clone(),
            })?;
        match try_once(r, sess, bufs, &mut up, progress, trace).await {
            Try::Answered(resp) => return Ok((up, resp)),
            Try::Failed(o) => return Err(o),
            Try::Replayable => {
                // A reused connection the server had closed is retried without counting.
                if !up.reused && !attempt.retry(&up.slot) {
                    let server = Some(up.slot.server.clone());
                    return Err(Outcome::Error {
                        code: 502,
                        term: *b"SH",
                        server,
                    });
                }
                bufs.ubuf.clear();
            }
        }
    }
}

/// Sends the request on `up` and reads the response head.
async fn try_once(
    r: Request<'_>,
    sess: &mut Session<'_>,
    bufs: &mut Bufs,
    up: &mut Upstream,
    progress: &mut Progress,
    trace: &mut Trace,
) -> Try {
    let server = Some(up.slot.server.clone());
    let tr = Instant::now();
    let sto = r.sto();
    let stream = &mut up.stream;
    // The head goes with the body's first bytes when they are here (`MSG_MORE`), never when
    // the body may wait (for a `100 Continue`, or for the client).
    let more = matches!(r.info.framing, Framing::Length(n) if n > 0) && sess.body_already_read();
    let sent = bufs
        .dl
        .run(sto, async {
            crate::io::more::write_all(stream, &bufs.qbuf, more).await?;
            stream.flush().await
        })
        .await;
    let send_failed = !matches!(sent, Some(Ok(())));
    if !send_failed && r.info.framing != Framing::None {
        // Boxed, so the body copy's state is no part of the bodiless requests' futures.
        if let Some(t) = Box::pin(send_body(r, sess, bufs, up, progress)).await {
            if let Try::Answered(_) = t {
                trace.t_resp = Some(tr.elapsed());
            }
            return t;
        }
    }
    let resp = if send_failed {
        Err(RespError::Closed { any: false })
    } else {
        read_response(
            &mut bufs.dl,
            &mut up.stream,
            &mut bufs.ubuf,
            sto,
            r.head_request(),
            &mut bufs.rbuf,
        )
        .await
    };
    match resp {
        Ok(resp) => {
            trace.t_resp = Some(tr.elapsed());
            Try::Answered(resp)
        }
        Err(RespError::Timeout) => Try::Failed(Outcome::Error {
            code: 504,
            term: *b"sH",
            server,
        }),
        // The request can be replayed only if its body was not consumed: it had none, or
        // sending the head already failed.
        Err(RespError::Closed { any: false }) if r.info.framing == Framing::None || send_failed => {
            Try::Replayable
        }
        Err(_) => Try::Failed(Outcome::Error {
            code: 502,
            term: *b"SH",
            server,
        }),
    }
}

/// Sends the request body (after a `100 Continue` of ours when the client expects one).
/// `None` when it went through; else how the try ended: the client failed, or the server
/// stopped reading, in which case its early answer (401, 413...) is taken if it is there.
async fn send_body(
    r: Request<'_>,
    sess: &mut Session<'_>,
    bufs: &mut Bufs,
    up: &mut Upstream,
    progress: &mut Progress,
) -> Option<Try> {
    let (cto, sto) = (r.cto(), r.sto());
    let chosen = up.slot.server.clone();
    let server = || Some(chosen.clone());
    if r.info.expect_continue && !progress.sent_continue && sess.is_h1() {
        // We answer the expectation ourselves (the header is not forwarded), as a proxy may.
        progress.sent_continue = true;
        if !sess.interim(b"HTTP/1.1 100 Continue\r\n\r\n", cto).await {
            return Some(Try::Failed(Outcome::Aborted {
                status: 0,
                term: *b"CR",
                server: server(),
                bytes: 0,
            }));
        }
    }
    match body_or_early_reply(sess, up, r.info.framing, [cto, sto], r.splice()[0]).await {
        Ok(n) => {
            progress.body_bytes = n;
            None
        }
        Err(CopyError::BadChunk) => Some(Try::Failed(Outcome::Error {
            code: 400,
            term: *b"PR",
            server: server(),
        })),
        // Nothing was sent to the client: logged as HAProxy does, status -1.
        Err(e @ (CopyError::Read(_) | CopyError::ReadTimeout)) => {
            Some(Try::Failed(Outcome::Aborted {
                status: 0,
                term: if matches!(e, CopyError::ReadTimeout) {
                    *b"cD"
                } else {
                    *b"CD"
                },
                server: server(),
                bytes: 0,
            }))
        }
        Err(_) => {
            progress.body_cut = true;
            let grace = Some(
                sto.unwrap_or(Duration::from_secs(1))
                    .min(Duration::from_secs(1)),
            );
            let head_req = r.head_request();
            Some(
                match read_response(
                    &mut bufs.dl,
                    &mut up.stream,
                    &mut bufs.ubuf,
                    grace,
                    head_req,
                    &mut bufs.rbuf,
                )
                .await
                {
                    Ok(resp) => Try::Answered(resp),
                    Err(_) => Try::Failed(Outcome::Error {
                        code: 502,
                        term: *b"SD",
                        server: server(),
                    }),
                },
            )
        }
    }
}

/// Copies the request body to the server, unless the server answers (or closes) first:
/// then the copy stops as if the server had stopped reading, and its answer is relayed at
/// once instead of after the client's stalled body (RFC 9112 §9.6).
async fn body_or_early_reply(
    sess: &mut Session<'_>,
    up: &mut Upstream,
    framing: Framing,
    t: [Option<Duration>; 2],
    splice: SpliceMode,
) -> Result<u64, CopyError> {
    let Some(watch) = EarlyReply::watch(&up.stream) else {
        return sess.body_to(&mut up.stream, framing, t, splice).await;
    };
    tokio::select! {
        biased;
        copied = sess.body_to(&mut up.stream, framing, t, splice) => copied,
        early = watch.answered() => Err(CopyError::Write(std::io::Error::other(match early {
            Early::Answered => "the server answered before the end of the request body",
            Early::Closed => "the server closed before the end of the request body",
        }))),
    }
}

/// Passes interim responses (1xx but 101) on and reads the final one. An error is the
/// status of the page to send (0 when the client went away) and the termination state.
async fn interim(
    r: Request<'_>,
    sess: &mut Session<'_>,
    bufs: &mut Bufs,
    up: &mut Stream,
    mut resp: ResponseHead,
    progress: &Progress,
) -> Result<ResponseHead, (u16, [u8; 2])> {
    while (100..200).contains(&resp.status) && resp.status != 101 {
        let to_client =
            (r.head.minor == 1 || r.head.http2) && !(resp.status == 100 && progress.sent_continue);
        if to_client {
            let mut h = resp.head.clone();
            h.extend_from_slice(b"\r\n");
            if !sess.interim(&h, r.cto()).await {
                return Err((0, *b"CH"));
            }
        }
        resp = match read_response(
            &mut bufs.dl,
            up,
            &mut bufs.ubuf,
            r.sto(),
            r.head_request(),
            &mut bufs.rbuf,
        )
        .await
        {
            Ok(resp) => resp,
            Err(RespError::Timeout) => return Err((504, *b"sH")),
            Err(_) => return Err((502, *b"SH")),
        };
    }
    Ok(resp)
}

/// Runs the response rules (the backend's, then the frontend's) and applies their edits;
/// when a rule answers instead (`deny`, `return`, `redirect`), sends that answer.
async fn response_rules(
    r: Request<'_>,
    sess: &mut Session<'_>,
    resp: &mut ResponseHead,
    server: &Option<Arc<Server>>,
) -> Option<Outcome> {
    let fe = &r.ctx.fe;
    let mut edits = HeaderEdits::default();
    for list in [&r.backend.http_response, &fe.cfg.http_response] {
        let v = rules::response(
            list,
            &r.ctx.conn,
            r.head,
            resp,
            &mut edits,
            &fe.cfg.settings.errorfiles,
        );
        if let Verdict::Reply {
            raw,
            status,
            denied,
        } = v
        {
            if denied {
                let all = [&fe.counters.traffic, &r.backend.counters];
                let server = server.iter().map(|s| &s.counters);
                for c in all.into_iter().chain(server) {
                    c.denied_resp.fetch_add(1, Ordering::Relaxed);
                }
            }
            // The server's body is left unread: its connection is not reused.
            let bytes = sess.reply(&raw, r.cto()).await;
            let server = server.clone();
            return Some(Outcome::Done {
                status,
                bytes,
                server,
                keep: false,
            });
        }
    }
    edit_head(&mut resp.head, &edits);
    None
}

/// Runs the response rules (the backend's, then the frontend's), sends the response and
/// relays its body; the server connection goes back to the pool when it can be reused.
/// `body_cut`: the server answered before reading the whole request body, so neither
/// connection can carry another request.
async fn respond(
    r: Request<'_>,
    sess: &mut Session<'_>,
    bufs: &mut Bufs,
    mut up: Upstream,
    mut resp: ResponseHead,
    reuse: bool,
    body_cut: bool,
) -> Outcome {
    let server = Some(up.slot.server.clone());
    let fe = &r.ctx.fe;
    if let Some(o) = response_rules(r, sess, &mut resp, &server).await {
        return o;
    }
    // Retired by a reload or a soft stop: finish this response, then close.
    let stopping = *fe.retired.borrow();
    let client_close = r.info.close
        || body_cut
        || r.mode() == HttpConnMode::Close
        || resp.framing == Framing::UntilClose
        || stopping;
    let server_keep =
        reuse && !body_cut && !resp.close && resp.minor == 1 && resp.framing != Framing::UntilClose;
    let connection = if client_close {
        Some("close")
    } else if r.head.minor == 0 && !r.head.http2 {
        Some("keep-alive")
    } else {
        None
    };
    let mut head = std::mem::take(&mut resp.head);
    let relayed = sess
        .respond(
            &mut head,
            connection,
            &mut up.stream,
            &mut bufs.ubuf,
            resp.framing,
            [r.cto(), r.sto()],
            r.splice()[1],
        )
        .await;
    bufs.rbuf = head;
    match relayed {
        Ok(bytes) => {
            if server_keep && bufs.ubuf.is_empty() {
                up.slot.server.put_idle(up.stream, up.sni);
            }
            Outcome::Done {
                status: resp.status,
                bytes,
                server,
                keep: !client_close,
            }
        }
        Err((e, bytes)) => {
            let term = match e {
                CopyError::Write(_) | CopyError::WriteTimeout => *b"CD",
                CopyError::ReadTimeout => *b"sD",
                _ => *b"SD",
            };
            Outcome::Aborted {
                status: resp.status,
                term,
                server,
                bytes,
            }
        }
    }
}
