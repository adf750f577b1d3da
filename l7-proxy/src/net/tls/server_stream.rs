//! A TLS connection accepted from a client, over rustls' unbuffered API, so that an idle
//! connection holds no buffer: rustls' buffered `ServerConnection` keeps a 4 KiB record
//! buffer per connection between reads (40 MB at 10,000 idle connections); here the
//! record bytes live in [`RecordBuf`]s this stream takes from its thread's pool when it
//! reads or writes and gives back as soon as they are empty.
//!
//! Reads: records are read from the socket into `incoming` and handed to rustls, which
//! decrypts them; the plaintext goes straight into the caller's buffer, and what does not
//! fit waits in `plain`. Writes: plaintext is encrypted into `outgoing` and written out; a
//! write is accepted once encrypted (at most one write's records wait), and `poll_flush`
//! sends what the socket did not take. Handshake and post-handshake messages (tickets, key
//! updates, alerts) are encoded into `outgoing` too, in order.
//!
//! The read side registers only read interest with the reactor and the write side only
//! write interest (a record the read side must send, a key update's, is tried without
//! waiting), so a reader and a writer polling one stream never take each other's wake-up.

use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Buf, BytesMut};
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, UnbufferedStatus};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::record_buf::RecordBuf;

/// Plaintext encrypted per write: one full record (RFC 8446 §5.1: 2^14 bytes at most).
const MAX_PLAIN: usize = 16 * 1024;

/// A client's transport: a TCP socket (a byte pipe in the fuzz target).
pub trait Transport: AsyncRead + AsyncWrite + Unpin {
    /// Writes what can be written now without registering for write readiness.
    fn try_write_now(&mut self, buf: &[u8]) -> io::Result<usize>;
}

impl Transport for TcpStream {
    fn try_write_now(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.try_write(buf)
    }
}

/// A TLS connection from a client, after (or during) its handshake.
pub struct ServerStream<T = TcpStream> {
    socket: T,
    conn: UnbufferedServerConnection,
    /// Record bytes read and not yet processed by rustls.
    incoming: RecordBuf,
    /// Records encrypted or encoded and not yet written.
    outgoing: RecordBuf,
    /// Decrypted bytes the reader has not taken yet (a record larger than its buffer).
    plain: BytesMut,
    /// The name the client asked for (SNI), seen by the certificate resolver.
    sni: Option<String>,
    /// The socket reached end of file.
    socket_eof: bool,
    /// The client's close_notify was read: the next read returns end of file.
    peer_closed: bool,
    /// Our close_notify is queued.
    close_sent: bool,
}

impl<T: std::fmt::Debug> std::fmt::Debug for ServerStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerStream")
            .field("socket", &self.socket)
            .field("sni", &self.sni)
            .field("incoming", &self.incoming.len())
            .field("outgoing", &self.outgoing.len())
            .field("plain", &self.plain.len())
            .finish_non_exhaustive()
    }
}

/// What one call into rustls left to do.
enum Step {
    /// Something was done (a record encoded, sent, processed): call again.
    Again,
    /// Application data was delivered (into the reader's buffer or `plain`).
    Delivered,
    /// rustls needs more bytes from the client.
    NeedBytes,
    /// Ready for application data; what was asked to be written is encrypted.
    Writable,
    /// The client's close_notify arrived (reported once).
    PeerClosed,
    /// Both sides sent close_notify.
    Closed,
}

/// What to do if rustls is ready for application data.
#[derive(Clone, Copy)]
enum Write<'a> {
    Nothing,
    Data(&'a [u8]),
    CloseNotify,
}

impl<T: Transport> ServerStream<T> {
    /// Runs the handshake on `socket` (bound by the caller's timeout).
    pub async fn accept(socket: T, config: Arc<ServerConfig>) -> io::Result<ServerStream<T>> {
        let conn = UnbufferedServerConnection::new(config).map_err(tls_error)?;
        let mut s = ServerStream {
            socket,
            conn,
            incoming: RecordBuf::default(),
            outgoing: RecordBuf::default(),
            plain: BytesMut::new(),
            sni: None,
            socket_eof: false,
            peer_closed: false,
            close_sent: false,
        };
        std::future::poll_fn(|cx| s.poll_handshake(cx)).await?;
        Ok(s)
    }

    /// The socket underneath.
    pub fn socket(&self) -> &T {
        &self.socket
    }

