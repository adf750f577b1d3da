//! Faults of issue 18 on the request path: a server's early answer while the client
//! stalls its body (fault 2), a response cut mid-body (fault 5), an absolute-form target
//! whose Host disagrees (fault 6). Each is logged with what was really sent.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;

/// A proxy logging to `log` in front of the one server `s`, `timeout client 5s`.
async fn logged_proxy(log: &SyslogRx, s: &TestServer) -> TestProxy {
    proxy(&format!(
        "{} timeout connect 1s\n timeout client 5s\n timeout server 5s\nfrontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {}\n",
        log.config("http"),
        s.addr
    ))
    .await
}

/// The fields of an `httplog` line: [5] status, [6] bytes, [9] termination state.
fn fields(line: &str) -> Vec<String> {
    line.split(' ').map(str::to_string).collect()
}

/// A body far longer than what is sent, then silence: the server's answer must arrive
/// long before `timeout client` (5 s), and the log must show it.
async fn early_answer_reaches_a_stalled_client(framing: &str, first_bytes: &[u8]) {
    let s = TestServer::start("s", Behaviour::EarlyReject).await;
    let log = SyslogRx::bind().await;
    let p = logged_proxy(&log, &s).await;
    let mut c = Client::connect(addr(&p, "fe")).await;
    let t0 = Instant::now();
    let mut req = format!("POST /upload HTTP/1.1\r\nHost: t\r\n{framing}\r\n\r\n").into_bytes();
    req.extend_from_slice(first_bytes);
    c.send(&req).await;
    let r = tokio::time::timeout(Duration::from_secs(2), c.response(false))
        .await
        .expect("the server's early 413 is relayed at once, not at timeout client")
        .unwrap();
    assert_eq!(r.status, 413);
    assert_eq!(r.text(), "too big!");
    assert!(t0.elapsed() < Duration::from_secs(2));
    // The rest of the body will never come: the connection cannot carry another request.
    assert!(c.closed().await);
    let f = fields(&log.line_with(" fe be/s ").await);
    assert_eq!(f[5], "413", "{f:?}");
    assert!(f[6].parse::<u64>().unwrap() > 0, "{f:?}");
}

#[tokio::test]
async fn early_answer_to_a_stalled_content_length_body_is_relayed_at_once() {
    early_answer_reaches_a_stalled_client("Content-Length: 1000000", &[b'a'; 1000]).await;
}

#[tokio::test]
async fn early_answer_to_a_stalled_chunked_body_is_relayed_at_once() {
    let mut first = b"40000000\r\n".to_vec();
    first.extend_from_slice(&[b'a'; 1000]);
    early_answer_reaches_a_stalled_client("Transfer-Encoding: chunked", &first).await;
}

/// The server waits for the body that never comes: at `timeout client` nothing was sent,
/// and the log says so (`-1`, `cD`) instead of a 400 that never went out.
#[tokio::test]
async fn a_stalled_body_nobody_answered_is_logged_as_nothing_sent() {
    let s = TestServer::start("s", Behaviour::Count).await;
    let log = SyslogRx::bind().await;
    let p = proxy(&format!(
        "{} timeout connect 1s\n timeout client 300ms\n timeout server 5s\nfrontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {}\n",
        log.config("http"),
        s.addr
    ))
    .await;
    let mut c = Client::connect(addr(&p, "fe")).await;
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\nabc")
        .await;
    assert!(c.closed().await);
    let f = fields(&log.line_with(" fe be/s ").await);
    assert_eq!((f[5].as_str(), f[6].as_str()), ("-1", "0"), "{f:?}");
    assert_eq!(f[9], "cD--", "{f:?}");
}

/// The server promises 100,000 bytes and sends 30,000: the log counts what was relayed.
#[tokio::test]
async fn a_response_cut_mid_body_is_logged_with_the_bytes_sent() {
    let s = TestServer::start("s", Behaviour::Truncated(100_000, 30_000)).await;
    let log = SyslogRx::bind().await;
    let p = logged_proxy(&log, &s).await;
    let mut c = Client::connect(addr(&p, "fe")).await;
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").await;
    let cut = bounded(c.response(true)).await;
    assert!(cut.is_err(), "the body ends early, so does the connection");
    let f = fields(&log.line_with(" fe be/s ").await);
    assert_eq!(f[5], "200", "{f:?}");
    let bytes: u64 = f[6].parse().unwrap();
    assert!(
        (30_000..31_000).contains(&bytes),
        "head and 30,000 body bytes: {f:?}"
    );
    assert_eq!(f[9], "SD--", "{f:?}");
}

/// RFC 9112 §3.2.2: the target's authority is the host. A Host naming another is refused
/// with 400 (as HAProxy does) and never reaches the server.
#[tokio::test]
async fn absolute_target_with_another_host_is_refused() {
    let s = TestServer::start("s", Behaviour::Headers).await;
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {}\n",
        s.addr
    ))
    .await;
    let fe = addr(&p, "fe");
    let mut c = Client::connect(fe).await;
    let r =
        bounded(c.response_to(b"GET http://good.example/x HTTP/1.1\r\nHost: evil.example\r\n\r\n"))
            .await
            .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(s.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
    // The same target with its own host goes through.
    let mut c = Client::connect(fe).await;
    c.send(b"GET http://good.example/x HTTP/1.1\r\nHost: good.example\r\n\r\n")
        .await;
    let r = bounded(c.response(false)).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.text().contains("host: good.example"), "{}", r.text());
}
