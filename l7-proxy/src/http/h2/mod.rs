//! HTTP/2 to clients (RFC 9113) with the h2 crate: the connection's settings from
//! `tune.h2.*` ([`builder`]), message conversion ([`convert`]), and [`H2Stream`], one
//! request's stream with the I/O the exchange needs: the request body to the server, the
//! response to the client with flow control, generated replies.

pub mod convert;

use std::future::poll_fn;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use h2::server::SendResponse;
use h2::{RecvStream, SendStream};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::config::H2Limits;
use crate::io::body::line;
use crate::io::{chunk_size, fill, within, CopyError, Framing, BUF};

/// A server-side h2 builder with HAProxy-style limits, all enforced by the h2 crate:
/// concurrent streams (RFC 9113 §5.1.2, beyond it streams are refused), header list size
/// (§6.5.2; a larger head resets the stream), window and frame size.
pub fn builder(l: &H2Limits) -> h2::server::Builder {
    let mut b = h2::server::Builder::new();
    b.max_concurrent_streams(l.max_concurrent_streams)
        .initial_window_size(l.initial_window_size)
        .initial_connection_window_size(l.initial_window_size.max(1 << 20))
        .max_frame_size(l.max_frame_size)
        .header_table_size(l.header_table_size)
        .max_header_list_size(l.max_header_list_size)
        .max_send_buffer_size(BUF * 4);
    b
}

/// One HTTP/2 request's stream.
#[derive(Debug)]
pub struct H2Stream {
    respond: SendResponse<Bytes>,
    body: RecvStream,
    send: Option<SendStream<Bytes>>,
}

fn h2_err(e: h2::Error) -> std::io::Error {
    std::io::Error::other(e)
}

impl H2Stream {
    /// Wraps an accepted stream.
    pub fn new(respond: SendResponse<Bytes>, body: RecvStream) -> H2Stream {
        H2Stream {
            respond,
            body,
            send: None,
        }
    }

    /// Copies the request body to the server: as received with a content-length (the h2
    /// crate checks the DATA total against it, RFC 9113 §8.1.1), else as chunks with the
    /// trailers after the last one.
    pub async fn body_to<W: AsyncWrite + Unpin>(
        &mut self,
        up: &mut W,
        framing: Framing,
        cto: Option<Duration>,
        sto: Option<Duration>,
    ) -> Result<u64, CopyError> {
        if framing == Framing::None {
            return Ok(0);
        }
        let chunked = framing == Framing::Chunked;
        let mut total = 0u64;
        loop {
            let data = match within(cto, self.body.data()).await {
                None => return Err(CopyError::ReadTimeout),
                Some(None) => break,
                Some(Some(Err(e))) => return Err(CopyError::Read(h2_err(e))),
                Some(Some(Ok(d))) => d,
            };
            let n = data.len();
            if chunked && n > 0 {
                put(up, format!("{n:x}\r\n").as_bytes(), sto).await?;
            }
            put(up, &data, sto).await?;
            if chunked && n > 0 {
                put(up, b"\r\n", sto).await?;
            }
            total += n as u64;
            // Credit the client only once the bytes went on: back-pressure.
            let _ = self.body.flow_control().release_capacity(n);
        }
        if chunked {
            let trailers = match within(cto, self.body.trailers()).await {
                Some(Ok(t)) => t,
                Some(Err(e)) => return Err(CopyError::Read(h2_err(e))),
                None => return Err(CopyError::ReadTimeout),
            };
            let mut end = b"0\r\n".to_vec();
            for (n, v) in trailers.iter().flat_map(|t| t.iter()) {
                crate::http::h1::headers::push_field(&mut end, n.as_str().as_bytes(), v.as_bytes());
            }
            end.extend_from_slice(b"\r\n");
            put(up, &end, sto).await?;
        }
        match within(sto, up.flush()).await {
            Some(Ok(())) => Ok(total),
            Some(Err(e)) => Err(CopyError::Write(e)),
            None => Err(CopyError::WriteTimeout),
        }
    }

