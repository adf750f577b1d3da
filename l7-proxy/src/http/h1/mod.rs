//! HTTP/1.1 on a client connection: request heads ([`request`]), header handling
//! ([`headers`]), server response heads ([`response`]), and [`H1Conn`], the connection with
//! its buffers, reused across the requests of a keep-alive connection.

pub mod headers;
pub mod request;
pub mod response;

use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::AsyncWriteExt;

use crate::config::ProxySettings;
use crate::http::session::Bufs;
use crate::io::splice::relay_body;
use crate::io::{copy_body, CopyError, Deadline, Framing, SpliceMode, Spliceable, BUF};
use crate::net::Stream;
pub use request::{analyze, parse_request, HeadError, RequestHead, RequestInfo};

/// How long a keep-alive connection waits in its task before it is parked: a client that
/// sends its requests back to back never pays for a park and a wake-up (four epoll_ctl
/// calls and a task), one that keeps its connection open for later costs a few dozen bytes.
pub const PARK_AFTER: Duration = Duration::from_secs(1);

/// How the wait for a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// Bytes (or a FIN) to read: a request may begin.
    Request,
    /// The keep-alive timeout or soft stop: the connection closes.
    Over,
    /// Idle for [`PARK_AFTER`]: to be parked until this keep-alive deadline.
    Park(Option<tokio::time::Instant>),
}

/// An HTTP/1.1 client connection, its read buffer and its timer.
#[derive(Debug)]
pub struct H1Conn {
    /// The client.
    pub stream: Stream,
    /// Bytes read from the client and not used yet.
    pub cbuf: BytesMut,
    /// The client side's reusable deadline.
    pub dl: Deadline,
}

impl H1Conn {
    /// The client stream, the read buffer going back to the thread's pool.
    pub fn into_stream(mut self) -> Stream {
        crate::io::pool::give(&mut self.cbuf);
        self.stream
    }

    /// Wraps an accepted (and, on `ssl` binds, handshaken) client stream.
    pub fn new(stream: Stream) -> H1Conn {
        H1Conn {
            stream,
            cbuf: BytesMut::new(),
            dl: Deadline::default(),
        }
    }