    /// The negotiated session: protocol, suite, ALPN, how the handshake went.
    pub fn session(&self) -> &rustls::CommonState {
        &self.conn
    }

    /// The name the client asked for (SNI), if it sent one.
    pub fn sni(&self) -> Option<&str> {
        self.sni.as_deref()
    }

    /// Whether a read would return without waiting for the socket: decrypted bytes wait,
    /// a whole record waits to be decrypted, or the client's close_notify waits to be
    /// reported. A partial record does not count (the read would wait for the rest).
    pub fn has_buffered_input(&self) -> bool {
        !self.plain.is_empty()
            || self.incoming.holds_a_record()
            || !self.conn.wants_read()
            || self.peer_closed
    }

    /// Whether this stream holds no buffer (an idle connection should not).
    #[cfg(test)]
    fn holds_no_buffer(&self) -> bool {
        !self.incoming.is_allocated() && !self.outgoing.is_allocated() && self.plain.capacity() == 0
    }

    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let (step, sni) = sni_seen_during(|| self.step(None, Write::Nothing));
            if sni.is_some() {
                self.sni = sni;
            }
            match step? {
                Step::Again => {}
                Step::PeerClosed | Step::Closed => {
                    return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                }
                // The first request came with the client's Finished: it waits in `plain`.
                Step::Writable | Step::Delivered if !self.conn.is_handshaking() => {
                    // Send what the handshake left (the Finished, session tickets).
                    return self.poll_send(cx);
                }
                Step::Delivered => {
                    // No early data is accepted: nothing is delivered before the end.
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "application data before the handshake ended",
                    )));
                }
                Step::NeedBytes | Step::Writable => {
                    ready!(self.poll_send(cx))?;
                    if ready!(self.poll_read_socket(cx))? == 0 {
                        return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                    }
                }
            }
        }
    }

    /// One call into rustls with the unprocessed bytes, then their discard. Delivered
    /// plaintext goes to `reader` while it has room, the rest to `plain`; `write` is done
    /// if rustls is ready for application data.
    fn step(&mut self, mut reader: Option<&mut ReadBuf<'_>>, write: Write<'_>) -> io::Result<Step> {
        // The state borrows the connection and `incoming`: it ends before the discard.
        let (discard, step) = {
            let UnbufferedStatus { mut discard, state } =
                self.conn.process_tls_records(self.incoming.data_mut());
            let step = match state {
                Err(e) => Err(Failed::Tls(e)),
                Ok(ConnectionState::ReadTraffic(mut records)) => loop {
                    match records.next_record() {
                        None => break Ok(Step::Delivered),
                        Some(Err(e)) => break Err(Failed::Tls(e)),
                        Some(Ok(record)) => {
                            discard += record.discard;
                            deliver(record.payload, reader.as_deref_mut(), &mut self.plain);
                        }
                    }
                },
                Ok(ConnectionState::EncodeTlsData(mut tls)) => {
                    encode_into(&mut self.outgoing, |out| tls.encode(out)).map(|()| Step::Again)
                }
                Ok(ConnectionState::TransmitTlsData(tls)) => {
                    // In order behind anything queued before: sent when the socket takes it.
                    tls.done();
                    Ok(Step::Again)
                }
                Ok(ConnectionState::WriteTraffic(mut traffic)) => match write {
                    Write::Nothing => Ok(Step::Writable),
                    Write::Data(data) => {
                        encrypt_into(&mut self.outgoing, |out| traffic.encrypt(data, out))
                    }
                    Write::CloseNotify => {
                        encrypt_into(&mut self.outgoing, |out| traffic.queue_close_notify(out))
                    }
                },
                Ok(ConnectionState::BlockedHandshake) => Ok(Step::NeedBytes),
                Ok(ConnectionState::PeerClosed) => Ok(Step::PeerClosed),
                Ok(ConnectionState::Closed) => Ok(Step::Closed),
                Ok(ConnectionState::ReadEarlyData(_)) => Err(Failed::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "early data was not offered",
                ))),
                Ok(other) => Err(Failed::Io(io::Error::other(format!(
                    "unexpected TLS state {other:?}"
                )))),
            };
            (discard, step)
        };
        self.incoming.discard(discard);
        // Nothing left to process: the buffer goes back now, not at the next read (a
        // connection waiting for its next request may not read until bytes arrive).
        self.incoming.release_if_empty();
        match step {
            Ok(step) => Ok(step),
            Err(Failed::Tls(e)) => Err(self.fail(e)),
            Err(Failed::Io(e)) => Err(e),
        }
    }

    /// A fatal error: rustls queued an alert for the client; it goes out if the socket
    /// takes it now (the connection closes either way). rustls is called as always, with
    /// the bytes left after the discard: its handshake deframer counts positions in them.
    fn fail(&mut self, e: rustls::Error) -> io::Error {
        let UnbufferedStatus { state, .. } =
            self.conn.process_tls_records(self.incoming.data_mut());
        if let Ok(ConnectionState::EncodeTlsData(mut tls)) = state {
            if let Ok(n) = tls.encode(self.outgoing.room(0)) {
                self.outgoing.filled(n);
            }
        }
        self.try_send();
        tls_error(e)
    }

    /// Reads what the socket has into `incoming`; 0 at end of file. Gives the buffer
    /// back while waiting, so a connection waiting for its client holds none.
    fn poll_read_socket(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let room = self
            .incoming
            .read_room()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("TLS {e}")))?;
        let mut buf = ReadBuf::new(room);
        match Pin::new(&mut self.socket).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len();
                self.incoming.filled(n);
                if n == 0 {
                    self.socket_eof = true;
                    self.incoming.release_if_empty();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                self.incoming.release_if_empty();
                Poll::Pending
            }
        }
    }

    /// Writes `outgoing` until it is empty (then gives its buffer back) or the socket is
    /// full.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.outgoing.is_empty() {
            match ready!(Pin::new(&mut self.socket).poll_write(cx, self.outgoing.data_mut())) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.outgoing.discard(n),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        self.outgoing.release_if_empty();
        Poll::Ready(Ok(()))
    }

    /// Writes what the socket takes now, without registering for write readiness (the
    /// read side's sends: the writer's wake-up stays the writer's).
    fn try_send(&mut self) {
        while !self.outgoing.is_empty() {
            match self.socket.try_write_now(self.outgoing.data_mut()) {
                Ok(n) if n > 0 => self.outgoing.discard(n),
                _ => return,
            }
        }
        self.outgoing.release_if_empty();
    }

    /// Processes records until `write` is done (rustls is ready for application data).
    fn write_step(&mut self, write: Write<'_>) -> io::Result<()> {
        loop {
            match self.step(None, write)? {
                Step::Writable => return Ok(()),
                Step::PeerClosed => self.peer_closed = true,
                Step::Again | Step::Delivered => {}
                Step::NeedBytes => {
                    return Err(io::Error::other("TLS write before the handshake ended"));
                }
                Step::Closed => return Err(io::ErrorKind::BrokenPipe.into()),
            }
        }
    }

    /// Encrypts up to one record of `data`; returns how much was taken.
    fn encrypt(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(MAX_PLAIN);
        self.write_step(Write::Data(&data[..n]))?;
        Ok(n)
    }

    /// A write: once the records of the last one are out, `encrypt` takes what it takes
    /// of the caller's bytes, and the socket gets what it takes of the new records now
    /// (the rest waits for the next write or the flush).
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        encrypt: impl FnOnce(&mut Self) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_send(cx))?;
        let n = encrypt(self)?;
        if let Poll::Ready(Err(e)) = self.poll_send(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }
}

