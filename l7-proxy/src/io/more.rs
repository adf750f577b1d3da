//! Writes that tell the kernel more bytes of the message follow at once (`MSG_MORE`,
//! send(2)): it holds a partial segment for them instead of pushing it alone. A body
//! relayed in 16 KiB reads then leaves in full segments, with one push (and one wake-up of
//! the receiver) per segment instead of per read, as HAProxy sends a body it knows is not
//! over. Only for bytes surely followed by more of the same message (a response head
//! before its body, a `Content-Length` body before its end): the last write of a message
//! goes without the flag and pushes everything held, and a body whose end is unknown
//! (chunked, until-close: a stream of events) is never held back.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use socket2::SockRef;
use tokio::io::{AsyncWrite, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

/// A writer that can be told that more bytes follow this write.
pub trait WriteMore: AsyncWrite + Unpin {
    /// Writes some of `buf`, more bytes of the message to follow at once. Writers with no
    /// such notion write as usual.
    fn poll_write_more(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(self).poll_write(cx, buf)
    }
}

impl WriteMore for TcpStream {
    fn poll_write_more(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.poll_write_ready(cx))?;
            let sent = self.try_io(Interest::WRITABLE, || {
                SockRef::from(&*self).send_with_flags(buf, libc::MSG_MORE | libc::MSG_NOSIGNAL)
            });
            match sent {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
            }
        }
    }
}

impl WriteMore for Vec<u8> {}
impl WriteMore for tokio::io::DuplexStream {}

/// Writes all of `data`; with `more`, telling the kernel more bytes follow.
pub async fn write_all<W: WriteMore>(dst: &mut W, mut data: &[u8], more: bool) -> io::Result<()> {
    if !more {
        return dst.write_all(data).await;
    }
    std::future::poll_fn(|cx| {
        while !data.is_empty() {
            match ready!(dst.poll_write_more(cx, data)) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => data = &data[n..],
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    use crate::io::Counted;
    use crate::net::loopback_pair as pair;

    #[tokio::test]
    async fn bytes_written_with_more_arrive_with_the_last_write() {
        let (mut tx, mut rx) = pair().await;
        write_all(&mut tx, b"head ", true).await.expect("written");
        write_all(&mut tx, b"body", false).await.expect("written");
        let mut got = [0u8; 9];
        rx.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"head body");
    }

    #[tokio::test]
    async fn a_counted_writer_counts_what_it_wrote_with_more() {
        let (mut tx, _rx) = pair().await;
        let mut counted = Counted::new(&mut tx);
        write_all(&mut counted, &[7u8; 3000], true)
            .await
            .expect("written");
        assert_eq!(counted.written, 3000);
    }
}
