//! HTTP mode: the connection loops of HTTP/1.1 ([`serve_h1`], one request after the
//! other) and HTTP/2 ([`serve_h2`], one task per stream), both handing each request to
//! [`exchange::handle`] through a [`session::Session`], so the proxy logic is written once.
//!
//! Below: `h1` (HTTP/1.1 heads and I/O), `h2` (HTTP/2 streams), `session` (the client
//! side of an exchange), `exchange` (one request), `upstream` (its way through a server),
//! `upgrade` (a 101 turned into a tunnel),
//! `rules` (`http-request`/`http-response`), `builtin` (responses the proxy writes).

pub mod builtin;
pub mod exchange;
pub mod h1;
pub mod h2;
pub mod rules;
pub mod session;
mod upgrade;
pub mod upstream;

use std::time::{Instant, SystemTime};

use tokio::io::AsyncWriteExt;

use crate::frontend::ConnCtx;
use crate::io::within;
use crate::net::Stream;
use exchange::Started;
pub use h1::{analyze, parse_request, HeadError, RequestHead, RequestInfo};
use session::{Bufs, Session};

/// Most headers accepted in a head (more is 431).
pub use h1::request::MAX_HEADERS;

/// When a request that began at `first_byte` started, for its log line (the wall clock is
/// read only when a line will be written).
fn started(ctx: &ConnCtx, first_byte: Instant) -> Started {
    let date = if ctx.fe.log {
        let sys = SystemTime::now();
        sys.checked_sub(first_byte.elapsed()).unwrap_or(sys)
    } else {
        SystemTime::UNIX_EPOCH
    };
    Started {
        at: first_byte,
        date,
    }
}

/// Serves an HTTP/1.1 client connection until it closes.
///
/// Only the wait for a request lives in this task's own state; the request itself (head,
/// exchange, response) runs boxed, so an idle keep-alive connection holds a few hundred
/// bytes of task instead of the exchange's whole state machine (kilobytes; issue 16's
/// idle-connection curve).
///
/// Written as a function returning the future, so that the connection's state is captured
/// once rather than kept both as arguments and as locals.
///
/// Returns the connection when it is to be parked (idle for [`h1::PARK_AFTER`], see
/// [`crate::net::park`]) with its keep-alive deadline; `resumed` is a connection back
/// from the parker, whose next request is not its first.
pub fn serve_h1(
    ctx: ConnCtx,
    stream: Stream,
    resumed: bool,
) -> impl std::future::Future<Output = Option<Idle>> {
    let mut conn = h1::H1Conn::new(stream);
    // The exchange's buffers, kept from request to request and dropped while idle.
    let mut bufs: Option<Box<Bufs>> = None;
    let mut first = !resumed;
    // Soft stop interrupts idle keep-alive waits; a reload does not (the next response
    // carries `connection: close` instead), so no client races a close on reload.
    let mut stopping = ctx.shared.stopping.clone();
    async move {
        // Registered once per connection (not per request) with the soft-stop signal.
        let stop = stopping.wait_for(|s| *s);
        tokio::pin!(stop);
        loop {
            // For the log line of a head that never completes: HAProxy dates it from the
            // start of the wait and counts the wait in %Ta.
            let waiting = Instant::now();
            let fs = &ctx.fe.cfg.settings;
            let keep = match conn.wait_request(first, fs, &mut bufs, stop.as_mut()).await {
                Ok(h1::Waited::Park(due)) => {
                    return Some(Idle {
                        ctx,
                        stream: conn.into_stream(),
                        due,
                    })
                }
                Ok(h1::Waited::Request) => {
                    let bufs = bufs.get_or_insert_with(Box::default);
                    let one = one_request(&ctx, &mut conn, bufs, first, waiting, stop.as_mut());
                    Box::pin(one).await
                }
                Ok(h1::Waited::Over) | Err(HeadError::Closed) => false,
                Err(HeadError::Status(code)) => {
                    Box::pin(bad_head(&ctx, &mut conn, code, waiting)).await;
                    false
                }
            };
            if !keep {
                drop(conn.into_stream()); // its buffer back to the pool
                return None;
            }
            first = false;
        }
    }
}

/// An idle HTTP/1.1 connection on its way to the parker.
#[derive(Debug)]
pub struct Idle {
    /// Its context.
    pub ctx: ConnCtx,
    /// The client (plain TCP).
    pub stream: Stream,
    /// Its keep-alive deadline.
    pub due: Option<tokio::time::Instant>,
}

/// One request of an HTTP/1.1 connection, from its head to the end of its response.
/// Whether the connection stays open for another.
async fn one_request<S: std::future::Future>(
    ctx: &ConnCtx,
    conn: &mut h1::H1Conn,
    bufs: &mut Bufs,
    first: bool,
    waiting: Instant,
    stop: std::pin::Pin<&mut S>,
) -> bool {
    let fs = &ctx.fe.cfg.settings;
    let (head, t) = match conn.read_head(first, fs, stop).await {
        // The request starts with its first byte (%tr; %TR runs from there to the end
        // of the head): earlier than now when the head came in several reads.
        Ok((h, first_byte)) => (h, started(ctx, first_byte.unwrap_or_else(Instant::now))),
        Err(HeadError::Closed) => return false,
        Err(HeadError::Status(code)) => {
            bad_head(ctx, conn, code, waiting).await;
            return false;
        }
    };
    let keep = exchange::handle(ctx, &mut Session::H1(conn), bufs, head, t).await;
    // `keep` already accounts for a reload that retired this frontend before the
    // response went out (it then carried `connection: close`). Checking `retired` again
    // here would close a connection whose response promised keep-alive, under a
    // client that may be sending its next request already.
    if !keep {
        let _ = within(fs.timeouts.client, conn.stream.shutdown()).await;
    }
    keep
}