/// Copies a record's plaintext into the reader's buffer, the rest into `plain`.
fn deliver(payload: &[u8], reader: Option<&mut ReadBuf<'_>>, plain: &mut BytesMut) {
    let mut rest = payload;
    if let Some(r) = reader {
        if plain.is_empty() {
            let n = rest.len().min(r.remaining());
            r.put_slice(&rest[..n]);
            rest = &rest[n..];
        }
    }
    plain.extend_from_slice(rest);
}

/// Why a call into rustls failed.
enum Failed {
    /// The client broke the protocol: rustls queued an alert.
    Tls(rustls::Error),
    /// Something else (a state this stream does not expect).
    Io(io::Error),
}

/// Encodes a handshake record into `out`, growing it to the size rustls asks for.
fn encode_into(
    out: &mut RecordBuf,
    mut f: impl FnMut(&mut [u8]) -> Result<usize, EncodeError>,
) -> Result<(), Failed> {
    let mut need = 0;
    loop {
        match f(out.room(need)) {
            Ok(n) => {
                out.filled(n);
                return Ok(());
            }
            Err(EncodeError::InsufficientSize(e)) => need = e.required_size,
            Err(e @ EncodeError::AlreadyEncoded) => {
                return Err(Failed::Io(io::Error::other(e.to_string())))
            }
        }
    }
}

