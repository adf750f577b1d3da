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
    /// The method's bytes, not checked again as text (the parser accepted them).
    pub fn method_bytes(&self) -> &[u8] {
        &self.raw[self.method.clone()]
    }
    /// The request target's bytes, not checked again as text.
    pub fn uri_bytes(&self) -> &[u8] {
        &self.raw[self.uri.clone()]
    }
    /// All (name, value) pairs.
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (&self.raw[n.clone()], &self.raw[v.clone()]))
    }
    /// The head's bytes.
    #[cfg(test)]
    pub(crate) fn raw(&self) -> &[u8] {
        &self.raw
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

impl RequestHead {
    /// A head already checked field by field (an HTTP/2 request's, see
    /// [`crate::http::h2::convert`]): `raw` is its HTTP/1.1 serialization, the ranges
    /// index into it.
    pub(crate) fn from_checked(
        raw: Bytes,
        method: Range<usize>,
        uri: Range<usize>,
        headers: Vec<(Range<usize>, Range<usize>)>,
        http2: bool,
    ) -> RequestHead {
        RequestHead {
            raw,
            method,
            uri,
            minor: 1,
            http2,
            headers,
        }
    }
}

fn offset(base: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(base.as_ptr() as usize);
    start..start + part.len()
}

/// Parses a complete request head at the start of `buf`. `Ok(None)` means incomplete.
/// On success the head is split off `buf`.
pub fn parse_request(buf: &mut BytesMut) -> Result<Option<RequestHead>, HeadError> {
    // Left uninitialized: httparse fills what it parses (initializing all 100 cost about
    // 300 instructions per request).
    let mut hdrs = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let n = match req.parse_with_uninit_headers(buf, &mut hdrs) {
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
    let mut f = Fields::default();
    for (name, value) in h.headers() {
        f.add(name, value)?;
    }
    if h.method() == "CONNECT" {
        return Err(501);
    }
    if f.host > 1 || (f.host == 0 && h.minor == 1) {
        return Err(400);
    }
    // RFC 9112 §3.2.2: with an absolute-form target the authority is the host; a Host
    // field saying otherwise is refused, as HAProxy does, rather than letting the server
    // and the routing rules see two different hosts.
    if let (false, Some((scheme, authority)), Some(host)) =
        (h.http2, authority_of(h.uri()), h.header("host"))
    {
        if !same_host(scheme, authority.as_bytes(), host) {
            return Err(400);
        }
    }
    let framing = if f.te_n > 0 {
        if f.cl.is_some() || h.minor == 0 {
            // Ambiguous framing: the classic request-smuggling vector (RFC 9112 §6.1).
            return Err(400);
        }
        if f.te_n != 1 || f.te_other {
            return Err(501);
        }
        Framing::Chunked
    } else {
        match f.cl {
            Some(0) | None => Framing::None,
            Some(n) => Framing::Length(n),
        }
    };
    Ok(RequestInfo {
        framing,
        close: f.close || (h.minor == 0 && !f.keep_alive),
        upgrade: f.upgrade.filter(|_| f.conn_upgrade && h.minor == 1),
        expect_continue: f.expect_continue,
        conn_tokens: f.conn_tokens,
    })
}

/// Whether a Host field names the target's authority: compared without case, a port that
/// is the scheme's default counting as absent (as HAProxy compares them).
fn same_host(scheme: &str, authority: &[u8], host: &[u8]) -> bool {
    let default = if scheme.eq_ignore_ascii_case("https") {
        &b":443"[..]
    } else {
        &b":80"[..]
    };
    let bare = |h: &'_ [u8]| -> Vec<u8> {
        let h = h.strip_suffix(default).unwrap_or(h);
        h.to_ascii_lowercase()
    };
    bare(authority) == bare(host)
}

/// The scheme and authority of an absolute-form target (`http://host:port/path`), the
/// authority without user information; `None` for origin-form and asterisk-form targets.
fn authority_of(uri: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = uri.split_once("://")?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    Some((
        scheme,
        authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host),
    ))
}

/// What the framing and connection fields of a head say, gathered field by field.
#[derive(Debug, Default)]
struct Fields {
    cl: Option<u64>,
    /// Transfer-Encoding codings: how many, and whether any is not `chunked`.
    te_n: usize,
    te_other: bool,
    close: bool,
    keep_alive: bool,
    conn_upgrade: bool,
    conn_tokens: Vec<String>,
    upgrade: Option<String>,
    expect_continue: bool,
    host: usize,
}

