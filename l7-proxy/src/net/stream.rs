//! One stream type for every transport, so the proxy logic and the byte pipes are written
//! once (pingora's `Stream`, sozu's generic pipe): plain TCP, TLS accepted from a client,
//! TLS opened to a server.

use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A connection to a client or a server.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TLS accepted from a client (`bind ... ssl`).
    TlsServer(Box<super::tls::server_stream::ServerStream>),
    /// TLS opened to a server (`server ... ssl`).
    TlsClient(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Stream {
    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Tcp(s) => s,
            Stream::TlsServer(s) => s.socket(),
            Stream::TlsClient(s) => s.get_ref().0,
        }
    }

    /// Ready when a read would not wait: bytes (or a FIN) on the socket, or plaintext a TLS
    /// session already decrypted. Lets an idle connection wait without holding a buffer.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let buffered = match self {
            Stream::Tcp(_) => false,
            Stream::TlsServer(s) => s.has_buffered_input(),
            // rustls: `wants_read()` is false while decrypted plaintext waits to be read.
            Stream::TlsClient(s) => !s.get_ref().1.wants_read(),
        };
        if buffered {
            return Poll::Ready(Ok(()));
        }
        self.tcp().poll_read_ready(cx)
    }

    /// Whether bytes or a FIN reached an idle connection, as the reactor last saw them: no
    /// system call. The reactor records every arrival on a registered socket, waited for
    /// or not, and tokio clears the mark after a read that drained the socket, so an idle
    /// connection is marked only by what came after its last response (a mark left by a
    /// read that exactly filled its buffer costs one needless reconnect, nothing more).
    pub fn has_arrivals(&self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        self.poll_read_ready(&mut cx).is_ready()
    }

    /// Whether an idle pooled connection still looks usable: nothing to read and no FIN
    /// (checked with a non-blocking peek, so no byte of a TLS record is consumed). Bytes
    /// arriving on an idle HTTP/1.1 connection are a close notice or a protocol error.
    pub fn is_idle_and_open(&self) -> bool {
        let mut b = [std::mem::MaybeUninit::<u8>::uninit(); 1];
        match socket2::SockRef::from(self.tcp()).peek(&mut b) {
            Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
            Ok(_) => false,
        }
    }
}

impl crate::io::Spliceable for Stream {
    fn plain_tcp(&self) -> Option<&TcpStream> {
        match self {
            Stream::Tcp(s) => Some(s),
            Stream::TlsServer(_) | Stream::TlsClient(_) => None,
        }
    }
}

/// A plain socket holds bytes for the ones that follow (`MSG_MORE`); TLS streams write
/// their records as usual.
impl crate::io::WriteMore for Stream {
    fn poll_write_more(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self {
            Stream::Tcp(s) => s.poll_write_more(cx, buf),
            Stream::TlsServer(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::TlsClient(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::TlsServer(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::TlsClient(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::TlsServer(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::TlsClient(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::TlsServer(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            Stream::TlsClient(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.is_write_vectored(),
            Stream::TlsServer(s) => s.is_write_vectored(),
            Stream::TlsClient(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::TlsServer(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::TlsClient(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::TlsServer(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::TlsClient(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