/// Encrypts application data (or a close_notify) into `out`, growing it as `encode_into`.
fn encrypt_into(
    out: &mut RecordBuf,
    mut f: impl FnMut(&mut [u8]) -> Result<usize, EncryptError>,
) -> Result<Step, Failed> {
    let mut need = 0;
    loop {
        match f(out.room(need)) {
            Ok(n) => {
                out.filled(n);
                return Ok(Step::Writable);
            }
            Err(EncryptError::InsufficientSize(e)) => need = e.required_size,
            Err(e) => return Err(Failed::Io(io::Error::other(e.to_string()))),
        }
    }
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl<T: Transport> AsyncRead for ServerStream<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.plain.is_empty() {
                let n = this.plain.len().min(buf.remaining());
                buf.put_slice(&this.plain[..n]);
                this.plain.advance(n);
                if this.plain.is_empty() {
                    this.plain = BytesMut::new();
                }
                return Poll::Ready(Ok(()));
            }
            if this.peer_closed {
                return Poll::Ready(Ok(()));
            }
            let before = buf.filled().len();
            let step = this.step(Some(&mut *buf), Write::Nothing)?;
            if !this.outgoing.is_empty() {
                this.try_send();
            }
            match step {
                Step::Delivered if buf.filled().len() > before || !this.plain.is_empty() => {
                    return Poll::Ready(Ok(()));
                }
                // Empty records (allowed, and bounded by rustls): process on.
                Step::Delivered | Step::Again => {}
                Step::PeerClosed | Step::Closed => {
                    this.peer_closed = true;
                    return Poll::Ready(Ok(()));
                }
                Step::NeedBytes | Step::Writable => {
                    if this.socket_eof {
                        // End of file without close_notify, as rustls' reader reports it.
                        return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                    }
                    ready!(this.poll_read_socket(cx))?;
                }
            }
        }
    }
}

impl<T: Transport> AsyncWrite for ServerStream<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_with(cx, |this| match buf {
            [] => Ok(0),
            data => this.encrypt(data),
        })
    }

    /// Small slices (a head and a short body) go out as one record, copied together
    /// first; a slice of a record's size or more is encrypted where it is.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut slices = bufs.iter().filter(|b| !b.is_empty());
        match (slices.next(), slices.next()) {
            (None, _) => return Poll::Ready(Ok(0)),
            (Some(b), None) => return self.poll_write(cx, b),
            (Some(b), Some(_)) if b.len() >= MAX_PLAIN => return self.poll_write(cx, b),
            _ => {}
        }
        self.get_mut().poll_write_with(cx, |this| {
            GATHER.with(|g| {
                let mut g = g.borrow_mut();
                g.clear();
                for b in bufs {
                    let n = b.len().min(MAX_PLAIN - g.len());
                    g.extend_from_slice(&b[..n]);
                    if g.len() == MAX_PLAIN {
                        break;
                    }
                }
                this.encrypt(&g).map(|_| g.len())
            })
        })
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_send(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.close_sent {
            this.close_sent = true;
            this.write_step(Write::CloseNotify)?;
        }
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.socket).poll_shutdown(cx)
    }
}

/// Tells the stream being accepted on this thread the name its ClientHello asked for;
/// called by the certificate resolver. rustls 0.23's unbuffered server connection does
/// not tell the SNI (the buffered one's `server_name()` has no twin there), but the
/// resolver sees every ClientHello (rustls picks the certificate before it decides on
/// resumption, `server/hs.rs`), on the thread running `process_tls_records`.
pub fn note_sni(name: Option<&str>) {
    SNI_SEEN.with(|s| *s.borrow_mut() = name.map(str::to_owned));
}

/// Runs `f` (a call into rustls) and returns the SNI the resolver noted during it.
fn sni_seen_during<T>(f: impl FnOnce() -> T) -> (T, Option<String>) {
    SNI_SEEN.with(|s| s.borrow_mut().take());
    let t = f();
    (t, SNI_SEEN.with(|s| s.borrow_mut().take()))
}

thread_local! {
    static SNI_SEEN: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Where a vectored write's small slices are put together before encryption.
    static GATHER: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(MAX_PLAIN));
}

#[cfg(test)]
#[path = "server_stream_tests.rs"]
mod tests;