    /// Sends an informational response (1xx).
    pub fn interim(&mut self, head: &[u8]) -> bool {
        let r = convert::response(Bytes::copy_from_slice(head));
        self.respond.send_informational(r).is_ok()
    }

    /// Sends the response head and relays its body from `up` (`ubuf` holds what was
    /// already read). Returns the body bytes sent, or how it broke and what was sent.
    pub async fn respond<R: AsyncRead + Unpin>(
        &mut self,
        head: Bytes,
        up: &mut R,
        ubuf: &mut BytesMut,
        framing: Framing,
        cto: Option<Duration>,
        sto: Option<Duration>,
    ) -> Result<u64, (CopyError, u64)> {
        let end = framing == Framing::None;
        let head_len = head.len() as u64;
        let send = self
            .respond
            .send_response(convert::response(head), end)
            .map_err(|e| (CopyError::Write(h2_err(e)), 0))?;
        if end {
            return Ok(head_len);
        }
        let mut out = Out {
            send,
            cto,
            sent: head_len,
        };
        let r = match framing {
            Framing::Chunked => out.dechunk(up, ubuf, sto).await,
            Framing::Length(n) => out.copy(up, ubuf, Some(n), sto).await,
            _ => out.copy(up, ubuf, None, sto).await,
        };
        let sent = out.sent;
        self.send = Some(out.send);
        r.map(|()| sent).map_err(|e| (e, sent))
    }

    /// Sends a whole response the proxy generated (a raw HTTP/1.x message: error pages,
    /// redirects, `return`, the statistics page). Returns the bytes sent.
    pub async fn reply(&mut self, raw: &[u8], cto: Option<Duration>) -> u64 {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 2)
            .unwrap_or(raw.len());
        let (head, body) = (&raw[..split], raw.get(split + 2..).unwrap_or_default());
        let Ok(send) = self.respond.send_response(
            convert::response(Bytes::copy_from_slice(head)),
            body.is_empty(),
        ) else {
            return 0;
        };
        let mut out = Out {
            send,
            cto,
            sent: head.len() as u64,
        };
        if !body.is_empty() {
            let _ = out.data(Bytes::copy_from_slice(body), true).await;
        }
        out.sent
    }

    /// Resets the stream (the response could not be completed).
    pub fn reset(&mut self) {
        match &mut self.send {
            Some(s) => s.send_reset(h2::Reason::INTERNAL_ERROR),
            None => self.respond.send_reset(h2::Reason::INTERNAL_ERROR),
        }
    }
}

async fn put<W: AsyncWrite + Unpin>(
    w: &mut W,
    data: &[u8],
    wto: Option<Duration>,
) -> Result<(), CopyError> {
    match within(wto, w.write_all(data)).await {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(CopyError::Write(e)),
        None => Err(CopyError::WriteTimeout),
    }
}

/// A response body on its way to the client, under the stream's flow control.
struct Out {
    send: SendStream<Bytes>,
    cto: Option<Duration>,
    sent: u64,
}

impl Out {
    /// Sends `data` as the client's window allows (waiting at most `timeout client` for
    /// window), ending the stream with it when `end`.
    async fn data(&mut self, mut data: Bytes, end: bool) -> Result<(), CopyError> {
        // Empty, or the last piece and no bigger than a read buffer: handed to the h2 crate
        // at once, which sends it as the window allows, instead of asking for capacity and
        // waiting for it (a round through the connection's task that most responses do
        // not need). Nothing follows it, so what waits for window stays bounded by what
        // the stream holds anyway.
        if data.is_empty() || (end && data.len() <= BUF) {
            self.sent += data.len() as u64;
            return self
                .send
                .send_data(data, end)
                .map_err(|e| CopyError::Write(h2_err(e)));
        }
        while !data.is_empty() {
            self.send.reserve_capacity(data.len());
            let cap = match within(self.cto, poll_fn(|cx| self.send.poll_capacity(cx))).await {
                None => return Err(CopyError::WriteTimeout),
                Some(None) => return Err(CopyError::Write(std::io::ErrorKind::BrokenPipe.into())),
                Some(Some(Err(e))) => return Err(CopyError::Write(h2_err(e))),
                Some(Some(Ok(n))) => n,
            };
            if cap == 0 {
                continue;
            }
            let chunk = data.split_to(cap.min(data.len()));
            self.sent += chunk.len() as u64;
            self.send
                .send_data(chunk, end && data.is_empty())
                .map_err(|e| CopyError::Write(h2_err(e)))?;
        }
        Ok(())
    }

