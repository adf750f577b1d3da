//! HTTP/2 to clients: the h2 crate as a well-behaved client (multiplexing, logs and
//! counters, rules, GOAWAY on reload), and hand-written frames for what a well-behaved
//! client never sends (RFC 9113 §8.2 malformed requests, too many streams, too large a
//! header list): none of it may reach a server.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use common::pki::{localhost, Alg, Pki};
use common::*;
use l7_proxy::net::Stream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A proxy with an `ssl ... alpn h2,http/1.1` bind.
struct H2Site {
    pki: Pki,
    server: TestServer,
    proxy: TestProxy,
    /// The configuration text, for reloads.
    cfg: String,
}

async fn h2_site(b: Behaviour, global: &str, fe_lines: &str) -> H2Site {
    let pki = Pki::new();
    let crt = pki.leaf("site.pem", &["localhost"], Alg::EcdsaP256);
    let server = TestServer::start("s", b).await;
    let cfg = format!(
        "{global}{DEFAULTS}frontend fe\n bind 127.0.0.1:0 ssl crt {} alpn h2,http/1.1\n{fe_lines} default_backend be\nbackend be\n server s {}\n",
        crt.display(),
        server.addr
    );
    let proxy = proxy(&cfg).await;
    H2Site {
        pki,
        server,
        proxy,
        cfg,
    }
}

impl H2Site {
    /// A TLS connection that negotiated h2.
    async fn tls(&self) -> Stream {
        let tcp = tokio::net::TcpStream::connect(addr(&self.proxy, "fe").addr)
            .await
            .unwrap();
        let c = tokio_rustls::TlsConnector::from(self.pki.authority.client(&[b"h2"]));
        let t = bounded(c.connect(localhost(), tcp)).await.unwrap();
        assert_eq!(t.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        Stream::TlsClient(Box::new(t))
    }

    /// An h2 client connection, driven by a background task.
    async fn client(&self) -> h2::client::SendRequest<Bytes> {
        let (send, conn) = bounded(h2::client::handshake(self.tls().await))
            .await
            .unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        send
    }
}

/// GET `path` on an h2 client: (status, response headers, body).
async fn get(
    send: &mut h2::client::SendRequest<Bytes>,
    path: &str,
) -> (u16, http::HeaderMap, Vec<u8>) {
    let req = http::Request::get(format!("https://localhost{path}"))
        .body(())
        .unwrap();
    let (resp, _) = send
        .clone()
        .ready()
        .await
        .unwrap()
        .send_request(req, true)
        .unwrap();
    let resp = bounded(resp).await.unwrap();
    let (parts, mut body) = resp.into_parts();
    let mut data = Vec::new();
    while let Some(chunk) = bounded(body.data()).await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    (parts.status.as_u16(), parts.headers, data)
}

#[tokio::test]
async fn streams_are_multiplexed_logged_and_counted_like_http11() {
    let syslog = SyslogRx::bind().await;
    let global = format!("global\n log {} local0\n", syslog.addr());
    let s = h2_site(
        Behaviour::Name,
        &global,
        " log global\n option httplog\n http-request set-header X-Proto h2 if { req.ver 2.0 }\n http-request set-header X-Sni %[ssl_fc_sni]\n",
    )
    .await;
    let mut send = s.client().await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let mut send = send.clone();
        tasks.push(tokio::spawn(async move {
            get(&mut send, &format!("/r{i}")).await
        }));
    }
    for t in tasks {
        let (status, headers, body) = t.await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(body, b"s");
        assert!(headers.get("connection").is_none());
    }
    let (_, headers, _) = get(&mut send, "/echo").await;
    assert_eq!(headers["x-path"], "/echo");
    assert_eq!(headers["x-host"], "localhost");
    assert_eq!(s.server.requests.load(Ordering::SeqCst), 11);
    let line = syslog.line_with("/echo").await;
    assert!(line.contains("\"GET /echo HTTP/2.0\""), "{line}");
    assert!(line.contains(" 200 "), "{line}");
    let fe = s.proxy.frontend("fe").await.unwrap();
    assert_eq!(fe.counters.traffic.requests.load(Ordering::Relaxed), 11);
    assert_eq!(
        fe.counters.traffic.sessions_total.load(Ordering::Relaxed),
        1,
        "one connection"
    );
}

