//! Byte moving: body framing (content-length, chunked, until-close) and tunnels, always
//! through one bounded buffer per direction so a slow reader back-pressures the writer.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Read buffer size per direction; also the largest request/response head accepted.
pub const BUF: usize = 16 * 1024;
/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: chunked` (forwarded as is, validated on the way).
    Chunked,
    /// Until the sender closes (responses only).
    UntilClose,
}

/// Why copying stopped.
#[derive(Debug)]
pub enum CopyError {
    /// Reading the source failed or it closed early.
    Read(std::io::Error),
    /// Writing the destination failed.
    Write(std::io::Error),
    /// The source was idle too long.
    ReadTimeout,
    /// The destination did not accept data in time.
    WriteTimeout,
    /// Invalid chunked framing.
    BadChunk,
}

/// Runs `fut` with an optional time limit (`None` = no limit).
pub async fn within<F: Future>(limit: Option<Duration>, fut: F) -> Option<F::Output> {
    match limit {
        Some(d) => tokio::time::timeout(d, fut).await.ok(),
        None => Some(fut.await),
    }
}

/// A reusable, lazily re-armed timer for the hot path.
///
/// Each operation only records its own deadline (one clock read). The timer entry is moved
/// in the timer wheel only when it fires before the current operation's deadline (at most
/// once per timeout period) or when it is armed later than needed; a fresh timer per read
/// and write would cost a wheel insertion and removal every time.
#[derive(Debug)]
pub struct Deadline {
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// The deadline of the operation in progress.
    due: tokio::time::Instant,
}

impl Default for Deadline {
    fn default() -> Self {
        let far = tokio::time::Instant::now() + Duration::from_secs(86400 * 365);
        Deadline {
            sleep: Box::pin(tokio::time::sleep_until(far)),
            due: far,
        }
    }
}

impl Deadline {
    /// Runs `fut` with an optional time limit (`None` = no limit), like [`within`].
    pub async fn run<F: Future>(&mut self, limit: Option<Duration>, fut: F) -> Option<F::Output> {
        let Some(d) = limit else {
            return Some(fut.await);
        };
        // Most writes (and some reads) complete at once: no clock read at all for them.
        let mut fut = std::pin::pin!(fut);
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx))).await;
        if let std::task::Poll::Ready(r) = first {
            return Some(r);
        }
        self.due = tokio::time::Instant::now() + d;
        if self.sleep.deadline() > self.due {
            // Armed too late for this operation: pull it in.
            self.sleep.as_mut().reset(self.due);
        }
        loop {
            tokio::select! {
                biased;
                r = &mut fut => return Some(r),
                _ = self.sleep.as_mut() => {
                    if tokio::time::Instant::now() >= self.due {
                        return None;
                    }
                    // Fired for an earlier operation's deadline: move on to ours.
                    self.sleep.as_mut().reset(self.due);
                }
            }
        }
    }

    /// [`fill`] under this deadline.
    pub async fn fill<R: AsyncRead + Unpin>(
        &mut self,
        src: &mut R,
        buf: &mut BytesMut,
        rto: Option<Duration>,
    ) -> Result<usize, CopyError> {
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(BUF);
        }
        match self.run(rto, src.read_buf(buf)).await {
            None => Err(CopyError::ReadTimeout),
            Some(Err(e)) => Err(CopyError::Read(e)),
            Some(Ok(n)) => Ok(n),
        }
    }
}

/// Reads once into `buf` (growing it to at most [`BUF`] of spare room). `Ok(0)` is EOF.
pub async fn fill<R: AsyncRead + Unpin>(
    src: &mut R,
    buf: &mut BytesMut,
    rto: Option<Duration>,
) -> Result<usize, CopyError> {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(BUF);
    }
    match within(rto, src.read_buf(buf)).await {
        None => Err(CopyError::ReadTimeout),
        Some(Err(e)) => Err(CopyError::Read(e)),
        Some(Ok(n)) => Ok(n),
    }
}

async fn put<W: AsyncWrite + Unpin>(
    dst: &mut W,
    data: &[u8],
    wto: Option<Duration>,
) -> Result<(), CopyError> {
    match within(wto, dst.write_all(data)).await {
        None => Err(CopyError::WriteTimeout),
        Some(Err(e)) => Err(CopyError::Write(e)),
        Some(Ok(())) => Ok(()),
    }
}

fn eof() -> CopyError {
    CopyError::Read(std::io::ErrorKind::UnexpectedEof.into())
}

/// Copies exactly `n` bytes, starting with what is already in `buf`.
async fn copy_len<R, W>(
    src: &mut R,
    buf: &mut BytesMut,
    dst: &mut W,
    mut n: u64,
    rto: Option<Duration>,
    wto: Option<Duration>,
) -> Result<(), CopyError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    while n > 0 {
        if buf.is_empty() && fill(src, buf, rto).await? == 0 {
            return Err(eof());
        }
        let k = usize::try_from(n).unwrap_or(usize::MAX).min(buf.len());
        put(dst, &buf[..k], wto).await?;
        buf.advance(k);
        n -= k as u64;
    }
    Ok(())
}

/// Makes sure `buf` holds a full line (up to and including `\n`); returns its length.
async fn line<R: AsyncRead + Unpin>(
    src: &mut R,
    buf: &mut BytesMut,
    rto: Option<Duration>,
) -> Result<usize, CopyError> {
    let mut scanned = 0;
    loop {
        if let Some(p) = buf[scanned..].iter().position(|&b| b == b'\n') {
            return Ok(scanned + p + 1);
        }
        scanned = buf.len();
        if scanned > MAX_LINE {
            return Err(CopyError::BadChunk);
        }
        if fill(src, buf, rto).await? == 0 {
            return Err(eof());
        }
    }
}

/// Parses a chunk-size line (`1a;ext=1\r\n`); `None` if invalid.
pub fn chunk_size(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let hex_end = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    let (hex, rest) = line.split_at(hex_end);
    // 15 hex digits keep the size far from u64 overflow and from any sane body.
    if hex.is_empty() || hex.len() > 15 {
        return None;
    }
    let rest_ok =
        rest.is_empty() || rest[0] == b';' || (rest.iter().all(|&b| b == b' ' || b == b'\t'));
    if !rest_ok {
        return None;
    }
    let s = std::str::from_utf8(hex).ok()?;
    u64::from_str_radix(s, 16).ok()
}

/// Copies a body with the given framing from `src` (starting with `buf`'s contents) to
/// `dst`. Returns the number of body bytes moved (including chunk framing). Bytes after the
/// body stay in `buf`.
pub async fn copy_body<R, W>(
    src: &mut R,
    buf: &mut BytesMut,
    dst: &mut W,
    framing: Framing,
    rto: Option<Duration>,
    wto: Option<Duration>,
) -> Result<u64, CopyError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    match framing {
        Framing::None => Ok(0),
        Framing::Length(n) => copy_len(src, buf, dst, n, rto, wto).await.map(|_| n),
        Framing::UntilClose => {
            let mut total = 0u64;
            loop {
                if buf.is_empty() && fill(src, buf, rto).await? == 0 {
                    return Ok(total);
                }
                put(dst, buf, wto).await?;
                total += buf.len() as u64;
                buf.clear();
            }
        }
        Framing::Chunked => {
            let mut total = 0u64;
            loop {
                let n = line(src, buf, rto).await?;
                let size = chunk_size(&buf[..n]).ok_or(CopyError::BadChunk)?;
                put(dst, &buf[..n], wto).await?;
                buf.advance(n);
                total += n as u64;
                if size == 0 {
                    // Trailers, up to the empty line.
                    loop {
                        let n = line(src, buf, rto).await?;
                        put(dst, &buf[..n], wto).await?;
                        let empty = n <= 2 && buf[..n].iter().all(|&b| b == b'\r' || b == b'\n');
                        buf.advance(n);
                        total += n as u64;
                        if empty {
                            return Ok(total);
                        }
                    }
                }
                copy_len(src, buf, dst, size, rto, wto).await?;
                total += size;
                while buf.len() < 2 {
                    if fill(src, buf, rto).await? == 0 {
                        return Err(eof());
                    }
                }
                if &buf[..2] != b"\r\n" {
                    return Err(CopyError::BadChunk);
                }
                put(dst, b"\r\n", wto).await?;
                buf.advance(2);
                total += 2;
            }
        }
    }
}

/// Moves bytes both ways until both sides have closed (half-close is propagated with a
/// FIN), or both have been idle for their timeout. `a_pending`/`b_pending` are bytes already
/// read from `a`/`b` to deliver first. Returns (bytes a→b, bytes b→a).
pub async fn tunnel(
    a: TcpStream,
    a_pending: &[u8],
    b: TcpStream,
    b_pending: &[u8],
    a_timeout: Option<Duration>,
    b_timeout: Option<Duration>,
) -> (u64, u64, Result<(), CopyError>) {
    let activity = AtomicU64::new(0);
    let (mut ar, mut aw) = a.into_split();
    let (mut br, mut bw) = b.into_split();
    let up = AtomicU64::new(0);
    let down = AtomicU64::new(0);
    let r = tokio::try_join!(
        one_way(&mut ar, a_pending, &mut bw, a_timeout, &activity, &up),
        one_way(&mut br, b_pending, &mut aw, b_timeout, &activity, &down),
    );
    (
        up.load(Ordering::Relaxed),
        down.load(Ordering::Relaxed),
        r.map(|_| ()),
    )
}

/// One direction of a tunnel. Idleness is judged without reading the clock on the data
/// path: each transfer bumps a shared counter, and a timer firing every `idle` ends the
/// session only if neither direction moved since its previous firing (so a silent session
/// ends between one and two idle periods after its last byte, like HAProxy's coarse
/// timeouts).
async fn one_way<R, W>(
    src: &mut R,
    pending: &[u8],
    dst: &mut W,
    idle: Option<Duration>,
    activity: &AtomicU64,
    count: &AtomicU64,
) -> Result<(), CopyError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    if !pending.is_empty() {
        put(dst, pending, idle).await?;
        count.fetch_add(pending.len() as u64, Ordering::Relaxed);
    }
    let mut buf = vec![0u8; BUF];
    let period = idle.unwrap_or(Duration::from_secs(86400 * 365));
    let sleep = tokio::time::sleep(period);
    tokio::pin!(sleep);
    let mut seen = activity.load(Ordering::Relaxed);
    // Returns Err when idle; otherwise re-arms for another period.
    let mut tick = |sleep: std::pin::Pin<&mut tokio::time::Sleep>, err: fn() -> CopyError| {
        let now = activity.load(Ordering::Relaxed);
        if now == seen {
            return Err(err());
        }
        seen = now;
        sleep.reset(tokio::time::Instant::now() + period);
        Ok(())
    };
    loop {
        let n = loop {
            tokio::select! {
                biased;
                r = src.read(&mut buf) => match r {
                    Ok(n) => break n,
                    Err(e) => return Err(CopyError::Read(e)),
                },
                _ = sleep.as_mut() => tick(sleep.as_mut(), || CopyError::ReadTimeout)?,
            }
        };
        if n == 0 {
            // Half-close: pass the FIN on and let the other direction finish.
            let _ = dst.shutdown().await;
            return Ok(());
        }
        activity.fetch_add(1, Ordering::Relaxed);
        // `write` (not `write_all`) so a timer wake-up never loses track of partial progress.
        let mut pos = 0;
        while pos < n {
            tokio::select! {
                biased;
                r = dst.write(&buf[pos..n]) => {
                    let w = r.map_err(CopyError::Write)?;
                    if w == 0 {
                        return Err(CopyError::Write(std::io::ErrorKind::WriteZero.into()));
                    }
                    pos += w;
                    activity.fetch_add(1, Ordering::Relaxed);
                }
                _ = sleep.as_mut() => tick(sleep.as_mut(), || CopyError::WriteTimeout)?,
            }
        }
        count.fetch_add(n as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lazy_deadline_is_exact_enough() {
        let mut dl = Deadline::default();
        let ms = Duration::from_millis;
        // Completes in time.
        assert_eq!(dl.run(Some(ms(200)), async { 1 }).await, Some(1));
        assert_eq!(
            dl.run(Some(ms(200)), tokio::time::sleep(ms(50))).await,
            Some(())
        );
        // A later operation is not cut short by the earlier deadline still armed...
        let t0 = std::time::Instant::now();
        assert_eq!(
            dl.run(Some(ms(300)), tokio::time::sleep(ms(250))).await,
            Some(())
        );
        assert!(t0.elapsed() >= ms(250));
        // ...and times out at its own deadline, not later.
        let t0 = std::time::Instant::now();
        assert_eq!(
            dl.run(Some(ms(100)), tokio::time::sleep(ms(5000))).await,
            None
        );
        let e = t0.elapsed();
        assert!(e >= ms(100) && e < ms(2000), "{e:?}");
        // A shorter limit after a longer one pulls the timer in.
        let _ = dl.run(Some(ms(10_000)), tokio::time::sleep(ms(10))).await;
        let t0 = std::time::Instant::now();
        assert_eq!(
            dl.run(Some(ms(50)), tokio::time::sleep(ms(5000))).await,
            None
        );
        assert!(t0.elapsed() < ms(2000));
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(chunk_size(b"1a\r\n"), Some(26));
        assert_eq!(chunk_size(b"0\r\n"), Some(0));
        assert_eq!(chunk_size(b"A;name=v\r\n"), Some(10));
        assert_eq!(chunk_size(b"\r\n"), None);
        assert_eq!(chunk_size(b"-1\r\n"), None);
        assert_eq!(chunk_size(b"0x10\r\n"), None);
        assert_eq!(chunk_size(b"ffffffffffffffffff\r\n"), None);
        assert_eq!(chunk_size(b"12"), None);
    }

    #[tokio::test]
    async fn chunked_copy_and_leftover() {
        let input = b"4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\nT: v\r\n\r\nNEXT".to_vec();
        let mut src: &[u8] = &input;
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let n = copy_body(&mut src, &mut buf, &mut out, Framing::Chunked, None, None)
            .await
            .map_err(|e| format!("{e:?}"))
            .expect("valid chunked body");
        assert_eq!(out, &input[..input.len() - 4]);
        assert_eq!(n as usize, out.len());
        assert_eq!(&buf[..], b"NEXT");
    }

    #[tokio::test]
    async fn bad_chunks_rejected() {
        for bad in [&b"4\r\nWikiXX0\r\n\r\n"[..], b"zz\r\nab\r\n", b"4\r\nWi"] {
            let mut src: &[u8] = bad;
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            assert!(
                copy_body(&mut src, &mut buf, &mut out, Framing::Chunked, None, None)
                    .await
                    .is_err()
            );
        }
    }
}
