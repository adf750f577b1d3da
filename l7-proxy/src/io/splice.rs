//! Kernel splicing of one direction of a plain TCP relay: bytes go socket → pipe → socket
//! with splice(2) and are never copied into user space, as HAProxy's `option splice-*`
//! moves them. It pays for large transfers (the per-byte copy is the cost that grows);
//! a TLS side has to be decrypted in user space and cannot be spliced.
//!
//! The pipe is filled only when empty and then drained, so an `EAGAIN` from filling always
//! means "the socket has nothing to read" (never "the pipe is full"), and tokio's readiness
//! for the socket stays exact.
//!
//! Pipes are descriptors: the process holds at most [`set_pipe_budget`] of them (HAProxy's
//! `maxpipes`, counted in the file limit), a relay that finds none left copies through its
//! buffer instead, and empty pipes are kept per thread for the next relay (four system
//! calls saved per HTTP body, as HAProxy's pipe pool does).

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use nix::fcntl::{fcntl, splice, FcntlArg, OFlag, SpliceFFlags};
use tokio::io::{AsyncRead, AsyncWrite, Interest};
use tokio::net::TcpStream;

use super::body::{eof, put};
use super::{CopyError, Deadline, Framing, BUF};

/// Pipes the process may hold: `usize::MAX` until [`set_pipe_budget`].
static BUDGET: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Pipes open now (in use or kept for reuse).
static OPEN: AtomicUsize = AtomicUsize::new(0);
/// Empty pipes kept per thread.
const KEEP: usize = 8;

thread_local! {
    static FREE: RefCell<Vec<SplicePipe>> = const { RefCell::new(Vec::new()) };
}

/// Caps the pipes of the process (`maxpipes`; the daemon counts two descriptors each in
/// its file limit).
pub fn set_pipe_budget(n: usize) {
    BUDGET.store(n, Ordering::Relaxed);
}

/// When a relay direction uses splice(2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SpliceMode {
    /// Never: bytes go through a user-space buffer.
    #[default]
    Off,
    /// Once the direction streams (HAProxy's `splice-auto`): after two reads in a row that
    /// filled the whole buffer, so short exchanges never pay for a pipe.
    Auto,
    /// From the first byte (`splice-request` / `splice-response`).
    Always,
}

/// The modes of (client → server, server → client) that `option splice-*` ask for.
pub fn modes(o: crate::config::SpliceOptions) -> [SpliceMode; 2] {
    let pick = |always: bool| match (always, o.auto) {
        (true, _) => SpliceMode::Always,
        (false, true) => SpliceMode::Auto,
        (false, false) => SpliceMode::Off,
    };
    [pick(o.request), pick(o.response)]
}

/// A stream whose bytes may be spliced: the plain TCP socket underneath, if there is one.
pub trait Spliceable {
    /// `None` for a stream whose bytes are transformed in user space (TLS).
    fn plain_tcp(&self) -> Option<&TcpStream>;
}

impl Spliceable for TcpStream {
    fn plain_tcp(&self) -> Option<&TcpStream> {
        Some(self)
    }
}

impl Spliceable for tokio::io::DuplexStream {
    fn plain_tcp(&self) -> Option<&TcpStream> {
        None
    }
}

const FLAGS: SpliceFFlags = SpliceFFlags::SPLICE_F_MOVE.union(SpliceFFlags::SPLICE_F_NONBLOCK);

/// A kernel pipe holding the bytes in transit of one direction.
#[derive(Debug)]
pub struct SplicePipe {
    read: OwnedFd,
    write: OwnedFd,
    /// Bytes in the pipe.
    len: usize,
    /// The pipe's capacity (64 KiB unless the system says otherwise).
    cap: usize,
}

