//! Between HTTP/2 messages and the HTTP/1.1 heads the rest of the proxy works on.
//!
//! A request becomes the HTTP/1.1 head a client would have sent, checked by the same
//! rules ([`crate::http::h1::analyze`] and the rest), so nothing reaches a server by the
//! HTTP/2 path that the HTTP/1.1 path would refuse. It is not parsed again: the h2 crate
//! has checked each part as strictly as httparse would (the method a token, the path
//! what `http::Uri` accepts, a subset of httparse's request-target bytes, names
//! lowercase tokens, values without CR, LF or NUL), the values lose their surrounding
//! blanks as httparse strips them, and more than [`MAX_HEADERS`] fields is a 431 as on
//! HTTP/1.1; a test holds the result to httparse's on the same bytes. Parsing it again
//! cost ~1,000 instructions of every request. RFC 9113 §8.2: connection-specific fields and a
//! `te` other than `trailers` make a request malformed (the h2 crate resets such streams
//! before they reach us; they are refused here too), §8.3.1: `:authority` becomes `Host`,
//! and a `Host` that differs is malformed, §8.2.3: `cookie` fields are joined with `; `.

use bytes::{Bytes, BytesMut};

use crate::http::h1::headers::fields;
use std::ops::Range;

use crate::http::h1::request::{RequestHead, MAX_HEADERS};

/// The HTTP/1.1 head of an HTTP/2 request; an error is the status to answer.
/// `end_stream`: the HEADERS frame ended the stream (no body).
pub fn request_head(p: &http::request::Parts, end_stream: bool) -> Result<RequestHead, u16> {
    if p.method == http::Method::CONNECT {
        // Extended CONNECT (RFC 8441) is not offered: no tunnels over HTTP/2.
        return Err(501);
    }
    let path = p.uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("");
    if path.is_empty()
        || !(path.starts_with('/') || (path == "*" && p.method == http::Method::OPTIONS))
    {
        return Err(400);
    }
    let authority = p.uri.authority().map(|a| a.as_str());
    let mut raw = BytesMut::with_capacity(256);
    // The fields, plus host and transfer-encoding added here.
    let mut heads = Head {
        fields: Vec::with_capacity(p.headers.len() + 2),
    };
    raw.extend_from_slice(p.method.as_str().as_bytes());
    let method = 0..raw.len();
    raw.extend_from_slice(b" ");
    raw.extend_from_slice(path.as_bytes());
    let uri = method.end + 1..raw.len();
    raw.extend_from_slice(b" HTTP/1.1\r\n");
    let mut host_seen = false;
    let mut cookies: Vec<&[u8]> = Vec::new();
    for (name, value) in &p.headers {
        if *name == http::header::TE {
            if value != "trailers" {
                return Err(400);
            }
            continue;
        }
        if connection_specific(name) {
            return Err(400);
        }
        if *name == http::header::HOST {
            if host_seen
                || authority.is_some_and(|a| !a.eq_ignore_ascii_case(value.to_str().unwrap_or("")))
            {
                return Err(400);
            }
            host_seen = true;
        }
        if *name == http::header::COOKIE {
            cookies.push(value.as_bytes());
            continue;
        }
        heads.push(&mut raw, name.as_str().as_bytes(), value.as_bytes());
    }
    if !host_seen {
        match authority {
            Some(a) => heads.push(&mut raw, b"host", a.as_bytes()),
            None => return Err(400),
        }
    }
    if !cookies.is_empty() {
        heads.push(&mut raw, b"cookie", &cookies.join(&b"; "[..]));
    }
    // A body without a length is re-framed as chunked for the server.
    if !end_stream && !p.headers.contains_key(http::header::CONTENT_LENGTH) {
        heads.push(&mut raw, b"transfer-encoding", b"chunked");
    }
    raw.extend_from_slice(b"\r\n");
    if heads.fields.len() > MAX_HEADERS {
        return Err(431);
    }
    Ok(RequestHead::from_checked(
        raw.freeze(),
        method,
        uri,
        heads.fields,
        true,
    ))
}

/// The fields of a head being written, as ranges into it.
struct Head {
    fields: Vec<(Range<usize>, Range<usize>)>,
}

impl Head {
    /// Appends `name: value` (the value without the blanks around it, as httparse reads
    /// it) and records where both are.
    fn push(&mut self, out: &mut BytesMut, name: &[u8], value: &[u8]) {
        let value = value.trim_ascii();
        let n = out.len()..out.len() + name.len();
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        let v = out.len()..out.len() + value.len();
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
        self.fields.push((n, v));
    }
}

/// An HTTP/2 response from a serialized HTTP/1.1 head (status line and fields); fields
/// HTTP/2 forbids are left out. Values are slices of `head`, not copies.
pub fn response(head: Bytes) -> http::Response<()> {
    let status = head
        .get(9..12)
        .and_then(|s| http::StatusCode::from_bytes(s).ok())
        .unwrap_or(http::StatusCode::BAD_GATEWAY);
    let mut r = http::Response::new(());
    *r.status_mut() = status;
    let h = r.headers_mut();
    for (n, v) in fields(&head) {
        let Ok(name) = http::HeaderName::from_bytes(n) else {
            continue;
        };
        if connection_specific(&name) {
            continue;
        }
        if let Ok(value) = http::HeaderValue::from_maybe_shared(head.slice_ref(v)) {
            h.append(name, value);
        }
    }
    r
}