/// Answers a head that could not be read (400, 408, 414, 431) and closes; its log line is
/// dated from `waiting`, the start of the wait for it.
async fn bad_head(ctx: &ConnCtx, conn: &mut h1::H1Conn, code: u16, waiting: Instant) {
    let fe = &ctx.fe;
    // `option dontlognull`: a connection that sent nothing is not logged.
    let quiet = conn.cbuf.is_empty() && fe.cfg.settings.dontlognull;
    let t = started(ctx, waiting);
    let wto = fe.cfg.settings.timeouts.client;
    let page = builtin::error_page(code, &fe.cfg.settings.errorfiles);
    let bytes = if conn.send(&page, wto).await {
        page.len() as u64
    } else {
        0
    };
    let _ = within(wto, conn.stream.shutdown()).await;
    if !quiet {
        let term = if code == 408 { *b"cR" } else { *b"PR" };
        // No complete head: %TR is unknown (-1), as HAProxy logs it.
        exchange::bad_request(ctx, t, "<BADREQ>", (code, bytes, term));
    }
}

/// Serves an HTTP/2 client connection: its streams run concurrently inside this task
/// (no task per stream: a stream's state is allocated once, and buffers are reused from
/// stream to stream), while the connection is driven. A reload or a soft stop sends
/// GOAWAY (RFC 9113 §6.8) and lets the open streams finish; an idle connection closes
/// after `timeout http-keep-alive`.
pub async fn serve_h2(ctx: ConnCtx, stream: Stream, limits: crate::config::H2Limits) {
    use futures_util::stream::{FuturesUnordered, StreamExt};
    let t = &ctx.fe.cfg.settings.timeouts;
    let handshake = h2::builder(&limits).handshake::<_, bytes::Bytes>(stream);
    let Some(Ok(mut conn)) = within(t.client, handshake).await else {
        return;
    };
    let idle = t.http_keep_alive.or(t.client);
    let spare = std::sync::Mutex::new(Vec::new());
    let mut streams = FuturesUnordered::new();
    let mut retired = ctx.fe.retired.subscribe();
    let mut stopping = ctx.shared.stopping.clone();
    let mut going_away = false;
    loop {
        let no_streams = streams.is_empty();
        let idle_wait = async {
            match idle {
                Some(d) if no_streams => tokio::time::sleep(d).await,
                _ => std::future::pending().await,
            }
        };
        // Streams first, and the connection only once none of them can go further: every
        // polling of the connection flushes what the streams queued, so a wake-up that
        // finishes several responses sends them in one write (one TLS record, one
        // syscall) rather than one each.
        tokio::select! {
            biased;
            Some(()) = streams.next(), if !streams.is_empty() => {}
            next = conn.accept() => match next {
                // Boxed before the push: unboxed, FuturesUnordered moves the future twice on
                // the way into its task (measured: 668 against 340 instructions of memcpy).
                Some(Ok((req, respond))) => streams.push(Box::pin(h2_stream(&ctx, &spare, req, respond))),
                // Protocol errors: the h2 crate has sent GOAWAY with the right code.
                Some(Err(e)) => {
                    tracing::debug!(frontend = %ctx.fe.name(), error = %e, "HTTP/2 connection error");
                    break;
                }
                None => break,
            },
            _ = idle_wait, if !going_away => {
                going_away = true;
                conn.graceful_shutdown();
            }
            r = retired.wait_for(|r| *r), if !going_away => {
                let _ = r;
                going_away = true;
                conn.graceful_shutdown();
            }
            r = stopping.wait_for(|s| *s), if !going_away => {
                let _ = r;
                going_away = true;
                conn.graceful_shutdown();
            }
        }
    }
}

/// One HTTP/2 stream: its request converted, then the same exchange as HTTP/1.1, with
/// buffers from the connection's `spare` ones.
async fn h2_stream(
    ctx: &ConnCtx,
    spare: &std::sync::Mutex<Vec<Bufs>>,
    req: http::Request<::h2::RecvStream>,
    respond: ::h2::server::SendResponse<bytes::Bytes>,
) {
    let t = started(ctx, Instant::now());
    let (parts, body) = req.into_parts();
    let end_stream = body.is_end_stream();
    let mut s = h2::H2Stream::new(respond, body);
    let head = match h2::convert::request_head(&parts, end_stream) {
        Ok(h) => h,
        Err(code) => {
            let fe = &ctx.fe;
            let page = builtin::error_page(code, &fe.cfg.settings.errorfiles);
            let bytes = s.reply(&page, fe.cfg.settings.timeouts.client).await;
            let line = format!("{} {} HTTP/2.0", parts.method, parts.uri);
            exchange::bad_request(ctx, t, &line, (code, bytes, *b"PR"));
            return;
        }
    };
    let taken = spare.lock().ok().and_then(|mut v| v.pop());
    let mut bufs = taken.unwrap_or_default();
    exchange::handle(ctx, &mut Session::H2(&mut s), &mut bufs, head, t).await;
    // The big read buffer goes back to the thread's pool; the small ones stay for the
    // connection's next stream.
    crate::io::pool::give(&mut bufs.ubuf);
    if let Ok(mut v) = spare.lock() {
        if v.len() < 16 {
            v.push(bufs);
        }
    }
}