impl Drop for SplicePipe {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

impl SplicePipe {
    /// An empty pipe: one of the thread's kept ones, else a new one if the budget allows.
    /// `None` when there is none to have (the caller copies through its buffer).
    pub fn take() -> Option<SplicePipe> {
        if let Some(p) = FREE.with(|f| f.borrow_mut().pop()) {
            return Some(p);
        }
        if OPEN.fetch_add(1, Ordering::Relaxed) >= BUDGET.load(Ordering::Relaxed) {
            OPEN.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        match Self::open() {
            Ok(p) => Some(p),
            Err(_) => {
                // Out of descriptors: counted as never opened.
                OPEN.fetch_sub(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Gives the pipe back for reuse by the thread's next relay; a pipe still holding
    /// bytes (a relay that broke) is closed instead.
    pub fn give(self) {
        if !self.is_empty() {
            return;
        }
        FREE.with(|f| {
            let mut f = f.borrow_mut();
            if f.len() < KEEP {
                f.push(self);
            }
        });
    }

    /// A new non-blocking pipe, counted in [`OPEN`] by the caller.
    fn open() -> io::Result<SplicePipe> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        let cap = fcntl(&write, FcntlArg::F_GETPIPE_SZ)?;
        Ok(SplicePipe {
            read,
            write,
            len: 0,
            cap: usize::try_from(cap).unwrap_or(0).max(4096),
        })
    }

    /// Bytes in the pipe, not yet written out.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the pipe is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Moves what `src` has (at most `max` bytes, at most a pipe's worth) into the empty
    /// pipe. `Ready(Ok(0))` is the peer's FIN.
    pub fn poll_fill(
        &mut self,
        cx: &mut Context<'_>,
        src: &TcpStream,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        debug_assert!(
            self.is_empty(),
            "filled only when empty: EAGAIN must mean the socket"
        );
        let want = self.cap.min(max);
        loop {
            ready!(src.poll_read_ready(cx))?;
            let r = src.try_io(Interest::READABLE, || {
                Ok(splice(src, None, &self.write, None, want, FLAGS)?)
            });
            match r {
                Ok(n) => {
                    self.len += n;
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Writes some of the pipe's bytes to `dst`; returns how many.
    pub fn poll_drain(&mut self, cx: &mut Context<'_>, dst: &TcpStream) -> Poll<io::Result<usize>> {
        loop {
            ready!(dst.poll_write_ready(cx))?;
            let r = dst.try_io(Interest::WRITABLE, || {
                Ok(splice(&self.read, None, dst, None, self.len, FLAGS)?)
            });
            match r {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    self.len -= n;
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// Relays an HTTP/1.1 body of `framing` from `src` to `dst` with splice(2), when `mode`
/// and the streams allow it: a length-delimited body (with `Auto`, one of at least two
/// buffers still to come) or, with `Always`, a body that ends at the close, between two
/// plain TCP sockets. The bytes already read (in `buf`) go first, through user space.
/// Returns `None` when splicing does not apply (the caller copies through its buffer);
/// `moved` counts the body bytes written, also when the relay breaks.
pub async fn relay_body<R, W>(
    src: &mut R,
    buf: &mut BytesMut,
    dst: &mut W,
    framing: Framing,
    [rto, wto]: [Option<Duration>; 2],
    mode: SpliceMode,
    moved: &mut u64,
) -> Option<Result<(), CopyError>>
where
    R: AsyncRead + Spliceable + Unpin,
    W: AsyncWrite + Spliceable + Unpin,
{
    let (buffered, rest) = match (framing, mode) {
        (_, SpliceMode::Off) => return None,
        (Framing::Length(n), _) => {
            let buffered = (buf.len() as u64).min(n);
            let rest = n - buffered;
            if mode == SpliceMode::Auto && rest < 2 * BUF as u64 {
                return None;
            }
            (buffered as usize, Some(rest))
        }
        (Framing::UntilClose, SpliceMode::Always) => (buf.len(), None),
        _ => return None,
    };
    if src.plain_tcp().is_none() || dst.plain_tcp().is_none() {
        return None;
    }
    // None left (the budget, or out of descriptors): through the buffer.
    let mut pipe = SplicePipe::take()?;
    if buffered > 0 {
        if let Err(e) = put(dst, &buf[..buffered], wto).await {
            return Some(Err(e));
        }
        buf.advance(buffered);
        *moved += buffered as u64;
    }
    let (Some(src), Some(dst)) = (src.plain_tcp(), dst.plain_tcp()) else {
        return None;
    };
    let r = relay_pipe(&mut pipe, src, dst, rest, [rto, wto], moved).await;
    pipe.give();
    if r.is_ok() && rest.is_some() {
        settle_readiness(src);
    }
    Some(r)
}

/// After a body that ended exactly where a splice ended, tokio still marks `src` readable
/// (its readiness is cleared only by a read that would block), and a pooled server
/// connection so marked looks as if it had sent something after its response: it would be
/// closed instead of reused, one new connection per spliced body. One peek settles it: the
/// mark is cleared when nothing is there, and stays when something is.
fn settle_readiness(src: &TcpStream) {
    let _ = src.try_io(Interest::READABLE, || {
        let mut b = [std::mem::MaybeUninit::<u8>::uninit(); 1];
        socket2::SockRef::from(src).peek(&mut b).map(|_| ())
    });
}

/// Moves `rest` bytes (`None`: until the FIN) through `pipe`.
async fn relay_pipe(
    pipe: &mut SplicePipe,
    src: &TcpStream,
    dst: &TcpStream,
    mut rest: Option<u64>,
    [rto, wto]: [Option<Duration>; 2],
    moved: &mut u64,
) -> Result<(), CopyError> {
    // One timer for the whole relay, armed only when an operation has to wait.
    let mut dl = Deadline::default();
    while rest != Some(0) {
        let max = rest.map_or(usize::MAX, |r| usize::try_from(r).unwrap_or(usize::MAX));
        let n = match dl
            .run(rto, poll_fn(|cx| pipe.poll_fill(cx, src, max)))
            .await
        {
            None => return Err(CopyError::ReadTimeout),
            Some(Err(e)) => return Err(CopyError::Read(e)),
            Some(Ok(0)) if rest.is_some() => return Err(eof()),
            Some(Ok(0)) => return Ok(()),
            Some(Ok(n)) => n,
        };
        rest = rest.map(|r| r - n as u64);
        while !pipe.is_empty() {
            match dl.run(wto, poll_fn(|cx| pipe.poll_drain(cx, dst))).await {
                None => return Err(CopyError::WriteTimeout),
                Some(Err(e)) => return Err(CopyError::Write(e)),
                Some(Ok(k)) => *moved += k as u64,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::net::loopback_pair as pair;

    #[tokio::test]
    async fn moves_bytes_socket_to_socket_through_the_pipe_and_sees_the_fin() {
        let (mut writer, src) = pair().await;
        let (dst, mut reader) = pair().await;
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let w = tokio::spawn(async move {
            writer.write_all(&sent).await.expect("write");
            writer.shutdown().await.expect("fin");
        });
        let r = tokio::spawn(async move {
            let mut got = Vec::new();
            reader.read_to_end(&mut got).await.expect("read");
            got
        });
        let mut pipe = SplicePipe::take().expect("pipe");
        let mut moved = 0;
        loop {
            let n = poll_fn(|cx| pipe.poll_fill(cx, &src, usize::MAX))
                .await
                .expect("fill");
            if n == 0 {
                break;
            }
            while !pipe.is_empty() {
                moved += poll_fn(|cx| pipe.poll_drain(cx, &dst))
                    .await
                    .expect("drain");
            }
        }
        drop(dst);
        w.await.expect("writer");
        assert_eq!(moved, data.len());
        assert_eq!(r.await.expect("reader"), data);
    }

    #[tokio::test]
    async fn a_fill_takes_no_more_than_asked() {
        let (mut writer, src) = pair().await;
        writer.write_all(&[1u8; 1000]).await.expect("write");
        let mut pipe = SplicePipe::take().expect("pipe");
        let n = poll_fn(|cx| pipe.poll_fill(cx, &src, 10))
            .await
            .expect("fill");
        assert_eq!((n, pipe.len()), (10, 10));
    }
}