#[tokio::test]
async fn rules_apply_to_http2_requests() {
    let s = h2_site(
        Behaviour::Count,
        "",
        " http-request deny deny_status 403 if { path_beg /admin }\n http-request set-header X-Forwarded-Proto https if { ssl_fc }\n http-response set-header X-Via lbproxy\n",
    )
    .await;
    let mut send = s.client().await;
    let (status, headers, _) = get(&mut send, "/ok").await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-xfp"], "https");
    assert_eq!(headers["x-via"], "lbproxy");
    let (status, _, body) = get(&mut send, "/admin/x").await;
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("403 Forbidden"));
    assert_eq!(s.server.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_reload_sends_goaway_and_lets_streams_finish() {
    let s = h2_site(Behaviour::Slow(Duration::from_millis(300)), "", "").await;
    let send = s.client().await;
    let slow = tokio::spawn({
        let mut send = send.clone();
        async move { get(&mut send, "/slow").await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.proxy.reload_text(&s.cfg).await.unwrap();
    assert_eq!(slow.await.unwrap().0, 200, "the stream in flight finished");
    // After GOAWAY the connection takes no new stream.
    let req = http::Request::get("https://localhost/late")
        .body(())
        .unwrap();
    let refused = match bounded(send.ready()).await {
        Err(_) => true,
        Ok(mut ready) => match ready.send_request(req, true) {
            Err(_) => true,
            Ok((resp, _)) => bounded(resp).await.is_err(),
        },
    };
    assert!(refused);
}

// --- Hand-written frames (RFC 9113 §4.1) and header blocks (RFC 7541 §6.2.2) ---

const HEADERS: u8 = 1;
const DATA: u8 = 0;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 1;
const END_HEADERS: u8 = 4;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An HPACK integer with an `n`-bit prefix (RFC 7541 §5.1).
fn hpack_int(out: &mut Vec<u8>, first: u8, n: u8, mut v: usize) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(first | v as u8);
        return;
    }
    out.push(first | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

/// Literal fields without indexing, new names, no Huffman.
fn header_block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    for (n, v) in fields {
        b.push(0);
        hpack_int(&mut b, 0, 7, n.len());
        b.extend_from_slice(n.as_bytes());
        hpack_int(&mut b, 0, 7, v.len());
        b.extend_from_slice(v.as_bytes());
    }
    b
}

struct RawH2 {
    s: Stream,
    buf: Vec<u8>,
    /// The server's SETTINGS (id, value).
    settings: Vec<(u16, u32)>,
}

impl RawH2 {
    async fn open(site: &H2Site) -> RawH2 {
        let mut s = site.tls().await;
        s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        s.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
        s.flush().await.unwrap();
        let mut c = RawH2 {
            s,
            buf: Vec::new(),
            settings: Vec::new(),
        };
        let (_, _, _, payload) = c.next_of(SETTINGS).await.expect("server SETTINGS");
        c.settings = payload
            .chunks(6)
            .map(|x| {
                (
                    u16::from_be_bytes([x[0], x[1]]),
                    u32::from_be_bytes([x[2], x[3], x[4], x[5]]),
                )
            })
            .collect();
        c.s.write_all(&frame(SETTINGS, 1, 0, &[])).await.unwrap();
        c
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).await.unwrap();
        self.s.flush().await.unwrap();
    }

    /// A request's HEADERS for `stream`, with `extra` fields after the pseudo-fields.
    async fn request(&mut self, stream: u32, method: &str, extra: &[(&str, &str)], end: bool) {
        let mut fields = vec![
            (":method", method),
            (":scheme", "https"),
            (":path", "/"),
            (":authority", "localhost"),
        ];
        fields.extend_from_slice(extra);
        let flags = END_HEADERS | if end { END_STREAM } else { 0 };
        self.send(&frame(HEADERS, flags, stream, &header_block(&fields)))
            .await;
    }

    /// The next frame (kind, flags, stream, payload); `None` at EOF.
    async fn next(&mut self) -> Option<(u8, u8, u32, Vec<u8>)> {
        loop {
            if self.buf.len() >= 9 {
                let len = u32::from_be_bytes([0, self.buf[0], self.buf[1], self.buf[2]]) as usize;
                if self.buf.len() >= 9 + len {
                    let f: Vec<u8> = self.buf.drain(..9 + len).collect();
                    let stream = u32::from_be_bytes([f[5], f[6], f[7], f[8]]) & 0x7fff_ffff;
                    return Some((f[3], f[4], stream, f[9..].to_vec()));
                }
            }
            let mut b = [0u8; 16384];
            match bounded(self.s.read(&mut b)).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&b[..n]),
            }
        }
    }

    async fn next_of(&mut self, kind: u8) -> Option<(u8, u8, u32, Vec<u8>)> {
        loop {
            let f = self.next().await?;
            if f.0 == kind {
                return Some(f);
            }
        }
    }

    /// The error code of the RST_STREAM the server sends on `stream` (skipping other frames).
    async fn reset_code(&mut self, stream: u32) -> Option<u32> {
        loop {
            let (kind, _, id, payload) = self.next().await?;
            if kind == RST_STREAM && id == stream {
                return Some(u32::from_be_bytes([
                    payload[0], payload[1], payload[2], payload[3],
                ]));
            }
        }
    }
}

