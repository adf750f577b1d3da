//! HTTP/1.1 proxying: one client connection, many requests (keep-alive), each forwarded on
//! a pooled upstream connection with bodies streamed through bounded buffers.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::backend::{Backend, PickError, ServerSlot};
use crate::config::{HttpConnMode, ProxySettings};
use crate::errors::error_response;
use crate::io::{copy_body, within, CopyError, Deadline, Framing, BUF};
use crate::log::HttpLog;
use crate::runtime::ConnCtx;

/// Most headers accepted in a head (more is 431).
pub const MAX_HEADERS: usize = 100;

/// A parsed request head; fields are ranges into `raw`.
#[derive(Debug, Clone)]
pub struct RequestHead {
    raw: Bytes,
    method: Range<usize>,
    uri: Range<usize>,
    /// HTTP/1.`minor`.
    pub minor: u8,
    headers: Vec<(Range<usize>, Range<usize>)>,
}

impl RequestHead {
    /// The method.
    pub fn method(&self) -> &str {
        std::str::from_utf8(&self.raw[self.method.clone()]).unwrap_or("")
    }
    /// The request target as sent.
    pub fn uri(&self) -> &str {
        std::str::from_utf8(&self.raw[self.uri.clone()]).unwrap_or("")
    }
    /// All (name, value) pairs.
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (&self.raw[n.clone()], &self.raw[v.clone()]))
    }
    /// Values of header `name` (case-insensitive), as text.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.headers()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| String::from_utf8_lossy(v).trim().to_string())
            .collect()
    }
    /// The path (no query), also for absolute-form targets.
    pub fn path(&self) -> &str {
        let u = self.uri();
        let u = match u.find("://") {
            Some(p) => u[p + 3..].find('/').map(|q| &u[p + 3 + q..]).unwrap_or("/"),
            None => u,
        };
        u.split('?').next().unwrap_or(u)
    }
}

/// Why a head could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// The peer closed (or went idle) before sending anything: close silently.
    Closed,
    /// Reply with this status and close.
    Status(u16),
}

fn offset(base: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(base.as_ptr() as usize);
    start..start + part.len()
}

/// Parses a complete request head at the start of `buf`. `Ok(None)` means incomplete.
/// On success the head is split off `buf`.
pub fn parse_request(buf: &mut BytesMut) -> Result<Option<RequestHead>, HeadError> {
    let mut hdrs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut hdrs);
    let n = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::Status(431)),
        Err(_) => return Err(HeadError::Status(400)),
    };
    let base: &[u8] = buf;
    let method = offset(base, req.method.unwrap_or("").as_bytes());
    let uri = offset(base, req.path.unwrap_or("").as_bytes());
    let minor = req.version.unwrap_or(1);
    let headers = req
        .headers
        .iter()
        .map(|h| (offset(base, h.name.as_bytes()), offset(base, h.value)))
        .collect();
    let raw = buf.split_to(n).freeze();
    Ok(Some(RequestHead {
        raw,
        method,
        uri,
        minor,
        headers,
    }))
}

/// What the proxy needs to know about a request beyond its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// Body framing.
    pub framing: Framing,
    /// The client asked to close after this request.
    pub close: bool,
    /// `Upgrade` value when the client asked for a protocol upgrade.
    pub upgrade: Option<String>,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
    /// Lower-cased `Connection` tokens naming extra hop-by-hop headers (other than
    /// `close`, `keep-alive` and `upgrade`).
    pub conn_tokens: Vec<String>,
}

