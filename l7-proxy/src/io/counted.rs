//! A writer that counts the bytes it accepted, so a relay that breaks half-way can log
//! what really went out (HAProxy's `%B` counts bytes sent, not bytes meant).

use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

/// Wraps `inner`, adding every byte it accepts to `written`.
#[derive(Debug)]
pub struct Counted<'a, W> {
    inner: &'a mut W,
    /// Bytes accepted so far.
    pub written: u64,
}

impl<'a, W> Counted<'a, W> {
    /// Counts from zero.
    pub fn new(inner: &'a mut W) -> Self {
        Counted { inner, written: 0 }
    }
}

impl<W: AsyncWrite + Unpin> Counted<'_, W> {
    fn count(&mut self, r: Poll<std::io::Result<usize>>) -> Poll<std::io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = r {
            self.written += n as u64;
        }
        r
    }
}

impl<W: super::WriteMore> super::WriteMore for Counted<'_, W> {
    fn poll_write_more(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = self.inner.poll_write_more(cx, buf);
        self.count(r)
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Counted<'_, W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut *this.inner).poll_write(cx, buf);
        this.count(r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut *this.inner).poll_write_vectored(cx, bufs);
        this.count(r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.get_mut().inner).poll_shutdown(cx)
    }
}
