//! Header fields on the way through: hop-by-hop fields removed (RFC 9110 §7.6.1), the
//! edits of `http-request`/`http-response` rules applied, and the head written to the
//! server.

use std::net::IpAddr;

use super::request::{RequestHead, RequestInfo};
use crate::frontend::sample::HttpView;

/// The comma-separated tokens of a header value, trimmed, without allocating.
pub fn tokens(v: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    v.split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// Hop-by-hop headers (RFC 9110 §7.6.1). `Trailer` is not one: it announces the trailer
/// fields of a chunked body and travels end to end with them (RFC 2616 listed it by
/// mistake).
const HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "upgrade",
];

/// Whether `name` is hop-by-hop: a standard one, or one that `Connection` names (`extra`;
/// framing fields excepted, which must never be dropped on a client's word).
pub fn is_hop<T: AsRef<[u8]>>(name: &[u8], extra: &[T]) -> bool {
    HOP.iter().any(|h| name.eq_ignore_ascii_case(h.as_bytes()))
        || extra.iter().any(|t| {
            let t = t.as_ref();
            name.eq_ignore_ascii_case(t)
                && !t.eq_ignore_ascii_case(b"content-length")
                && !t.eq_ignore_ascii_case(b"transfer-encoding")
        })
}

/// What rules changed in a head: names removed, then fields added, applied when the head
/// is written. Later rules read the head as changed by earlier ones ([`Edited`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HeaderEdits {
    /// Lower-case names removed from the received head.
    pub removed: Vec<String>,
    /// Fields added (lower-case names), in order.
    pub added: Vec<(String, String)>,
}

impl HeaderEdits {
    /// `del-header`: removes `name` from the head and from what rules added.
    pub fn del(&mut self, name: &str) {
        self.added.retain(|(n, _)| n != name);
        if !self.removed.iter().any(|n| n == name) {
            self.removed.push(name.to_string());
        }
    }
    /// `set-header`: replaces every `name` field.
    pub fn set(&mut self, name: &str, value: String) {
        self.del(name);
        self.added.push((name.to_string(), value));
    }
    /// `add-header`.
    pub fn add(&mut self, name: &str, value: String) {
        self.added.push((name.to_string(), value));
    }
    /// Whether `name` was removed from the received head.
    pub fn removes(&self, name: &[u8]) -> bool {
        self.removed
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
    }
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty()
    }
}

/// A message as rules see it: received fields minus removed ones, plus added ones.
pub struct Edited<'a, M: HttpView> {
    /// The message as received.
    pub msg: &'a M,
    /// The changes so far.
    pub edits: &'a HeaderEdits,
}

impl<M: HttpView> std::fmt::Debug for Edited<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edited")
            .field("edits", self.edits)
            .finish_non_exhaustive()
    }
}

impl<M: HttpView> HttpView for Edited<'_, M> {
    fn method(&self) -> &str {
        self.msg.method()
    }
    fn uri(&self) -> &str {
        self.msg.uri()
    }
    fn version(&self) -> &str {
        self.msg.version()
    }
    fn status(&self) -> u16 {
        self.msg.status()
    }
    fn each_header(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        if !self.edits.removes(name.as_bytes()) {
            self.msg.each_header(name, f);
        }
        for (n, v) in &self.edits.added {
            if n == name {
                f(v.as_bytes());
            }
        }
    }
}

/// How the head sent upstream ends.
#[derive(Debug, Clone, Copy, Default)]
pub struct Upstream {
    /// `option forwardfor`: the client's address.
    pub forwarded_for: Option<IpAddr>,
    /// `connection: close` (the server connection is not kept).
    pub close: bool,
}

