//! HTTP/1.1 message bodies: framing (content-length, chunked, until-close) and copying a
//! body from one stream to another through one bounded buffer, so a slow reader
//! back-pressures the writer.

use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{pool, within, WriteMore, BUF};

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

/// Reads once into `buf` (growing it to at most [`BUF`] of spare room; a buffer that holds
/// no memory takes one from the thread's pool). `Ok(0)` is EOF.
pub async fn fill<R: AsyncRead + Unpin>(
    src: &mut R,
    buf: &mut BytesMut,
    rto: Option<Duration>,
) -> Result<usize, CopyError> {
    if buf.capacity() == 0 {
        *buf = pool::take();
    } else if buf.capacity() - buf.len() < 1024 {
        buf.reserve(BUF);
    }
    match within(rto, src.read_buf(buf)).await {
        None => Err(CopyError::ReadTimeout),
        Some(Err(e)) => Err(CopyError::Read(e)),
        Some(Ok(n)) => Ok(n),
    }
}

pub(super) async fn put<W: AsyncWrite + Unpin>(
    dst: &mut W,
    data: &[u8],
    wto: Option<Duration>,
) -> Result<(), CopyError> {
    written(within(wto, dst.write_all(data)).await)
}

/// [`put`], more bytes of the message to follow when `more` ([`super::more`]).
async fn put_more<W: WriteMore>(
    dst: &mut W,
    data: &[u8],
    more: bool,
    wto: Option<Duration>,
) -> Result<(), CopyError> {
    written(within(wto, super::more::write_all(dst, data, more)).await)
}

fn written(r: Option<std::io::Result<()>>) -> Result<(), CopyError> {
    match r {
        None => Err(CopyError::WriteTimeout),
        Some(Err(e)) => Err(CopyError::Write(e)),
        Some(Ok(())) => Ok(()),
    }
}

pub(super) fn eof() -> CopyError {
    CopyError::Read(std::io::ErrorKind::UnexpectedEof.into())
}

/// Copies exactly `n` bytes, starting with what is already in `buf`. The buffer goes back to
/// the thread's pool each time it is emptied and the next read takes one: the bodies in
/// flight on a thread take turns with the buffer the last read left in the cache (as the
/// tunnel's directions do), where a buffer per exchange made every copy start cold
/// (issue 16: HTTP downloads of 1 MiB cost 1.24x HAProxy's CPU per GiB). Every write but
/// the last says more bytes follow.
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
    W: WriteMore,
{
    while n > 0 {
        if buf.is_empty() && fill(src, buf, rto).await? == 0 {
            return Err(eof());
        }
        let k = usize::try_from(n).unwrap_or(usize::MAX).min(buf.len());
        put_more(dst, &buf[..k], k as u64 != n, wto).await?;
        buf.advance(k);
        n -= k as u64;
        if buf.is_empty() {
            pool::give(buf);
        }
    }
    Ok(())
}

/// Makes sure `buf` holds a full line (up to and including `\n`); returns its length.
pub(crate) async fn line<R: AsyncRead + Unpin>(
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
/// `dst`, then flushes `dst` (a TLS stream may hold the last bytes until flushed). Returns
/// the number of body bytes moved (including chunk framing). Bytes after the body stay in
/// `buf`.
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
    W: WriteMore,
{
    let n = copy_framed(src, buf, dst, framing, rto, wto).await?;
    if framing != Framing::None {
        match within(wto, dst.flush()).await {
            None => return Err(CopyError::WriteTimeout),
            Some(Err(e)) => return Err(CopyError::Write(e)),
            Some(Ok(())) => {}
        }
    }
    Ok(n)
}

/// [`copy_body`] without the final flush.
async fn copy_framed<R, W>(
    src: &mut R,
    buf: &mut BytesMut,
    dst: &mut W,
    framing: Framing,
    rto: Option<Duration>,
    wto: Option<Duration>,
) -> Result<u64, CopyError>
where
    R: AsyncRead + Unpin,
    W: WriteMore,
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
                pool::give(buf);
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

#[cfg(test)]
mod tests {
    use super::*;

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