const PROTOCOL_ERROR: u32 = 1;
const REFUSED_STREAM: u32 = 7;

#[tokio::test]
async fn malformed_requests_never_reach_the_server() {
    let s = h2_site(Behaviour::Count, "", "").await;
    // RFC 9113 §8.2.2: connection-specific fields; §8.2.2: te other than trailers.
    let bad: [&[(&str, &str)]; 6] = [
        &[("transfer-encoding", "chunked")],
        &[("connection", "keep-alive")],
        &[("keep-alive", "5")],
        &[("upgrade", "h2c")],
        &[("proxy-connection", "x")],
        &[("te", "gzip")],
    ];
    for fields in bad {
        let mut c = RawH2::open(&s).await;
        c.request(1, "GET", fields, true).await;
        assert_eq!(c.reset_code(1).await, Some(PROTOCOL_ERROR), "{fields:?}");
    }
    // RFC 9113 §8.1.1: DATA that disagrees with content-length, short and long.
    for (len, data) in [("10", &b"12345"[..]), ("3", &b"12345"[..])] {
        let mut c = RawH2::open(&s).await;
        c.request(1, "POST", &[("content-length", len)], false)
            .await;
        c.send(&frame(DATA, END_STREAM, 1, data)).await;
        assert_eq!(
            c.reset_code(1).await,
            Some(PROTOCOL_ERROR),
            "content-length {len}"
        );
    }
    // A Host that disagrees with :authority (§8.3.1) is answered 400 by the proxy.
    let mut c = RawH2::open(&s).await;
    c.request(1, "GET", &[("host", "evil.test")], true).await;
    let (kind, _, id, _) = c.next_of(HEADERS).await.expect("a response");
    assert_eq!((kind, id), (HEADERS, 1));
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A head may have gone on before its body proved short or long; the server then sees
    // the connection close before the body is complete, and never acts on the request.
    assert_eq!(
        s.server.answered.load(Ordering::SeqCst),
        0,
        "nothing reached the server whole"
    );
}

#[tokio::test]
async fn stream_and_header_limits_are_enforced() {
    let s = h2_site(
        Behaviour::Slow(Duration::from_millis(500)),
        "global\n tune.h2.max-concurrent-streams 2\n tune.h2.max-header-list-size 4096\n",
        "",
    )
    .await;
    let mut c = RawH2::open(&s).await;
    assert!(
        c.settings.contains(&(3, 2)),
        "SETTINGS_MAX_CONCURRENT_STREAMS: {:?}",
        c.settings
    );
    assert!(
        c.settings.contains(&(6, 4096)),
        "SETTINGS_MAX_HEADER_LIST_SIZE: {:?}",
        c.settings
    );
    // A third stream while two are open is refused (RFC 9113 §5.1.2).
    c.request(1, "GET", &[], true).await;
    c.request(3, "GET", &[], true).await;
    c.request(5, "GET", &[], true).await;
    let code = c.reset_code(5).await;
    assert!(
        matches!(code, Some(REFUSED_STREAM) | Some(PROTOCOL_ERROR)),
        "{code:?}"
    );
    // A header list over the limit, in a HEADERS and a CONTINUATION frame.
    let mut c = RawH2::open(&s).await;
    let big = "v".repeat(3000);
    let block = header_block(&[
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/"),
        (":authority", "localhost"),
        ("x-a", &big),
        ("x-b", &big),
    ]);
    let (first, rest) = block.split_at(block.len() / 2);
    c.send(&frame(HEADERS, END_STREAM, 1, first)).await;
    c.send(&frame(CONTINUATION, END_HEADERS, 1, rest)).await;
    // The h2 crate answers 431 itself (RFC 9113 §10.5.1): a HEADERS that ends the stream,
    // its :status a literal (0x48: not one of the statically indexed codes, 200 among them).
    let (_, flags, _, block) = c.next_of(HEADERS).await.expect("an answer on stream 1");
    assert_ne!(flags & END_STREAM, 0);
    assert_eq!(block[0], 0x48, "{block:?}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        s.server.requests.load(Ordering::SeqCst),
        2,
        "only the two streams allowed"
    );
}