/// Writes the head sent upstream into `out` (cleared first; reused across requests).
pub fn upstream_head_into(
    h: &RequestHead,
    info: &RequestInfo,
    edits: &HeaderEdits,
    up: Upstream,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.reserve(h.raw_len() + 64);
    out.extend_from_slice(h.method_bytes());
    out.push(b' ');
    out.extend_from_slice(h.uri_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (n, v) in h.headers() {
        if is_hop(n, &info.conn_tokens) || n.eq_ignore_ascii_case(b"expect") || edits.removes(n) {
            continue;
        }
        push_field(out, n, v);
    }
    for (n, v) in &edits.added {
        push_field(out, n.as_bytes(), v.as_bytes());
    }
    if let Some(ip) = up.forwarded_for {
        push_field(out, b"x-forwarded-for", ip.to_string().as_bytes());
    }
    if let Some(u) = &info.upgrade {
        out.extend_from_slice(b"connection: upgrade\r\nupgrade: ");
        out.extend_from_slice(u.as_bytes());
        out.extend_from_slice(b"\r\n");
    } else if up.close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `name: value\r\n`.
pub fn push_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Applies edits to a response head (status line and fields, without the final CRLF).
pub fn edit_head(head: &mut Vec<u8>, edits: &HeaderEdits) {
    if edits.is_empty() {
        return;
    }
    if !edits.removed.is_empty() {
        let mut kept = Vec::with_capacity(head.len());
        for (i, line) in head.split_inclusive(|&b| b == b'\n').enumerate() {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            if i == 0 || !edits.removes(name) {
                kept.extend_from_slice(line);
            }
        }
        *head = kept;
    }
    for (n, v) in &edits.added {
        push_field(head, n.as_bytes(), v.as_bytes());
    }
}

/// Each field of a serialized head (status or request line skipped). Lines and colons are
/// found with `memchr` (a word at a time) rather than byte by byte: the HTTP/2 response of
/// every request is built from this walk.
pub fn fields(head: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut rest = match memchr::memchr(b'\n', head) {
        Some(i) => &head[i + 1..],
        None => &[][..],
    };
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        rest = next;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(colon) = memchr::memchr(b':', line) {
            return Some((&line[..colon], line[colon + 1..].trim_ascii()));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::h1::request::{analyze, parse_request};
    use bytes::BytesMut;

    fn head(raw: &[u8]) -> (RequestHead, RequestInfo) {
        let mut b = BytesMut::from(raw);
        let h = parse_request(&mut b).ok().flatten().expect("head parses");
        let i = analyze(&h).unwrap_or_else(|c| panic!("status {c}"));
        (h, i)
    }

    #[test]
    fn hop_by_hop_removed_and_xff_added() {
        let (h, info) = head(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nTrailer: x-sum\r\nAccept: */*\r\n\r\n");
        let mut out = Vec::new();
        let up = Upstream {
            forwarded_for: Some([127, 0, 0, 9].into()),
            ..Upstream::default()
        };
        upstream_head_into(&h, &info, &HeaderEdits::default(), up, &mut out);
        let out = String::from_utf8_lossy(&out).to_ascii_lowercase();
        assert!(out.starts_with("get / http/1.1\r\nhost: h\r\n"));
        assert!(!out.contains("x-secret"));
        assert!(!out.contains("keep-alive"));
        assert!(!out.contains("te: trailers"));
        assert!(out.contains("accept: */*\r\n"));
        assert!(out.contains("trailer: x-sum\r\n"), "Trailer is end-to-end");
        assert!(out.ends_with("x-forwarded-for: 127.0.0.9\r\n\r\n"));
    }

    #[test]
    fn rule_edits_apply_in_order() {
        let (h, info) = head(b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nX-A: 2\r\nX-B: 3\r\n\r\n");
        let mut e = HeaderEdits::default();
        e.add("x-c", "4".into());
        e.set("x-a", "9".into());
        e.del("x-c");
        e.add("x-b", "5".into());
        let mut seen = Vec::new();
        Edited { msg: &h, edits: &e }.each_header("x-a", &mut |v| seen.push(v.to_vec()));
        assert_eq!(seen, [b"9".to_vec()]);
        let mut out = Vec::new();
        upstream_head_into(&h, &info, &e, Upstream::default(), &mut out);
        let out = String::from_utf8_lossy(&out);
        assert_eq!(
            out,
            "GET / HTTP/1.1\r\nHost: h\r\nX-B: 3\r\nx-a: 9\r\nx-b: 5\r\n\r\n"
        );
        let mut resp = b"HTTP/1.1 200 OK\r\nServer: x\r\nX-A: 1\r\n".to_vec();
        edit_head(&mut resp, &e);
        assert_eq!(
            String::from_utf8_lossy(&resp),
            "HTTP/1.1 200 OK\r\nServer: x\r\nx-a: 9\r\nx-b: 5\r\n"
        );
        assert_eq!(fields(&resp).count(), 3);
    }
}