/// The comma-separated tokens of a header value, trimmed, without allocating.
fn tokens(v: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    v.split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// Checks a request's framing and connection headers; an error is the status to reply.
pub fn analyze(h: &RequestHead) -> Result<RequestInfo, u16> {
    let mut cl: Option<u64> = None;
    // Transfer-Encoding codings: how many, and whether any is not `chunked`.
    let (mut te_n, mut te_other) = (0usize, false);
    let (mut c_close, mut c_keep, mut c_upgrade) = (false, false, false);
    let mut conn_tokens = Vec::new();
    let mut upgrade = None;
    let mut expect_continue = false;
    let mut host = 0;
    for (name, value) in h.headers() {
        if name.eq_ignore_ascii_case(b"content-length") {
            for part in value.split(|&b| b == b',') {
                let part = part.trim_ascii();
                if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
                    return Err(400);
                }
                // More than 18 digits cannot be a body we would ever stream.
                if part.len() > 18 {
                    return Err(413);
                }
                let n: u64 = std::str::from_utf8(part)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or(400u16)?;
                match cl {
                    Some(prev) if prev != n => return Err(400),
                    _ => cl = Some(n),
                }
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let before = te_n;
            for t in tokens(value) {
                te_n += 1;
                te_other |= !t.eq_ignore_ascii_case(b"chunked");
            }
            // A Transfer-Encoding header naming no coding is malformed; ignoring it would
            // forward it beside a Content-Length for the server to read its own way (found
            // by the http_head fuzz target).
            if te_n == before {
                return Err(400);
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for t in tokens(value) {
                if t.eq_ignore_ascii_case(b"close") {
                    c_close = true;
                } else if t.eq_ignore_ascii_case(b"keep-alive") {
                    c_keep = true;
                } else if t.eq_ignore_ascii_case(b"upgrade") {
                    c_upgrade = true;
                } else {
                    conn_tokens.push(String::from_utf8_lossy(t).to_ascii_lowercase());
                }
            }
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            upgrade = Some(String::from_utf8_lossy(value).trim().to_string());
        } else if name.eq_ignore_ascii_case(b"expect") {
            if value.trim_ascii().eq_ignore_ascii_case(b"100-continue") {
                expect_continue = true;
            } else {
                // RFC 9110: an unknown expectation may be answered with 417; HAProxy
                // rejects with 400 too.
                return Err(400);
            }
        } else if name.eq_ignore_ascii_case(b"host") {
            host += 1;
        }
    }
    if h.method() == "CONNECT" {
        return Err(501);
    }
    if host > 1 || (host == 0 && h.minor == 1) {
        return Err(400);
    }
    let framing = if te_n > 0 {
        if cl.is_some() || h.minor == 0 {
            // Ambiguous framing: the classic request-smuggling vector.
            return Err(400);
        }
        if te_n != 1 || te_other {
            return Err(501);
        }
        Framing::Chunked
    } else {
        match cl {
            Some(0) | None => Framing::None,
            Some(n) => Framing::Length(n),
        }
    };
    let close = c_close || (h.minor == 0 && !c_keep);
    let upgrade = if c_upgrade && h.minor == 1 {
        upgrade
    } else {
        None
    };
    Ok(RequestInfo {
        framing,
        close,
        upgrade,
        expect_continue,
        conn_tokens,
    })
}

/// Hop-by-hop headers (RFC 9110 7.6.1). `Trailer` is not one: it announces the trailer
/// fields of a chunked body and travels end to end with them (RFC 2616 listed it by
/// mistake).
const HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "upgrade",
];

fn is_hop<T: AsRef<[u8]>>(name: &[u8], extra: &[T]) -> bool {
    HOP.iter().any(|h| name.eq_ignore_ascii_case(h.as_bytes()))
        || extra.iter().any(|t| {
            let t = t.as_ref();
            name.eq_ignore_ascii_case(t)
                && !t.eq_ignore_ascii_case(b"content-length")
                && !t.eq_ignore_ascii_case(b"transfer-encoding")
        })
}

/// Builds the head sent upstream.
#[cfg(test)]
fn upstream_head(
    h: &RequestHead,
    info: &RequestInfo,
    peer: SocketAddr,
    forwardfor: bool,
    server_close: bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    upstream_head_into(h, info, peer, forwardfor, server_close, &mut out);
    out
}

/// Writes the head sent upstream into `out` (cleared first; reused across requests).
/// `forwardfor` adds `x-forwarded-for` with the client's address.
fn upstream_head_into(
    h: &RequestHead,
    info: &RequestInfo,
    peer: SocketAddr,
    forwardfor: bool,
    server_close: bool,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.reserve(h.raw.len() + 64);
    out.extend_from_slice(h.method().as_bytes());
    out.push(b' ');
    out.extend_from_slice(h.uri().as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (n, v) in h.headers() {
        if is_hop(n, &info.conn_tokens) || n.eq_ignore_ascii_case(b"expect") {
            continue;
        }
        out.extend_from_slice(n);
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    if forwardfor {
        out.extend_from_slice(format!("x-forwarded-for: {}\r\n", peer.ip()).as_bytes());
    }
    if let Some(u) = &info.upgrade {
        out.extend_from_slice(b"connection: upgrade\r\nupgrade: ");
        out.extend_from_slice(u.as_bytes());
        out.extend_from_slice(b"\r\n");
    } else if server_close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// A parsed response head.
struct ResponseHead {
    status: u16,
    minor: u8,
    /// The head re-serialized for the client, without hop-by-hop headers and without the
    /// final CRLF (the connection header is added later).
    head: Vec<u8>,
    framing: Framing,
    close: bool,
}

enum RespError {
    /// Closed or reset before a full head; `any` if some bytes had arrived.
    Closed {
        any: bool,
    },
    Timeout,
    Invalid,
}

async fn read_response(
    dl: &mut Deadline,
    up: &mut TcpStream,
    buf: &mut BytesMut,
    rto: Option<Duration>,
    head_request: bool,
    spare: &mut Vec<u8>,
) -> Result<ResponseHead, RespError> {
    loop {
        {
            let mut hdrs = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut hdrs);
            match resp.parse(buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let status = resp.code.unwrap_or(0);
                    let minor = resp.version.unwrap_or(1);
                    let mut cl: Option<u64> = None;
                    let mut chunked = false;
                    let mut close = minor == 0;
                    // Extra hop-by-hop names from `Connection` (rare: no allocation otherwise).
                    let mut extra: Vec<&[u8]> = Vec::new();
                    let mut keep_alive = false;
                    for h in resp.headers.iter() {
                        if h.name.eq_ignore_ascii_case("connection") {
                            for t in tokens(h.value) {
                                if t.eq_ignore_ascii_case(b"close") {
                                    close = true;
                                } else if t.eq_ignore_ascii_case(b"keep-alive") {
                                    keep_alive = true;
                                } else {
                                    extra.push(t);
                                }
                            }
                        }
                    }
                    if minor == 0 && keep_alive {
                        close = false;
                    }
                    // Room for the connection header and a small body sent along in one write.
                    let mut head = std::mem::take(spare);
                    head.clear();
                    head.reserve(buf.len() + 64);
                    head.extend_from_slice(b"HTTP/1.1 ");
                    push_status(&mut head, status);
                    head.push(b' ');
                    head.extend_from_slice(resp.reason.unwrap_or("").as_bytes());
                    head.extend_from_slice(b"\r\n");
                    for h in resp.headers.iter() {
                        let name = h.name.as_bytes();
                        if is_hop(name, &extra) {
                            continue;
                        }
                        if name.eq_ignore_ascii_case(b"content-length") {
                            let v = std::str::from_utf8(h.value).ok().map(str::trim);
                            match v.and_then(|v| v.parse::<u64>().ok()) {
                                Some(x) if cl.is_none_or(|p| p == x) => cl = Some(x),
                                _ => return Err(RespError::Invalid),
                            }
                        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                            if tokens(h.value)
                                .last()
                                .is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"))
                            {
                                chunked = true;
                            } else {
                                close = true;
                            }
                        }
                        head.extend_from_slice(name);
                        head.extend_from_slice(b": ");
                        head.extend_from_slice(h.value);
                        head.extend_from_slice(b"\r\n");
                    }
                    buf.advance(n);
                    let no_body = head_request
                        || (100..200).contains(&status)
                        || status == 204
                        || status == 304;
                    let framing = if no_body {
                        Framing::None
                    } else if chunked {
                        if cl.is_some() {
                            // Chunked wins; the length must not reach the client.
                            head = strip_header(&head, b"content-length");
                        }
                        Framing::Chunked
                    } else if let Some(n) = cl {
                        Framing::Length(n)
                    } else {
                        Framing::UntilClose
                    };
                    return Ok(ResponseHead {
                        status,
                        minor,
                        head,
                        framing,
                        close,
                    });
                }
                Ok(httparse::Status::Partial) => {
                    if buf.len() >= BUF {
                        return Err(RespError::Invalid);
                    }
                }
                Err(_) => return Err(RespError::Invalid),
            }
        }
        let any = !buf.is_empty();
        match dl.fill(up, buf, rto).await {
            Ok(0) => return Err(RespError::Closed { any }),
            Ok(_) => {}
            Err(CopyError::ReadTimeout) => return Err(RespError::Timeout),
            Err(_) => return Err(RespError::Closed { any }),
        }
    }
}

fn stamp(on: bool) -> Option<Instant> {
    on.then(Instant::now)
}

fn push_status(out: &mut Vec<u8>, status: u16) {
    let s = status.min(999);
    out.extend_from_slice(&[
        b'0' + (s / 100) as u8,
        b'0' + ((s / 10) % 10) as u8,
        b'0' + (s % 10) as u8,
    ]);
}

fn strip_header(head: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len());
    for line in head.split_inclusive(|&b| b == b'\n') {
        let is = line.len() > name.len()
            && line[..name.len()].eq_ignore_ascii_case(name)
            && line[name.len()] == b':';
        if !is {
            out.extend_from_slice(line);
        }
    }
    out
}

/// Serves one client connection until it closes.
pub async fn serve(ctx: ConnCtx, mut client: TcpStream, peer: SocketAddr) {
    let _ = client.set_nodelay(true);
    let mut cbuf = BytesMut::with_capacity(BUF);
    let mut ubuf = BytesMut::new();
    let mut dl = Deadline::default();
    let mut qbuf = Vec::new();
    let mut rbuf = Vec::new();
    let mut first = true;
    // Soft stop interrupts idle keep-alive waits; a reload does not (the next response
    // carries `connection: close` instead), so no client races a close on reload.
    let mut stopping = ctx.shared.stopping.clone();
    // Registered once per connection (not per request) with the soft-stop signal.
    let stop = stopping.wait_for(|s| *s);
    tokio::pin!(stop);
    loop {
        let fs = &ctx.fe.cfg.settings;
        // For the log line of a head that never completes: HAProxy dates it from the
        // start of the wait and counts the wait in %Ta.
        let waiting = ctx.fe.log.then(Instant::now);
        let head = read_head(&mut dl, &mut client, &mut cbuf, first, fs, stop.as_mut()).await;
        let now = Instant::now();
        // The request starts with its first byte (%tr; %TR runs from there to the end of
        // the head): earlier than now when the head came in several reads.
        let t0 = match &head {
            Ok((_, Some(started))) => *started,
            _ => now,
        };
        // Clock reads only when a log line will use them.
        let date = if ctx.fe.log {
            let sys = SystemTime::now();
            sys.checked_sub(now.duration_since(t0)).unwrap_or(sys)
        } else {
            SystemTime::UNIX_EPOCH
        };
        first = false;
        let head = match head {
            Ok((h, _)) => h,
            Err(HeadError::Closed) => return,
            Err(HeadError::Status(code)) => {
                let term = if code == 408 { *b"cR" } else { *b"PR" };
                // `option dontlognull`: a connection that sent nothing is not logged.
                let log = !(cbuf.is_empty() && fs.dontlognull);
                let (date, t0) = match waiting {
                    Some(w) => (date.checked_sub(now.duration_since(w)).unwrap_or(date), w),
                    None => (date, t0),
                };
                reply_error(
                    &ctx,
                    &mut client,
                    peer,
                    date,
                    t0,
                    code,
                    term,
                    "<BADREQ>",
                    log,
                )
                .await;
                return;
            }
        };
        let mut bufs = Bufs {
            cbuf: &mut cbuf,
            ubuf: &mut ubuf,
            dl: &mut dl,
            qbuf: &mut qbuf,
            rbuf: &mut rbuf,
        };
        let keep = handle_request(&ctx, &mut client, &mut bufs, head, peer, date, t0).await;
        // `keep` already accounts for a reload that retired this frontend before the
        // response went out (it then carried `connection: close`). Checking `retired` again
        // here would close a connection whose response promised keep-alive, under a
        // client that may be sending its next request already.
        if !keep {
            let _ = client.shutdown().await;
            return;
        }
    }
}

/// Reads a request head, and when it took more than one read, the instant its first bytes
/// were seen. `stop` resolves on soft stop; it is polled only while waiting for a further
/// request and never after it resolved (the connection then ends).
async fn read_head<S: std::future::Future>(
    dl: &mut Deadline,
    client: &mut TcpStream,
    cbuf: &mut BytesMut,
    first: bool,
    fs: &ProxySettings,
    mut stop: std::pin::Pin<&mut S>,
) -> Result<(RequestHead, Option<Instant>), HeadError> {
    let t = &fs.timeouts;
    let head_deadline = t.http_request.or(t.client);
    // Waiting for the first byte of a further request is the keep-alive timeout.
    let idle = if first {
        head_deadline
    } else {
        t.http_keep_alive.or(t.http_request).or(t.client)
    };
    let mut started: Option<Instant> = None;
    loop {
        if !cbuf.is_empty() {
            if let Some(h) = parse_request(cbuf)? {
                return Ok((h, started));
            }
            if cbuf.len() >= BUF {
                // A request line that does not fit is a URI problem; otherwise the headers.
                let has_line = cbuf.iter().take(BUF).any(|&b| b == b'\n');
                return Err(HeadError::Status(if has_line { 431 } else { 414 }));
            }
            started.get_or_insert_with(Instant::now);
        }
        let limit = match started {
            None => idle,
            Some(s) => head_deadline.map(|d| d.saturating_sub(s.elapsed())),
        };
        let read = async {
            tokio::select! {
                biased;
                r = dl.fill(client, cbuf, limit) => Some(r),
                _ = stop.as_mut(), if started.is_none() && !first => None,
            }
        };
        match read.await {
            None => return Err(HeadError::Closed),
            Some(Ok(0)) => {
                return Err(if cbuf.is_empty() {
                    HeadError::Closed
                } else {
                    HeadError::Status(400)
                })
            }
            Some(Ok(_)) => {}
            Some(Err(CopyError::ReadTimeout)) => {
                // Nothing received: an idle keep-alive connection closes silently; a new
                // connection that never sent a byte gets 408 as in HAProxy, unless
                // `option http-ignore-probes` (pre-connecting browsers).
                return Err(if started.is_none() && (!first || fs.ignore_probes) {
                    HeadError::Closed
                } else {
                    HeadError::Status(408)
                });
            }
            Some(Err(_)) => return Err(HeadError::Closed),
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn reply_error(
    ctx: &ConnCtx,
    client: &mut TcpStream,
    peer: SocketAddr,
    date: SystemTime,
    t0: Instant,
    code: u16,
    term: [u8; 2],
    request: &str,
    log: bool,
) {
    let body = error_response(code);
    let wto = ctx.fe.cfg.settings.timeouts.client;
    let _ = within(wto, client.write_all(&body)).await;
    let _ = within(wto, client.shutdown()).await;
    if ctx.fe.log && log {
        let line = HttpLog {
            client: peer,
            date,
            frontend: &ctx.fe.cfg.name,
            backend: &ctx.fe.cfg.name,
            server: "<NOSRV>",
            // No complete head: %TR is unknown (-1), as HAProxy logs it.
            t_req: (request != "<BADREQ>").then(|| t0.elapsed()),
            t_queue: None,
            t_connect: None,
            t_resp: None,
            t_total: t0.elapsed(),
            status: code,
            bytes: body.len() as u64,
            term,
            conns: [
                ctx.shared.active.load(Ordering::Relaxed),
                ctx.fe.active.load(Ordering::Relaxed),
                0,
                0,
                0,
            ],
            queues: [0, 0],
            request,
        }
        .format();
        ctx.fe.access_log.emit(&line);
    }
}

/// Everything the log line needs, filled in as the request goes.
struct Trace {
    t_req: Duration,
    t_queue: Option<Duration>,
    t_connect: Option<Duration>,
    t_resp: Option<Duration>,
    retries: usize,
}

/// Per-connection buffers and timer, reused across requests.
struct Bufs<'a> {
    cbuf: &'a mut BytesMut,
    ubuf: &'a mut BytesMut,
    dl: &'a mut Deadline,
    /// The upstream request head being sent.
    qbuf: &'a mut Vec<u8>,
    /// The response head being sent (taken and given back).
    rbuf: &'a mut Vec<u8>,
}

/// Handles one request; returns whether the client connection stays open.
async fn handle_request(
    ctx: &ConnCtx,
    client: &mut TcpStream,
    bufs: &mut Bufs<'_>,
    head: RequestHead,
    peer: SocketAddr,
    date: SystemTime,
    t0: Instant,
) -> bool {
    let reqline = if ctx.fe.log {
        format!("{} {} HTTP/1.{}", head.method(), head.uri(), head.minor)
    } else {
        String::new()
    };
    let info = match analyze(&head) {
        Ok(i) => i,
        Err(code) => {
            reply_error(ctx, client, peer, date, t0, code, *b"PR", &reqline, true).await;
            return false;
        }
    };
    let fe = &ctx.fe;
    if let (Some(uri), Some(view)) = (&fe.cfg.settings.stats_uri, fe.stats.get()) {
        if head.uri().starts_with(uri.as_str()) {
            return serve_stats(ctx, client, view, &head, &info, peer, date, t0, &reqline).await;
        }
    }
    let header = |n: &str| head.header_values(n);
    let Some(backend) = fe.route(head.path(), &header).cloned() else {
        reply_error(ctx, client, peer, date, t0, 503, *b"SC", &reqline, true).await;
        return false;
    };
    let mut trace = Trace {
        t_req: t0.elapsed(),
        t_queue: None,
        t_connect: None,
        t_resp: None,
        retries: 0,
    };
    let outcome = forward(ctx, client, bufs, &head, &info, peer, &backend, &mut trace).await;
    bufs.ubuf.clear();
    let (status, bytes, term, server, keep) = match outcome {
        Outcome::Done {
            status,
            bytes,
            server,
            keep,
        } => (status, bytes, *b"--", server, keep),
        Outcome::Error { code, term, server } => {
            let body = error_response(code);
            let wto = fe.cfg.settings.timeouts.client;
            let _ = within(wto, client.write_all(&body)).await;
            (code, body.len() as u64, term, server, false)
        }
        Outcome::Aborted {
            status,
            term,
            server,
        } => (status, 0, term, server, false),
    };
    if fe.log {
        let (sname, sactive) = match &server {
            Some(s) => (s.name.as_str(), s.active()),
            None => ("<NOSRV>", 0),
        };
        let line = HttpLog {
            client: peer,
            date,
            frontend: &fe.cfg.name,
            backend: &backend.name,
            server: sname,
            t_req: Some(trace.t_req),
            t_queue: trace.t_queue,
            t_connect: trace.t_connect,
            t_resp: trace.t_resp,
            t_total: t0.elapsed(),
            status,
            bytes,
            term,
            conns: [
                ctx.shared.active.load(Ordering::Relaxed),
                fe.active.load(Ordering::Relaxed),
                backend.active(),
                sactive,
                trace.retries,
            ],
            queues: [server.as_ref().map(|s| s.queued()).unwrap_or(0), 0],
            request: &reqline,
        }
        .format();
        ctx.fe.access_log.emit(&line);
    }
    keep
}

/// Answers the statistics page (CSV with `;csv` in the URI, HTML otherwise).
#[allow(clippy::too_many_arguments)]
async fn serve_stats(
    ctx: &ConnCtx,
    client: &mut TcpStream,
    view: &crate::stats::StatsView,
    head: &RequestHead,
    info: &RequestInfo,
    peer: SocketAddr,
    date: SystemTime,
    t0: Instant,
    reqline: &str,
) -> bool {
    let csv = head.uri().contains(";csv");
    let (body, ctype) = if csv {
        (view.csv(), "text/csv")
    } else {
        (view.html(), "text/html")
    };
    // A request body is not read here: close rather than parse it as the next request.
    let keep = !info.close && info.framing == Framing::None;
    let resp = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\ncache-control: no-cache\r\ncontent-length: {}\r\n{}\r\n{body}",
        body.len(),
        if keep { "" } else { "connection: close\r\n" }
    );
    let ok = within(
        ctx.fe.cfg.settings.timeouts.client,
        client.write_all(resp.as_bytes()),
    )
    .await
    .is_some_and(|r| r.is_ok());
    if ctx.fe.log {
        let line = HttpLog {
            client: peer,
            date,
            frontend: &ctx.fe.cfg.name,
            backend: &ctx.fe.cfg.name,
            server: "<STATS>",
            t_req: Some(Duration::ZERO),
            t_queue: None,
            t_connect: None,
            t_resp: None,
            t_total: t0.elapsed(),
            status: 200,
            bytes: resp.len() as u64,
            term: *b"LR",
            conns: [
                ctx.shared.active.load(Ordering::Relaxed),
                ctx.fe.active.load(Ordering::Relaxed),
                0,
                0,
                0,
            ],
            queues: [0, 0],
            request: reqline,
        }
        .format();
        ctx.fe.access_log.emit(&line);
    }
    ok && keep
}

enum Outcome {
    Done {
        status: u16,
        bytes: u64,
        server: Option<Arc<crate::backend::Server>>,
        keep: bool,
    },
    /// Nothing was sent to the client yet: reply with an error page.
    Error {
        code: u16,
        term: [u8; 2],
        server: Option<Arc<crate::backend::Server>>,
    },
    /// The exchange broke after the response started (or the client went away).
    Aborted {
        status: u16,
        term: [u8; 2],
        server: Option<Arc<crate::backend::Server>>,
    },
}

#[allow(clippy::too_many_arguments)]
async fn forward(
    ctx: &ConnCtx,
    client: &mut TcpStream,
    bufs: &mut Bufs<'_>,
    head: &RequestHead,
    info: &RequestInfo,
    peer: SocketAddr,
    backend: &Arc<Backend>,
    trace: &mut Trace,
) -> Outcome {
    let fs = &ctx.fe.cfg.settings;
    let bs = &backend.settings;
    // The more closing of the frontend's and backend's modes wins, as in HAProxy.
    let mode = match (fs.conn_mode, bs.conn_mode) {
        (HttpConnMode::Close, _) | (_, HttpConnMode::Close) => HttpConnMode::Close,
        (HttpConnMode::ServerClose, _) | (_, HttpConnMode::ServerClose) => {
            HttpConnMode::ServerClose
        }
        _ => HttpConnMode::KeepAlive,
    };
    let reuse = mode == HttpConnMode::KeepAlive && info.upgrade.is_none();
    let req = &mut *bufs.qbuf;
    // `option forwardfor` applies when the frontend or the backend has it, as in HAProxy.
    let xff = fs.forwardfor || bs.forwardfor;
    upstream_head_into(head, info, peer, xff, !reuse && info.upgrade.is_none(), req);
    let req = &*req;
    let cto = fs.timeouts.client;
    let sto = bs.timeouts.server;
    let connect_to = bs.timeouts.connect;
    let queue_to = bs
        .timeouts
        .queue
        .or(bs.timeouts.connect)
        .unwrap_or(Duration::from_secs(5));
    let head_request = head.method() == "HEAD";
    // Clock reads for the log line only when there is one.
    let timing = ctx.fe.log;
    let mut exclude: Vec<usize> = Vec::new();
    let mut retries_left = bs.retries;
    let mut sent_continue = false;
    // The request body was not fully read from the client (the server cut it short).
    let mut body_cut = false;
    let cbuf = &mut *bufs.cbuf;
    let ubuf = &mut *bufs.ubuf;
    let dl = &mut *bufs.dl;
    let rbuf = &mut *bufs.rbuf;
    ubuf.clear();
    let mut last_server = None;

    // Connect, send, and read the response head; retry while nothing is lost by retrying.
    let (slot, mut up, resp): (ServerSlot, TcpStream, ResponseHead) = loop {
        let Some(idx) = backend.pick(peer.ip(), &exclude) else {
            return Outcome::Error {
                code: 503,
                term: *b"SC",
                server: last_server,
            };
        };
        let tq = stamp(timing);
        let slot = match backend.acquire(idx, queue_to).await {
            Ok(s) => s,
            Err(e) => {
                let term = if e == PickError::QueueTimeout {
                    *b"sQ"
                } else {
                    *b"SQ"
                };
                return Outcome::Error {
                    code: 503,
                    term,
                    server: backend.servers.get(idx).cloned(),
                };
            }
        };
        trace.t_queue = tq.map(|t| t.elapsed());
        last_server = Some(slot.server.clone());
        let tc = stamp(timing);
        let pooled = if reuse { slot.server.take_idle() } else { None };
        let reused = pooled.is_some();
        let mut up = match pooled {
            Some(s) => s,
            None => match within(connect_to, TcpStream::connect(slot.server.addr)).await {
                Some(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    s
                }
                failed => {
                    // HAProxy: `sC` when `timeout connect` expired, `SC` when refused.
                    let (why, term) = match failed {
                        Some(Err(e)) => (e.to_string(), *b"SC"),
                        _ => ("connect timeout".into(), *b"sC"),
                    };
                    tracing::warn!(
                        frontend = %ctx.fe.cfg.name,
                        "connect to {}/{} ({}) failed: {why}",
                        backend.name, slot.server.name, slot.server.addr
                    );
                    if retries_left == 0 {
                        return Outcome::Error {
                            code: 503,
                            term,
                            server: last_server,
                        };
                    }
                    retries_left -= 1;
                    trace.retries += 1;
                    if bs.redispatch {
                        exclude.push(idx);
                    }
                    continue;
                }
            },
        };
        trace.t_connect = tc.map(|t| t.elapsed());
        let tr = stamp(timing);
        let sent = dl.run(sto, up.write_all(req)).await;
        let send_failed = !matches!(sent, Some(Ok(())));
        if !send_failed && info.framing != Framing::None {
            if info.expect_continue && !sent_continue {
                // We answer the expectation ourselves (the header is not forwarded), as a
                // proxy may.
                sent_continue = true;
                if within(cto, client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n"))
                    .await
                    .is_none_or(|r| r.is_err())
                {
                    return Outcome::Aborted {
                        status: 0,
                        term: *b"CR",
                        server: last_server,
                    };
                }
            }
            match copy_body(client, cbuf, &mut up, info.framing, cto, sto).await {
                Ok(_) => {}
                Err(CopyError::BadChunk) => {
                    return Outcome::Error {
                        code: 400,
                        term: *b"PR",
                        server: last_server,
                    }
                }
                Err(CopyError::Read(_)) | Err(CopyError::ReadTimeout) => {
                    return Outcome::Aborted {
                        status: 400,
                        term: *b"CD",
                        server: last_server,
                    }
                }
                Err(_) => {
                    // The server stopped reading the body: it may have answered early
                    // (401, 413...). Forward that answer if it is there.
                    body_cut = true;
                    let grace = Some(
                        sto.unwrap_or(Duration::from_secs(1))
                            .min(Duration::from_secs(1)),
                    );
                    if let Ok(r) = read_response(dl, &mut up, ubuf, grace, head_request, rbuf).await
                    {
                        trace.t_resp = tr.map(|t| t.elapsed());
                        break (slot, up, r);
                    }
                    return Outcome::Error {
                        code: 502,
                        term: *b"SD",
                        server: last_server,
                    };
                }
            }
        }
        let resp = if send_failed {
            Err(RespError::Closed { any: false })
        } else {
            read_response(dl, &mut up, ubuf, sto, head_request, rbuf).await
        };
        match resp {
            Ok(r) => {
                trace.t_resp = tr.map(|t| t.elapsed());
                break (slot, up, r);
            }
            Err(RespError::Timeout) => {
                return Outcome::Error {
                    code: 504,
                    term: *b"sH",
                    server: last_server,
                }
            }
            Err(RespError::Invalid) | Err(RespError::Closed { any: true }) => {
                return Outcome::Error {
                    code: 502,
                    term: *b"SH",
                    server: last_server,
                }
            }
            Err(RespError::Closed { any: false }) => {
                // The request can be replayed only if its body was not consumed: it had none,
                // or sending the head already failed.
                if info.framing != Framing::None && !send_failed {
                    return Outcome::Error {
                        code: 502,
                        term: *b"SH",
                        server: last_server,
                    };
                }
                if !reused {
                    if retries_left == 0 {
                        return Outcome::Error {
                            code: 502,
                            term: *b"SH",
                            server: last_server,
                        };
                    }
                    retries_left -= 1;
                    trace.retries += 1;
                    if bs.redispatch {
                        exclude.push(idx);
                    }
                }
                ubuf.clear();
                continue;
            }
        }
    };
    let server = Some(slot.server.clone());
    let mut resp = resp;
    // Interim responses: pass them on, then read the final one.
    while (100..200).contains(&resp.status) && resp.status != 101 {
        let forward_it = head.minor == 1 && !(resp.status == 100 && sent_continue);
        if forward_it {
            let mut h = resp.head.clone();
            h.extend_from_slice(b"\r\n");
            if within(cto, client.write_all(&h))
                .await
                .is_none_or(|r| r.is_err())
            {
                return Outcome::Aborted {
                    status: resp.status,
                    term: *b"CH",
                    server,
                };
            }
        }
        resp = match read_response(dl, &mut up, ubuf, sto, head_request, rbuf).await {
            Ok(r) => r,
            Err(RespError::Timeout) => {
                return Outcome::Error {
                    code: 504,
                    term: *b"sH",
                    server,
                }
            }
            Err(_) => {
                return Outcome::Error {
                    code: 502,
                    term: *b"SH",
                    server,
                }
            }
        };
    }
    if resp.status == 101 {
        if info.upgrade.is_none() {
            return Outcome::Error {
                code: 502,
                term: *b"SH",
                server,
            };
        }
        let mut h = resp.head.clone();
        h.extend_from_slice(b"connection: upgrade\r\n");
        if let Some(u) = &info.upgrade {
            h.extend_from_slice(format!("upgrade: {u}\r\n").as_bytes());
        }
        h.extend_from_slice(b"\r\n");
        if within(cto, client.write_all(&h))
            .await
            .is_none_or(|r| r.is_err())
        {
            return Outcome::Aborted {
                status: 101,
                term: *b"CH",
                server,
            };
        }
        // The tunnel needs the client stream by value; swap in a placeholder-free approach:
        // move both streams into the tunnel through a duplicate handle of the client.
        let cpending = cbuf.split().freeze();
        let upending = ubuf.split().freeze();
        let client_std = match dup(client) {
            Some(c) => c,
            None => {
                return Outcome::Aborted {
                    status: 101,
                    term: *b"PD",
                    server,
                }
            }
        };
        let (a, b, r) = crate::io::tunnel(client_std, &cpending, up, &upending, cto, sto).await;
        drop(slot);
        let term = if r.is_ok() { *b"--" } else { *b"cD" };
        return match r {
            Ok(()) => Outcome::Done {
                status: 101,
                bytes: a.max(b),
                server,
                keep: false,
            },
            Err(_) => Outcome::Aborted {
                status: 101,
                term,
                server,
            },
        };
    }
    // Retired by a reload or a soft stop: finish this response, then close.
    let stopping = *ctx.fe.retired.borrow();
    let client_close = info.close
        || body_cut
        || mode == HttpConnMode::Close
        || resp.framing == Framing::UntilClose
        || stopping;
    let server_keep =
        !body_cut && reuse && !resp.close && resp.minor == 1 && resp.framing != Framing::UntilClose;
    let mut out = resp.head;
    if client_close {
        out.extend_from_slice(b"connection: close\r\n");
    } else if head.minor == 0 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    let head_len = out.len() as u64;
    // Small bodies already read go out with the head in one write.
    let mut framing = resp.framing;
    if let Framing::Length(n) = framing {
        if (ubuf.len() as u64) >= n && n <= BUF as u64 {
            let n = n as usize;
            out.extend_from_slice(&ubuf[..n]);
            ubuf.advance(n);
            framing = Framing::None;
        }
    }
    let body_inline = out.len() as u64 - head_len;
    let written = dl.run(cto, client.write_all(&out)).await;
    // Give the buffer back for the next response.
    *rbuf = out;
    if written.is_none_or(|r| r.is_err()) {
        return Outcome::Aborted {
            status: resp.status,
            term: *b"CD",
            server,
        };
    }
    let copied = copy_body(&mut up, ubuf, client, framing, sto, cto).await;
    let bytes = head_len + body_inline;
    match copied {
        Ok(n) => {
            if server_keep && ubuf.is_empty() {
                slot.server.put_idle(up);
            }
            drop(slot);
            Outcome::Done {
                status: resp.status,
                bytes: bytes + n,
                server,
                keep: !client_close,
            }
        }
        Err(e) => {
            let term = match e {
                CopyError::Write(_) | CopyError::WriteTimeout => *b"CD",
                CopyError::ReadTimeout => *b"sD",
                _ => *b"SD",
            };
            Outcome::Aborted {
                status: resp.status,
                term,
                server,
            }
        }
    }
}

/// A second tokio handle on the client socket, so the tunnel can own one while the caller
/// keeps its `&mut` (the caller closes its handle right after).
fn dup(s: &TcpStream) -> Option<TcpStream> {
    use std::os::fd::AsFd;
    let owned = s.as_fd().try_clone_to_owned().ok()?;
    let std = std::net::TcpStream::from(owned);
    std.set_nonblocking(true).ok()?;
    TcpStream::from_std(std).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(s: &str) -> Result<RequestInfo, u16> {
        let mut b = BytesMut::from(s.as_bytes());
        match parse_request(&mut b) {
            Ok(Some(h)) => analyze(&h),
            Ok(None) => Err(0),
            Err(HeadError::Status(c)) => Err(c),
            Err(HeadError::Closed) => Err(1),
        }
    }

    #[test]
    fn framing_rules() {
        let ok = head("GET / HTTP/1.1\r\nHost: a\r\n\r\n").map(|i| i.framing);
        assert_eq!(ok, Ok(Framing::None));
        assert_eq!(
            head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n")
                .map(|i| i.framing),
            Ok(Framing::Length(5))
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            Err(400)
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(400)
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            Err(501)
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n"),
            Err(413)
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"),
            Err(400)
        );
        assert_eq!(head("GET / HTTP/1.1\r\n\r\n"), Err(400));
        assert_eq!(head("GET / HTTP/1.0\r\n\r\n").map(|i| i.close), Ok(true));
        assert_eq!(head("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n"), Err(501));
        assert_eq!(head("GET /\0 HTTP/1.1\r\n\r\n"), Err(400));
    }

    #[test]
    fn path_of_absolute_uri() {
        let mut b = BytesMut::from(&b"GET http://h:1/api/x?q=1 HTTP/1.1\r\nHost: h\r\n\r\n"[..]);
        let h = parse_request(&mut b)
            .ok()
            .flatten()
            .map(|h| h.path().to_string());
        assert_eq!(h.as_deref(), Some("/api/x"));
    }

    #[test]
    fn hop_by_hop_removed_and_xff_added() {
        let mut b = BytesMut::from(
            &b"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nTrailer: x-sum\r\nAccept: */*\r\n\r\n"[..],
        );
        let h = parse_request(&mut b).ok().flatten();
        let Some(h) = h else {
            panic!("head should parse")
        };
        let info = analyze(&h).unwrap_or_else(|c| panic!("status {c}"));
        let out = upstream_head(
            &h,
            &info,
            "127.0.0.9:5".parse().unwrap_or_else(|_| unreachable!()),
            true,
            false,
        );
        let out = String::from_utf8_lossy(&out).to_ascii_lowercase();
        assert!(out.starts_with("get / http/1.1\r\nhost: h\r\n"));
        assert!(!out.contains("x-secret"));
        assert!(!out.contains("keep-alive"));
        assert!(!out.contains("te: trailers"));
        assert!(out.contains("accept: */*\r\n"));
        assert!(out.contains("trailer: x-sum\r\n"), "Trailer is end-to-end");
        assert!(out.ends_with("x-forwarded-for: 127.0.0.9\r\n\r\n"));
    }
}
