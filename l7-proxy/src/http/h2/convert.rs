//! Between HTTP/2 messages and the HTTP/1.1 heads the rest of the proxy works on.
//!
//! A request becomes the HTTP/1.1 head a client would have sent, parsed by the same
//! parser and checked by the same rules, so nothing reaches a server by the HTTP/2 path
//! that the HTTP/1.1 path would refuse. RFC 9113 §8.2: connection-specific fields and a
//! `te` other than `trailers` make a request malformed (the h2 crate resets such streams
//! before they reach us; they are refused here too), §8.3.1: `:authority` becomes `Host`,
//! and a `Host` that differs is malformed, §8.2.3: `cookie` fields are joined with `; `.

use bytes::{Bytes, BytesMut};

use crate::http::h1::headers::fields;
use crate::http::h1::request::{parse_request, RequestHead};

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
    raw.extend_from_slice(p.method.as_str().as_bytes());
    raw.extend_from_slice(b" ");
    raw.extend_from_slice(path.as_bytes());
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
        let n = name.as_str();
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
        push(&mut raw, n.as_bytes(), value.as_bytes());
    }
    if !host_seen {
        match authority {
            Some(a) => push(&mut raw, b"host", a.as_bytes()),
            None => return Err(400),
        }
    }
    if !cookies.is_empty() {
        push(&mut raw, b"cookie", &cookies.join(&b"; "[..]));
    }
    // A body without a length is re-framed as chunked for the server.
    if !end_stream && !p.headers.contains_key(http::header::CONTENT_LENGTH) {
        raw.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    raw.extend_from_slice(b"\r\n");
    match parse_request(&mut raw) {
        Ok(Some(mut h)) => {
            h.http2 = true;
            Ok(h)
        }
        Ok(None) => Err(431),
        Err(crate::http::h1::HeadError::Status(c)) => Err(c),
        Err(_) => Err(400),
    }
}

fn push(out: &mut BytesMut, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
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