    /// A body delimited by length (`Some`) or by the server's close (`None`).
    async fn copy<R: AsyncRead + Unpin>(
        &mut self,
        up: &mut R,
        ubuf: &mut BytesMut,
        len: Option<u64>,
        sto: Option<Duration>,
    ) -> Result<(), CopyError> {
        let mut left = len;
        loop {
            if left == Some(0) {
                return self.data(Bytes::new(), true).await;
            }
            if ubuf.is_empty() && fill(up, ubuf, sto).await? == 0 {
                return match left {
                    None => self.data(Bytes::new(), true).await,
                    Some(_) => Err(CopyError::Read(std::io::ErrorKind::UnexpectedEof.into())),
                };
            }
            let k = left.map_or(ubuf.len(), |l| {
                ubuf.len().min(usize::try_from(l).unwrap_or(usize::MAX))
            });
            let chunk = ubuf.split_to(k).freeze();
            left = left.map(|l| l - k as u64);
            self.data(chunk, left == Some(0)).await?;
            if left == Some(0) {
                return Ok(());
            }
        }
    }

    /// A chunked body, decoded into DATA frames; its trailers become a trailing HEADERS.
    async fn dechunk<R: AsyncRead + Unpin>(
        &mut self,
        up: &mut R,
        ubuf: &mut BytesMut,
        sto: Option<Duration>,
    ) -> Result<(), CopyError> {
        loop {
            let n = line(up, ubuf, sto).await?;
            let size = chunk_size(&ubuf[..n]).ok_or(CopyError::BadChunk)?;
            ubuf.advance(n);
            if size == 0 {
                return self.trailers(up, ubuf, sto).await;
            }
            let mut left = size;
            while left > 0 {
                if ubuf.is_empty() && fill(up, ubuf, sto).await? == 0 {
                    return Err(CopyError::Read(std::io::ErrorKind::UnexpectedEof.into()));
                }
                let k = ubuf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                left -= k as u64;
                self.data(ubuf.split_to(k).freeze(), false).await?;
            }
            while ubuf.len() < 2 {
                if fill(up, ubuf, sto).await? == 0 {
                    return Err(CopyError::Read(std::io::ErrorKind::UnexpectedEof.into()));
                }
            }
            if &ubuf[..2] != b"\r\n" {
                return Err(CopyError::BadChunk);
            }
            ubuf.advance(2);
        }
    }

    async fn trailers<R: AsyncRead + Unpin>(
        &mut self,
        up: &mut R,
        ubuf: &mut BytesMut,
        sto: Option<Duration>,
    ) -> Result<(), CopyError> {
        let mut map = http::HeaderMap::new();
        loop {
            let n = line(up, ubuf, sto).await?;
            let l = ubuf.split_to(n);
            let l = l.strip_suffix(b"\n").unwrap_or(&l);
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            if l.is_empty() {
                break;
            }
            if let Some(c) = l.iter().position(|&b| b == b':') {
                let (n, v) = (&l[..c], l[c + 1..].trim_ascii());
                if let (Ok(n), Ok(v)) = (
                    http::HeaderName::from_bytes(n),
                    http::HeaderValue::from_bytes(v),
                ) {
                    map.append(n, v);
                }
            }
        }
        if map.is_empty() {
            return self.data(Bytes::new(), true).await;
        }
        self.send
            .send_trailers(map)
            .map_err(|e| CopyError::Write(h2_err(e)))
    }
}
