//! A bidirectional byte pipe between two streams of any kind (plain TCP, TLS on either
//! side), as TCP mode and HTTP upgrades (WebSocket) use it.
//!
//! One future polls both directions: each has one bounded buffer, so a slow reader
//! back-pressures its writer. A FIN from one side is passed on as a shutdown of the other
//! side's writing half (half-close), and the pipe ends when both directions have ended.
//! Idleness is judged without reading the clock on the data path: every transfer sets a
//! flag, and a timer firing every idle period ends the pipe only if nothing moved since its
//! previous firing (a silent pipe ends between one and two periods after its last byte,
//! like HAProxy's coarse timeouts). A direction between two plain TCP sockets may move its
//! bytes with splice(2) instead of the buffer ([`SpliceMode`], `option splice-*`).

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::pool;
use super::splice::{SpliceMode, SplicePipe, Spliceable};
use super::CopyError;

/// One direction: read into the buffer (or splice into a pipe), write it out, pass the FIN
/// on.
struct Half {
    /// Bytes read and not written yet, in a buffer of the thread's pool ([`pool`]) held only
    /// while it holds bytes: a quiet tunnel costs its sockets, not 16 KiB a direction, and
    /// the busy ones of a thread take turns with the same few buffers, still in the cache
    /// from the last read (as HAProxy's buffer pools do).
    buf: BytesMut,
    splice: SpliceMode,
    /// Present while the direction splices.
    pipe: Option<SplicePipe>,
    /// Reads in a row that filled the buffer (`SpliceMode::Auto` starts splicing at 2).
    full_reads: u8,
    read_done: bool,
    done: bool,
    /// Written since the last flush (a TLS writer may hold bytes until flushed).
    unflushed: bool,
    total: u64,
}

impl Half {
    fn new(pending: &[u8], splice: SpliceMode) -> Half {
        Half {
            buf: BytesMut::from(pending),
            splice,
            pipe: None,
            full_reads: 0,
            read_done: false,
            done: false,
            unflushed: false,
            total: 0,
        }
    }