    /// Reads a request head once [`H1Conn::wait_request`] saw it begin, and when it took
    /// more than one read, the instant its first bytes were seen. `stop` is as there.
    pub async fn read_head<S: std::future::Future>(
        &mut self,
        first: bool,
        fs: &ProxySettings,
        mut stop: std::pin::Pin<&mut S>,
    ) -> Result<(RequestHead, Option<Instant>), HeadError> {
        let t = &fs.timeouts;
        let head_deadline = t.http_request.or(t.client);
        let idle = if first {
            head_deadline
        } else {
            t.http_keep_alive.or(t.http_request).or(t.client)
        };
        if self.cbuf.capacity() == 0 {
            self.cbuf = crate::io::pool::take();
        }
        let mut started: Option<Instant> = None;
        loop {
            if !self.cbuf.is_empty() {
                if let Some(h) = parse_request(&mut self.cbuf)? {
                    // The limit holds whatever the buffer's size: a head past it is
                    // refused even when it arrived whole in a larger (reused) buffer.
                    if h.raw_len() > BUF {
                        return Err(HeadError::Status(if h.uri().len() + 16 > BUF {
                            414
                        } else {
                            431
                        }));
                    }
                    return Ok((h, started));
                }
                if self.cbuf.len() >= BUF {
                    // A request line that does not fit is a URI problem; otherwise the headers.
                    let has_line = self.cbuf.iter().take(BUF).any(|&b| b == b'\n');
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
                    r = self.dl.fill(&mut self.stream, &mut self.cbuf, limit) => Some(r),
                    _ = stop.as_mut(), if started.is_none() && !first => None,
                }
            };
            match read.await {
                None => return Err(HeadError::Closed),
                Some(Ok(0)) => {
                    return Err(if self.cbuf.is_empty() {
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

    /// Waits until a request may begin: bytes (or a FIN) on the connection, or bytes
    /// already buffered. A read that would wait means the connection is idle: its buffers
    /// (and the exchange's, `spare`, dropped) are given back first, so a waiting connection
    /// costs its socket, its TLS state and its task, not 16 KiB of buffers.
    ///
    /// [`Waited::Over`] when the wait ended without a byte (the keep-alive timeout, or
    /// `stop`, soft stop, while waiting for a further request: it is never polled on a
    /// connection's first request, nor after it resolved, as the connection then ends). A
    /// new connection that never sends gets 408 as in HAProxy (unless `option
    /// http-ignore-probes`). A plain keep-alive connection still idle after
    /// [`PARK_AFTER`] is [`Waited::Park`]ed: it leaves its task (see [`crate::net::park`]).
    ///
    /// One poll function rather than nested futures: this is the state an idle
    /// connection's task sits in, and it stays a few dozen bytes (see
    /// [`crate::http::serve_h1`]).
    pub fn wait_request<'a, S: std::future::Future>(
        &'a mut self,
        first: bool,
        fs: &ProxySettings,
        spare: &'a mut Option<Box<Bufs>>,
        mut stop: std::pin::Pin<&'a mut S>,
    ) -> impl std::future::Future<Output = Result<Waited, HeadError>> + 'a {
        use std::task::Poll;
        let t = &fs.timeouts;
        // Waiting for the first byte of a further request is the keep-alive timeout.
        let idle = if first {
            t.http_request.or(t.client)
        } else {
            t.http_keep_alive.or(t.http_request).or(t.client)
        };
        let answer_silence = first && !fs.ignore_probes;
        let parkable = !first && self.stream.plain_tcp().is_some();
        // Set on the first poll that finds nothing to read: (timeout, parking time).
        type Due = Option<tokio::time::Instant>;
        let mut due: Option<(Due, Due)> = None;
        std::future::poll_fn(move |cx| {
            if !self.cbuf.is_empty() || self.stream.poll_read_ready(cx).is_ready() {
                return Poll::Ready(Ok(Waited::Request));
            }
            let (due, park_at) = *due.get_or_insert_with(|| {
                crate::io::pool::give(&mut self.cbuf);
                *spare = None;
                let now = tokio::time::Instant::now();
                let due = idle.map(|d| now + d);
                let park_at =
                    Some(now + PARK_AFTER).filter(|p| parkable && due.is_none_or(|d| *p < d));
                (due, park_at)
            });
            if !first && stop.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(Waited::Over));
            }
            match park_at.or(due) {
                Some(next) => self.dl.poll_due(cx, next).map(|()| match park_at {
                    Some(_) => Ok(Waited::Park(due)),
                    // Timeout with nothing received: see `read_head`.
                    None if answer_silence => Err(HeadError::Status(408)),
                    None => Ok(Waited::Over),
                }),
                None => Poll::Pending,
            }
        })
    }

    /// Writes `data` and flushes it (a TLS stream may hold bytes until flushed).
    pub async fn send(&mut self, data: &[u8], wto: Option<Duration>) -> bool {
        self.send_more(data, false, wto).await
    }

    /// [`H1Conn::send`], telling the kernel more bytes of the message follow when `more`
    /// ([`crate::io::more`]).
    async fn send_more(&mut self, data: &[u8], more: bool, wto: Option<Duration>) -> bool {
        let stream = &mut self.stream;
        let r = self
            .dl
            .run(wto, async {
                crate::io::more::write_all(stream, data, more).await?;
                stream.flush().await
            })
            .await;
        matches!(r, Some(Ok(())))
    }

    /// Copies the request body to the server (spliced as `splice` allows).
    pub async fn body_to(
        &mut self,
        up: &mut Stream,
        framing: Framing,
        [cto, sto]: [Option<Duration>; 2],
        splice: SpliceMode,
    ) -> Result<u64, CopyError> {
        let (src, buf) = (&mut self.stream, &mut self.cbuf);
        let mut moved = 0;
        match relay_body(src, buf, up, framing, [cto, sto], splice, &mut moved).await {
            Some(r) => r.map(|()| moved),
            None => copy_body(src, buf, up, framing, cto, sto).await,
        }
    }

    /// Sends a response head (`head`, complete with its final CRLF) and relays its body
    /// from `up`; small bodies already read go out with the head in one write. Returns the
    /// bytes sent, or how it broke with the bytes sent before.
    pub async fn respond(
        &mut self,
        head: &mut Vec<u8>,
        up: &mut Stream,
        ubuf: &mut BytesMut,
        mut framing: Framing,
        [cto, sto]: [Option<Duration>; 2],
        splice: SpliceMode,
    ) -> Result<u64, (CopyError, u64)> {
        if let Framing::Length(n) = framing {
            if (ubuf.len() as u64) >= n && n <= BUF as u64 {
                let n = n as usize;
                head.extend_from_slice(&ubuf[..n]);
                ubuf.advance(n);
                framing = Framing::None;
            }
        }
        let sent = head.len() as u64;
        let more = matches!(framing, Framing::Length(n) if n > 0);
        if !self.send_more(head, more, cto).await {
            return Err((CopyError::WriteTimeout, 0));
        }
        let mut moved = 0;
        let spliced = relay_body(
            up,
            ubuf,
            &mut self.stream,
            framing,
            [sto, cto],
            splice,
            &mut moved,
        );
        match spliced.await {
            Some(Ok(())) => return Ok(sent + moved),
            Some(Err(e)) => return Err((e, sent + moved)),
            None => {}
        }
        // Counted: a body cut short is logged with the bytes that did go out.
        let mut out = crate::io::Counted::new(&mut self.stream);
        match copy_body(up, ubuf, &mut out, framing, sto, cto).await {
            Ok(n) => Ok(sent + n),
            Err(e) => Err((e, sent + out.written)),
        }
    }
}