impl Fields {
    /// Takes one field in; an error is the status to answer.
    fn add(&mut self, name: &[u8], value: &[u8]) -> Result<(), u16> {
        let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
        if is(b"content-length") {
            self.content_length(value)?;
        } else if is(b"transfer-encoding") {
            let before = self.te_n;
            for t in tokens(value) {
                self.te_n += 1;
                self.te_other |= !t.eq_ignore_ascii_case(b"chunked");
            }
            // A Transfer-Encoding naming no coding is malformed; ignoring it would forward it
            // beside a Content-Length for the server to read its own way (found by the
            // http_head fuzz target).
            if self.te_n == before {
                return Err(400);
            }
        } else if is(b"connection") {
            for t in tokens(value) {
                if t.eq_ignore_ascii_case(b"close") {
                    self.close = true;
                } else if t.eq_ignore_ascii_case(b"keep-alive") {
                    self.keep_alive = true;
                } else if t.eq_ignore_ascii_case(b"upgrade") {
                    self.conn_upgrade = true;
                } else {
                    self.conn_tokens
                        .push(String::from_utf8_lossy(t).to_ascii_lowercase());
                }
            }
        } else if is(b"upgrade") {
            self.upgrade = Some(String::from_utf8_lossy(value).trim().to_string());
        } else if is(b"expect") {
            // RFC 9110 §10.1.1: an unknown expectation may be answered with 417; HAProxy
            // rejects with 400 too.
            if !value.trim_ascii().eq_ignore_ascii_case(b"100-continue") {
                return Err(400);
            }
            self.expect_continue = true;
        } else if is(b"host") {
            self.host += 1;
        }
        Ok(())
    }

    /// Content-Length: every value (and list member) must be the same number
    /// (RFC 9112 §6.3).
    fn content_length(&mut self, value: &[u8]) -> Result<(), u16> {
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
            match self.cl {
                Some(prev) if prev != n => return Err(400),
                _ => self.cl = Some(n),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(s: &str) -> Result<RequestInfo, u16> {
        let mut b = BytesMut::from(s.as_bytes());
        match parse_request(&mut b) {
            Ok(Some(h)) => analyze(&h),
            Ok(None) => Err(0),
            Err(HeadError::Status(c)) => Err(c),
            Err(HeadError::Closed) => Err(1),
        }
    }

    #[test]
    fn framing_rules() {
        let ok = head("GET / HTTP/1.1\r\nHost: a\r\n\r\n").map(|i| i.framing);
        assert_eq!(ok, Ok(Framing::None));
        assert_eq!(
            head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n")
                .map(|i| i.framing),
            Ok(Framing::Length(5))
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            Err(400)
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(400)
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            Err(501)
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n"),
            Err(413)
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"),
            Err(400)
        );
        assert_eq!(head("GET / HTTP/1.1\r\n\r\n"), Err(400));
        assert_eq!(head("GET / HTTP/1.0\r\n\r\n").map(|i| i.close), Ok(true));
        assert_eq!(head("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n"), Err(501));
        assert_eq!(head("GET /\0 HTTP/1.1\r\n\r\n"), Err(400));
    }

    /// RFC 9112 §3.2.2: an absolute-form target's authority is the host.
    #[test]
    fn host_must_name_the_absolute_targets_authority() {
        let cases = [
            (
                "GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n",
                true,
            ),
            (
                "GET http://A.example:80/x HTTP/1.1\r\nHost: a.example\r\n\r\n",
                true,
            ),
            (
                "GET https://a.example/ HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
                true,
            ),
            (
                "GET http://u:p@a.example:8080 HTTP/1.1\r\nHost: a.example:8080\r\n\r\n",
                true,
            ),
            ("GET http://a.example/x HTTP/1.0\r\n\r\n", true),
            ("GET /x HTTP/1.1\r\nHost: b.example\r\n\r\n", true),
            (
                "GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n",
                false,
            ),
            (
                "GET http://a.example:8080/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
                false,
            ),
            (
                "GET https://a.example/ HTTP/1.1\r\nHost: a.example:80\r\n\r\n",
                false,
            ),
        ];
        for (req, ok) in cases {
            let got = head(req).map(|_| ());
            assert_eq!(got, if ok { Ok(()) } else { Err(400) }, "{req:?}");
        }
    }

    #[test]
    fn path_of_absolute_uri() {
        let mut b = BytesMut::from(&b"GET http://h:1/api/x?q=1 HTTP/1.1\r\nHost: h:1\r\n\r\n"[..]);
        let h = parse_request(&mut b)
            .ok()
            .flatten()
            .map(|h| h.path().to_string());
        assert_eq!(h.as_deref(), Some("/api/x"));
    }
}