    /// Makes progress until blocked; `Ready(Ok)` once the FIN has been passed on.
    fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut R,
        dst: &mut W,
        moved: &mut bool,
    ) -> Poll<Result<(), CopyError>>
    where
        R: AsyncRead + Spliceable + Unpin,
        W: AsyncWrite + Spliceable + Unpin,
    {
        loop {
            if self.done {
                return Poll::Ready(Ok(()));
            }
            if let Some(pipe) = self.pipe.as_mut().filter(|p| !p.is_empty()) {
                let Some(dst) = dst.plain_tcp() else {
                    return Poll::Ready(Err(CopyError::Write(not_plain())));
                };
                let n = ready!(pipe.poll_drain(cx, dst)).map_err(CopyError::Write)?;
                self.total += n as u64;
                *moved = true;
                continue;
            }
            if !self.buf.is_empty() {
                let n = ready!(Pin::new(&mut *dst).poll_write(cx, &self.buf))
                    .map_err(CopyError::Write)?;
                if n == 0 {
                    return Poll::Ready(Err(CopyError::Write(
                        std::io::ErrorKind::WriteZero.into(),
                    )));
                }
                self.buf.advance(n);
                self.total += n as u64;
                self.unflushed = true;
                *moved = true;
                continue;
            }
            if self.read_done {
                // Half-close: pass the FIN on (after the last bytes are flushed).
                ready!(Pin::new(&mut *dst).poll_shutdown(cx)).map_err(CopyError::Write)?;
                self.done = true;
                continue;
            }
            if self.wants_pipe(src, dst) {
                self.pipe = SplicePipe::take();
                if self.pipe.is_none() {
                    // No pipe left (`maxpipes`, or out of descriptors): keep copying.
                    self.splice = SpliceMode::Off;
                }
            }
            if let Some(pipe) = &mut self.pipe {
                let Some(src) = src.plain_tcp() else {
                    return Poll::Ready(Err(CopyError::Read(not_plain())));
                };
                match ready!(pipe.poll_fill(cx, src, usize::MAX)).map_err(CopyError::Read)? {
                    0 => self.read_done = true,
                    _ => *moved = true,
                }
                continue;
            }
            if self.buf.capacity() == 0 {
                self.buf = pool::take();
            }
            let room = self.buf.capacity();
            let read = std::pin::pin!(src.read_buf(&mut self.buf)).poll(cx);
            match read {
                Poll::Ready(Ok(n)) => {
                    if n == 0 {
                        self.read_done = true;
                        pool::give(&mut self.buf);
                    } else {
                        *moved = true;
                    }
                    let full = n == room;
                    self.full_reads = if full {
                        self.full_reads.saturating_add(1)
                    } else {
                        0
                    };
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(CopyError::Read(e))),
                Poll::Pending => {
                    pool::give(&mut self.buf);
                    if self.unflushed {
                        ready!(Pin::new(&mut *dst).poll_flush(cx)).map_err(CopyError::Write)?;
                        self.unflushed = false;
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    /// Whether bytes read wait to be written (in the buffer or the pipe).
    fn has_unsent(&self) -> bool {
        !self.buf.is_empty() || self.pipe.as_ref().is_some_and(|p| !p.is_empty())
    }

    /// Whether to start splicing now (both sides plain TCP, and the mode says so).
    fn wants_pipe<R: Spliceable, W: Spliceable>(&self, src: &R, dst: &W) -> bool {
        let now = match self.splice {
            SpliceMode::Off => false,
            SpliceMode::Auto => self.full_reads >= 2,
            SpliceMode::Always => true,
        };
        now && self.pipe.is_none() && src.plain_tcp().is_some() && dst.plain_tcp().is_some()
    }
}

/// A pipe is only taken when both sides are plain TCP sockets ([`Half::wants_pipe`]), and
/// the sides of a tunnel do not change: this error cannot happen, and ends the tunnel
/// rather than the process if it ever did.
fn not_plain() -> std::io::Error {
    std::io::Error::other("a spliced direction's socket is not a plain TCP socket")
}

/// Moves bytes both ways until both sides have closed (half-close is propagated), or
/// nothing moved for the idle period (the shorter of the two timeouts that are set).
/// `a_pending`/`b_pending` are bytes already read from `a`/`b`, delivered first; `splice`
/// says how a→b and b→a may splice. Returns (bytes a→b, bytes b→a, how it ended).
pub async fn tunnel<A, B>(
    a: &mut A,
    a_pending: &[u8],
    b: &mut B,
    b_pending: &[u8],
    a_idle: Option<Duration>,
    b_idle: Option<Duration>,
    splice: [SpliceMode; 2],
) -> (u64, u64, Result<(), CopyError>)
where
    A: AsyncRead + AsyncWrite + Spliceable + Unpin,
    B: AsyncRead + AsyncWrite + Spliceable + Unpin,
{
    let mut up = Half::new(a_pending, splice[0]);
    let mut down = Half::new(b_pending, splice[1]);
    let idle = match (a_idle, b_idle) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    let period = idle.unwrap_or(Duration::from_secs(86400 * 365));
    let sleep = tokio::time::sleep(period);
    tokio::pin!(sleep);
    let mut moved_since_tick = true;
    let r = poll_fn(|cx| {
        let mut moved = false;
        let r_up = up.poll_copy(cx, a, b, &mut moved);
        let r_down = down.poll_copy(cx, b, a, &mut moved);
        moved_since_tick |= moved;
        match (r_up, r_down) {
            (Poll::Ready(Err(e)), _) | (_, Poll::Ready(Err(e))) => return Poll::Ready(Err(e)),
            (Poll::Ready(Ok(())), Poll::Ready(Ok(()))) => return Poll::Ready(Ok(())),
            _ => {}
        }
        while sleep.as_mut().poll(cx).is_ready() {
            if !moved_since_tick {
                // Which side was waited on: a reader waiting means the peer was silent.
                return Poll::Ready(Err(if up.has_unsent() || down.has_unsent() {
                    CopyError::WriteTimeout
                } else {
                    CopyError::ReadTimeout
                }));
            }
            moved_since_tick = false;
            sleep.as_mut().reset(tokio::time::Instant::now() + period);
        }
        Poll::Pending
    })
    .await;
    for pipe in [up.pipe.take(), down.pipe.take()].into_iter().flatten() {
        pipe.give();
    }
    (up.total, down.total, r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn copies_both_ways_and_passes_half_close_on() {
        let (mut a, mut a_peer) = tokio::io::duplex(64);
        let (mut b, mut b_peer) = tokio::io::duplex(64);
        let pipe = tokio::spawn(async move {
            tunnel(
                &mut a,
                b"pre-",
                &mut b,
                b"",
                None,
                Some(Duration::from_secs(5)),
                [SpliceMode::Off; 2],
            )
            .await
        });
        let writer = tokio::spawn(async move {
            a_peer.write_all(&[7u8; 100_000]).await.expect("write");
            a_peer.shutdown().await.expect("shutdown");
            a_peer
        });
        let mut got = Vec::new();
        b_peer.read_to_end(&mut got).await.expect("read to the FIN");
        let mut a_peer = writer.await.expect("writer");
        assert_eq!(got.len(), 100_004);
        assert!(got.starts_with(b"pre-"));
        b_peer
            .write_all(b"reply")
            .await
            .expect("write back after half-close");
        b_peer.shutdown().await.expect("shutdown");
        let mut back = Vec::new();
        a_peer.read_to_end(&mut back).await.expect("read back");
        assert_eq!(back, b"reply");
        let (up, down, r) = pipe.await.expect("joined");
        assert!(r.is_ok());
        assert_eq!((up, down), (100_004, 5));
    }

    #[tokio::test]
    async fn a_direction_holds_a_buffer_only_while_bytes_wait_in_it() {
        let (mut a, mut a_peer) = tokio::io::duplex(4096);
        let (mut b, mut b_peer) = tokio::io::duplex(64);
        // Two free buffers, so the tunnel need not allocate any.
        let mut two = [pool::take(), pool::take()];
        two.iter_mut().for_each(pool::give);
        let free = pool::free_len();
        let _tunnel = tokio::spawn(async move {
            tunnel(&mut a, b"", &mut b, b"", None, None, [SpliceMode::Off; 2]).await
        });
        // More than b's pipe takes while b_peer does not read: bytes wait in the tunnel.
        a_peer.write_all(&[1u8; 1000]).await.expect("write");
        // The runtime has one thread: the tunnel runs until both directions wait.
        tokio::task::yield_now().await;
        assert_eq!(pool::free_len(), free - 1, "a→b holds one buffer");
        let mut got = vec![0u8; 1000];
        b_peer.read_exact(&mut got).await.expect("read");
        tokio::task::yield_now().await;
        assert_eq!(pool::free_len(), free, "a quiet tunnel holds none");
    }

    #[tokio::test]
    async fn idle_pipe_ends_after_one_to_two_periods() {
        let (mut a, _a_peer) = tokio::io::duplex(64);
        let (mut b, _b_peer) = tokio::io::duplex(64);
        let t0 = std::time::Instant::now();
        let ms = Duration::from_millis;
        let (_, _, r) = tunnel(
            &mut a,
            b"",
            &mut b,
            b"",
            Some(ms(100)),
            Some(ms(300)),
            [SpliceMode::Off; 2],
        )
        .await;
        assert!(matches!(r, Err(CopyError::ReadTimeout)));
        let e = t0.elapsed();
        assert!(e >= ms(100) && e < ms(1500), "{e:?}");
    }
}