/// RFC 9113 §8.2.2's fields (and `te`, which a response never carries): compared as
/// `HeaderName`s, a tag comparison for the standard ones, rather than as strings.
fn connection_specific(name: &http::HeaderName) -> bool {
    use http::header::{CONNECTION, TE, TRANSFER_ENCODING, UPGRADE};
    *name == CONNECTION
        || *name == TRANSFER_ENCODING
        || *name == UPGRADE
        || *name == TE
        || *name == "keep-alive"
        || *name == "proxy-connection"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(build: http::request::Builder) -> http::request::Parts {
        build.body(()).expect("request").into_parts().0
    }

    #[test]
    fn a_request_becomes_the_head_a_client_would_send() {
        let p = parts(
            http::Request::get("https://a.test/x?y=1")
                .header("cookie", "a=1")
                .header("accept", "*/*")
                .header("cookie", "b=2")
                .header("te", "trailers"),
        );
        let h = request_head(&p, true).expect("valid");
        assert!(h.http2);
        assert_eq!(h.request_line(), "GET /x?y=1 HTTP/2.0");
        assert_eq!(h.header("host"), Some(&b"a.test"[..]));
        assert_eq!(h.header("cookie"), Some(&b"a=1; b=2"[..]));
        assert!(h.header("te").is_none());
        let post = parts(http::Request::post("https://a.test/up"));
        let h = request_head(&post, false).expect("valid");
        assert_eq!(h.header("transfer-encoding"), Some(&b"chunked"[..]));
    }

    #[test]
    fn heads_read_as_httparse_reads_them() {
        let blanks = http::HeaderValue::from_static(" \tv w\t ");
        let mut many = http::Request::get("https://a.test/");
        // With the host and transfer-encoding fields added: MAX_HEADERS in all.
        for i in 0..MAX_HEADERS - 2 {
            many = many.header(format!("x-{i}"), "1");
        }
        let cases = [
            http::Request::get("https://a.test/x?y=%20&z")
                .header("accept", "*/*")
                .header("x-blank", blanks)
                .header("x-empty", "")
                .header("cookie", "a=1 ")
                .header("cookie", " b=2"),
            http::Request::post("https://a.test/up").header("x-obs", &b"caf\xc3\xa9"[..]),
            http::Request::options("*").header("host", "a.test"),
            http::Request::get("https://a.test/").header("host", "A.test"),
            many,
        ];
        for b in cases {
            let h = request_head(&parts(b), false).expect("valid");
            let mut again = BytesMut::from(h.raw());
            let parsed = crate::http::h1::parse_request(&mut again)
                .expect("httparse accepts it")
                .expect("complete");
            assert!(h.http2);
            assert_eq!(h.method(), parsed.method());
            assert_eq!(h.uri(), parsed.uri());
            assert_eq!(h.raw_len(), parsed.raw_len());
            let ours: Vec<_> = h.headers().collect();
            let theirs: Vec<_> = parsed.headers().collect();
            assert_eq!(ours, theirs);
        }
        // One more than MAX_HEADERS with the host field: a 431, as httparse's limit gives.
        let mut too_many = http::Request::get("https://a.test/");
        for i in 0..MAX_HEADERS {
            too_many = too_many.header(format!("x-{i}"), "1");
        }
        assert_eq!(request_head(&parts(too_many), true).err(), Some(431));
    }

    #[test]
    fn smuggling_shapes_are_refused() {
        let bad = |b: http::request::Builder| request_head(&parts(b), false);
        assert_eq!(
            bad(http::Request::post("https://a.test/").header("transfer-encoding", "chunked"))
                .err(),
            Some(400)
        );
        assert_eq!(
            bad(http::Request::get("https://a.test/").header("connection", "close")).err(),
            Some(400)
        );
        assert_eq!(
            bad(http::Request::get("https://a.test/").header("te", "gzip")).err(),
            Some(400)
        );
        assert_eq!(
            bad(http::Request::get("https://a.test/").header("host", "b.test")).err(),
            Some(400)
        );
        // Framing is then checked as for HTTP/1.1.
        let two_lengths =
            bad(http::Request::post("https://a.test/").header("content-length", "1, 2"))
                .expect("a head");
        assert_eq!(crate::http::h1::analyze(&two_lengths).err(), Some(400));
        assert_eq!(bad(http::Request::connect("a.test:443")).err(), Some(501));
    }

    #[test]
    fn responses_lose_connection_fields() {
        let r = response(Bytes::from_static(
            b"HTTP/1.1 201 Created\r\nx-a: 1\r\ntransfer-encoding: chunked\r\nkeep-alive: 5\r\n",
        ));
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers().len(), 1);
    }
}
