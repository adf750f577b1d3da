//! HTTP/1.x response heads from servers: parsed, framing decided (RFC 9112 §6.3), and
//! re-serialized for the client without hop-by-hop fields.

use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::AsyncRead;

use super::headers::{fields, is_hop, tokens};
use super::request::MAX_HEADERS;
use crate::frontend::sample::HttpView;
use crate::io::{CopyError, Deadline, Framing, BUF};

/// A parsed response head.
#[derive(Debug)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// HTTP/1.`minor` of the server.
    pub minor: u8,
    /// The head re-serialized for the client, without hop-by-hop headers and without the
    /// final CRLF (the connection header is added later).
    pub head: Vec<u8>,
    /// How the body is delimited.
    pub framing: Framing,
    /// The server closes after this response.
    pub close: bool,
}

impl HttpView for ResponseHead {
    fn version(&self) -> &str {
        if self.minor == 0 {
            "1.0"
        } else {
            "1.1"
        }
    }
    fn status(&self) -> u16 {
        self.status
    }
    fn each_header(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        for (n, v) in fields(&self.head) {
            if n.eq_ignore_ascii_case(name.as_bytes()) {
                f(v);
            }
        }
    }
}

/// Why no response head could be read.
#[derive(Debug)]
pub enum RespError {
    /// Closed or reset before a full head; `any` if some bytes had arrived.
    Closed {
        /// Some bytes had arrived.
        any: bool,
    },
    /// `timeout server`.
    Timeout,
    /// Not HTTP, or a head past the buffer.
    Invalid,
}

/// Reads a response head from `up` into `buf` (bytes after the head stay there). `spare`
/// is a buffer reused for the re-serialized head.
pub async fn read_response<R: AsyncRead + Unpin>(
    dl: &mut Deadline,
    up: &mut R,
    buf: &mut BytesMut,
    rto: Option<Duration>,
    head_request: bool,
    spare: &mut Vec<u8>,
) -> Result<ResponseHead, RespError> {
    loop {
        if let Some(r) = parse_response(buf, head_request, spare)? {
            return Ok(r);
        }
        let any = !buf.is_empty();
        match dl.fill(up, buf, rto).await {
            Ok(0) => return Err(RespError::Closed { any }),
            Ok(_) => {}
            Err(CopyError::ReadTimeout) => return Err(RespError::Timeout),
            Err(_) => return Err(RespError::Closed { any }),
        }
    }
}

/// Header slots of the first parse: enough for most responses, and initializing 32 slots
/// rather than [`MAX_HEADERS`] saves about 300 instructions a response (httparse's
/// `Response` takes initialized slots only).
const FEW_HEADERS: usize = 32;

/// Parses a complete head at the start of `buf` (consumed); `None` when incomplete.
fn parse_response(
    buf: &mut BytesMut,
    head_request: bool,
    spare: &mut Vec<u8>,
) -> Result<Option<ResponseHead>, RespError> {
    let mut few = [httparse::EMPTY_HEADER; FEW_HEADERS];
    let mut parsed = parse_into(&mut few, buf, head_request, spare)?;
    if let Parsed::TooMany = parsed {
        let mut all = [httparse::EMPTY_HEADER; MAX_HEADERS];
        parsed = parse_into(&mut all, buf, head_request, spare)?;
    }
    match parsed {
        Parsed::Done(n, head) => {
            buf.advance(n);
            Ok(Some(head))
        }
        Parsed::Partial if buf.len() < BUF => Ok(None),
        _ => Err(RespError::Invalid),
    }
}

/// What one parse with a given number of header slots came to.
enum Parsed {
    /// A head of `n` bytes.
    Done(usize, ResponseHead),
    Partial,
    /// More fields than slots.
    TooMany,
}

fn parse_into<'b>(
    hdrs: &mut [httparse::Header<'b>],
    buf: &'b [u8],
    head_request: bool,
    spare: &mut Vec<u8>,
) -> Result<Parsed, RespError> {
    let mut resp = httparse::Response::new(hdrs);
    let n = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) => return Ok(Parsed::TooMany),
        Err(_) => return Err(RespError::Invalid),
    };
    let status = resp.code.unwrap_or(0);
    let minor = resp.version.unwrap_or(1);
    let (mut close, extra) = connection_tokens(resp.headers, minor);
    // Room for the connection header and a small body sent along in one write.
    let mut head = std::mem::take(spare);
    head.clear();
    head.reserve(buf.len() + 64);
    head.extend_from_slice(b"HTTP/1.1 ");
    push_status(&mut head, status);
    head.push(b' ');
    head.extend_from_slice(resp.reason.unwrap_or("").as_bytes());
    head.extend_from_slice(b"\r\n");
    let mut cl: Option<u64> = None;
    let mut chunked = false;
    for h in resp.headers.iter() {
        let name = h.name.as_bytes();
        if is_hop(name, &extra) {
            continue;
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let v = std::str::from_utf8(h.value).ok().map(str::trim);
            match v.and_then(|v| v.parse::<u64>().ok()) {
                Some(x) if cl.is_none_or(|p| p == x) => cl = Some(x),
                _ => return Err(RespError::Invalid),
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // RFC 9112 §6.3: chunked last means chunked; anything else reads until close.
            if tokens(h.value)
                .last()
                .is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"))
            {
                chunked = true;
            } else {
                close = true;
            }
        }
        super::headers::push_field(&mut head, name, h.value);
    }
    let no_body = head_request || (100..200).contains(&status) || status == 204 || status == 304;
    let framing = if no_body {
        Framing::None
    } else if chunked {
        if cl.is_some() {
            // Chunked wins; the length must not reach the client.
            head = strip_header(&head, b"content-length");
        }
        Framing::Chunked
    } else if let Some(n) = cl {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    let head = ResponseHead {
        status,
        minor,
        head,
        framing,
        close,
    };
    Ok(Parsed::Done(n, head))
}

/// Whether the server closes after this response, and the extra hop-by-hop names its
/// `Connection` lists (rare: no allocation otherwise).
fn connection_tokens<'h>(headers: &[httparse::Header<'h>], minor: u8) -> (bool, Vec<&'h [u8]>) {
    let mut close = minor == 0;
    let mut keep_alive = false;
    let mut extra: Vec<&[u8]> = Vec::new();
    for h in headers {
        if h.name.eq_ignore_ascii_case("connection") {
            for t in tokens(h.value) {
                if t.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if t.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                } else {
                    extra.push(t);
                }
            }
        }
    }
    if minor == 0 && keep_alive {
        close = false;
    }
    (close, extra)
}

/// Appends a three-digit status.
pub fn push_status(out: &mut Vec<u8>, status: u16) {
    let s = status.min(999);
    out.extend_from_slice(&[
        b'0' + (s / 100) as u8,
        b'0' + ((s / 10) % 10) as u8,
        b'0' + (s % 10) as u8,
    ]);
}

/// The head without the `name` fields.
pub fn strip_header(head: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len());
    for line in head.split_inclusive(|&b| b == b'\n') {
        let is = line.len() > name.len()
            && line[..name.len()].eq_ignore_ascii_case(name)
            && line[name.len()] == b':';
        if !is {
            out.extend_from_slice(line);
        }
    }
    out
}
