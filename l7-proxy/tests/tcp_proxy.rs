//! TCP mode against a real echo server.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn tcp_mode_streams_and_half_closes() {
    let e1 = TestServer::start("e1", Behaviour::Echo).await;
    let e2 = TestServer::start("e2", Behaviour::Echo).await;
    let p = proxy(&format!(
        "defaults\n mode tcp\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n option redispatch\nfrontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n balance roundrobin\n server a {}\n server b {}\n",
        e1.addr, e2.addr
    ))
    .await;
    let fe = addr(&p, "fe");
    for round in 0..4 {
        let mut s = bounded(tokio::net::TcpStream::connect(fe.addr))
            .await
            .unwrap();
        let payload = vec![round as u8; 3 << 20];
        let (mut r, mut w) = s.split();
        let write = async {
            w.write_all(&payload).await.unwrap();
            // Half-close: we are done sending but still want the echo.
            w.shutdown().await.unwrap();
        };
        let mut got = Vec::new();
        let read = r.read_to_end(&mut got);
        let (_, n) = bounded(async { tokio::join!(write, read) }).await;
        assert_eq!(n.unwrap(), payload.len());
        assert_eq!(got, payload);
    }
    assert_eq!(e1.connections.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(e2.connections.load(std::sync::atomic::Ordering::SeqCst), 2);
    // A dead server is skipped thanks to redispatch.
    e1.kill();
    drop(e1);
    for _ in 0..2 {
        let mut s = bounded(tokio::net::TcpStream::connect(fe.addr))
            .await
            .unwrap();
        s.write_all(b"ping").await.unwrap();
        s.shutdown().await.unwrap();
        let mut got = Vec::new();
        bounded(s.read_to_end(&mut got)).await.unwrap();
        assert_eq!(got, b"ping");
    }
}

/// `timeout client`/`timeout server` close an idle tunnel; an active one stays open.
#[tokio::test]
async fn tcp_idle_timeout_closes_silent_sessions() {
    let e = TestServer::start("e", Behaviour::Echo).await;
    let p = proxy(&format!(
        "defaults\n mode tcp\n timeout connect 1s\n timeout client 300ms\n timeout server 300ms\nfrontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server a {}\n",
        e.addr
    ))
    .await;
    let fe = addr(&p, "fe");
    let mut s = bounded(tokio::net::TcpStream::connect(fe.addr))
        .await
        .unwrap();
    // Active for 600 ms (twice the timeout) in 100 ms steps: stays open.
    for _ in 0..6 {
        s.write_all(b"x").await.unwrap();
        let mut b = [0u8; 1];
        bounded(s.read_exact(&mut b)).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Then silent: closed by the proxy after about 300 ms.
    let t0 = std::time::Instant::now();
    let mut b = [0u8; 8];
    let n = bounded(s.read(&mut b)).await.unwrap_or(0);
    assert_eq!(n, 0);
    assert!(t0.elapsed() >= std::time::Duration::from_millis(150));
}

/// TCP mode logs an expired `timeout connect` as `sC` (a refused connect is `SC`), as
/// HAProxy does, after the retries.
#[tokio::test]
async fn tcp_connect_timeout_and_refused_are_logged_apart() {
    let (full, _keep) = full_listener();
    let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused_addr = refused.local_addr().unwrap();
    drop(refused);
    let log = SyslogRx::bind().await;
    let p = proxy(&format!(
        "{} timeout connect 200ms\n timeout client 5s\n timeout server 5s\n retries 1\nfrontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {full}\nfrontend fe2\n bind 127.0.0.1:0\n default_backend be2\nbackend be2\n server r {refused_addr}\n",
        log.config("tcp")
    ))
    .await;
    for (fe, server, term) in [("fe", " be/s ", "sC"), ("fe2", " be2/r ", "SC")] {
        let mut s = bounded(tokio::net::TcpStream::connect(addr(&p, fe).addr))
            .await
            .unwrap();
        let mut got = Vec::new();
        let _ = bounded(s.read_to_end(&mut got)).await;
        assert!(got.is_empty());
        let line = log.line_with(server).await;
        let f: Vec<&str> = line.split(' ').collect();
        // %ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq
        assert_eq!(f[2], fe, "{line}");
        assert_eq!(f[6], term, "{line}");
        assert!(f[7].ends_with("/1"), "one retry: {line}");
    }
}
