//! HTTP/1.1 request heads: parsing (httparse, zero-copy ranges into the received bytes)
//! and the checks of RFC 9112 on framing and connection headers.

use std::ops::Range;

use bytes::{Bytes, BytesMut};

use super::headers::tokens;
use crate::frontend::sample::HttpView;
use crate::io::Framing;

pub const MAX_HEADERS: usize = 100;

/// A parsed request head; fields are ranges into `raw`. HTTP/2 requests are carried in
/// the same form (see [`crate::http::h2`]), so every later step is written once.
#[derive(Debug, Clone)]
pub struct RequestHead {
    raw: Bytes,
    method: Range<usize>,
    uri: Range<usize>,
    /// HTTP/1.`minor`.
    pub minor: u8,
    /// Received over HTTP/2 (the head was built from its HEADERS frame).
    pub http2: bool,
    headers: Vec<(Range<usize>, Range<usize>)>,
}

impl RequestHead {
    /// The method.
    pub fn method(&self) -> &str {
        std::str::from_utf8(&self.raw[self.method.clone()]).unwrap_or("")
    }
    /// The request target as sent.
    pub fn uri(&self) -> &str {
        std::str::from_utf8(&self.raw[self.uri.clone()]).unwrap_or("")
    }
    /// All (name, value) pairs.
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (&self.raw[n.clone()], &self.raw[v.clone()]))
    }
    /// Size of the head as received.
    pub fn raw_len(&self) -> usize {
        self.raw.len()
    }
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }
    /// The path (no query), also for absolute-form targets.
    pub fn path(&self) -> &str {
        crate::frontend::sample::path_of(self.uri())
    }
    /// The request line as logged: `GET / HTTP/1.1` (`HTTP/2.0` for HTTP/2).
    pub fn request_line(&self) -> String {
        format!("{} {} {}", self.method(), self.uri(), self.version_text())
    }
    fn version_text(&self) -> &'static str {
        match (self.http2, self.minor) {
            (true, _) => "HTTP/2.0",
            (false, 0) => "HTTP/1.0",
            _ => "HTTP/1.1",
        }
    }
}

impl HttpView for RequestHead {
    fn method(&self) -> &str {
        RequestHead::method(self)
    }
    fn uri(&self) -> &str {
        RequestHead::uri(self)
    }
    fn version(&self) -> &str {
        &self.version_text()[5..]
    }
    fn each_header(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        for (n, v) in self.headers() {
            if n.eq_ignore_ascii_case(name.as_bytes()) {
                f(v);
            }
        }
    }
}

/// Why a head could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// The peer closed (or went idle) before sending anything: close silently.
    Closed,
    /// Reply with this status and close.
    Status(u16),
}

fn offset(base: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(base.as_ptr() as usize);
    start..start + part.len()
}

/// Parses a complete request head at the start of `buf`. `Ok(None)` means incomplete.
/// On success the head is split off `buf`.
pub fn parse_request(buf: &mut BytesMut) -> Result<Option<RequestHead>, HeadError> {
    let mut hdrs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut hdrs);
    let n = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::Status(431)),
        Err(_) => return Err(HeadError::Status(400)),
    };
    let base: &[u8] = buf;
    let method = offset(base, req.method.unwrap_or("").as_bytes());
    let uri = offset(base, req.path.unwrap_or("").as_bytes());
    let minor = req.version.unwrap_or(1);
    let headers = req
        .headers
        .iter()
        .map(|h| (offset(base, h.name.as_bytes()), offset(base, h.value)))
        .collect();
    let raw = buf.split_to(n).freeze();
    Ok(Some(RequestHead {
        raw,
        method,
        uri,
        minor,
        http2: false,
        headers,
    }))
}

/// What the proxy needs to know about a request beyond its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// Body framing.
    pub framing: Framing,
    /// The client asked to close after this request.
    pub close: bool,
    /// `Upgrade` value when the client asked for a protocol upgrade.
    pub upgrade: Option<String>,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
    /// Lower-cased `Connection` tokens naming extra hop-by-hop headers (other than
    /// `close`, `keep-alive` and `upgrade`).
    pub conn_tokens: Vec<String>,
}

/// Checks a request's framing and connection headers; an error is the status to reply.
pub fn analyze(h: &RequestHead) -> Result<RequestInfo, u16> {
    let mut cl: Option<u64> = None;
    // Transfer-Encoding codings: how many, and whether any is not `chunked`.
    let (mut te_n, mut te_other) = (0usize, false);
    let (mut c_close, mut c_keep, mut c_upgrade) = (false, false, false);
    let mut conn_tokens = Vec::new();
    let mut upgrade = None;
    let mut expect_continue = false;
    let mut host = 0;
    for (name, value) in h.headers() {
        if name.eq_ignore_ascii_case(b"content-length") {
            for part in value.split(|&b| b == b',') {
                let part = part.trim_ascii();
                if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
                    return Err(400);
                }
                // More than 18 digits cannot be a body we would ever stream.
                if part.len() > 18 {
                    return Err(413);
                }
                let n: u64 = std::str::from_utf8(part)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or(400u16)?;
                match cl {
                    Some(prev) if prev != n => return Err(400),
                    _ => cl = Some(n),
                }
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let before = te_n;
            for t in tokens(value) {
                te_n += 1;
                te_other |= !t.eq_ignore_ascii_case(b"chunked");
            }
            // A Transfer-Encoding header naming no coding is malformed; ignoring it would
            // forward it beside a Content-Length for the server to read its own way (found
            // by the http_head fuzz target).
            if te_n == before {
                return Err(400);
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for t in tokens(value) {
                if t.eq_ignore_ascii_case(b"close") {
                    c_close = true;
                } else if t.eq_ignore_ascii_case(b"keep-alive") {
                    c_keep = true;
                } else if t.eq_ignore_ascii_case(b"upgrade") {
                    c_upgrade = true;
                } else {
                    conn_tokens.push(String::from_utf8_lossy(t).to_ascii_lowercase());
                }
            }
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            upgrade = Some(String::from_utf8_lossy(value).trim().to_string());
        } else if name.eq_ignore_ascii_case(b"expect") {
            if value.trim_ascii().eq_ignore_ascii_case(b"100-continue") {
                expect_continue = true;
            } else {
                // RFC 9110: an unknown expectation may be answered with 417; HAProxy
                // rejects with 400 too.
                return Err(400);
            }
        } else if name.eq_ignore_ascii_case(b"host") {
            host += 1;
        }
    }
    if h.method() == "CONNECT" {
        return Err(501);
    }
    if host > 1 || (host == 0 && h.minor == 1) {
        return Err(400);
    }
    let framing = if te_n > 0 {
        if cl.is_some() || h.minor == 0 {
            // Ambiguous framing: the classic request-smuggling vector.
            return Err(400);
        }
        if te_n != 1 || te_other {
            return Err(501);
        }
        Framing::Chunked
    } else {
        match cl {
            Some(0) | None => Framing::None,
            Some(n) => Framing::Length(n),
        }
    };
    let close = c_close || (h.minor == 0 && !c_keep);
    let upgrade = if c_upgrade && h.minor == 1 {
        upgrade
    } else {
        None
    };
    Ok(RequestInfo {
        framing,
        close,
        upgrade,
        expect_continue,
        conn_tokens,
    })
}
