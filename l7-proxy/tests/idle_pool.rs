//! The idle connections kept for reuse: closed when the server closes them, after
//! `pool-purge-delay` unused, and never more than `pool-max-conn` (issue 18, fault 1: a
//! server with a 5 s keep-alive timeout left 199 sockets in CLOSE-WAIT for minutes).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;

/// Sockets of this process connected to `port` that the peer has closed (CLOSE-WAIT).
fn close_wait_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/self/net/tcp").unwrap();
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let remote_port = f[2].rsplit(':').next().unwrap();
            u16::from_str_radix(remote_port, 16).unwrap() == port && f[3] == "08"
        })
        .count()
}

/// `n` requests at once, all answered 200.
async fn burst(fe: Fe, n: usize) {
    let all: Vec<_> = (0..n)
        .map(|_| tokio::spawn(async move { get_once(fe, "/").await.unwrap().status }))
        .collect();
    for r in all {
        assert_eq!(r.await.unwrap(), 200);
    }
}

/// Polls `f` every 50 ms until it holds, for at most `within`.
async fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < end {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

async fn pooled_proxy(s: &TestServer, server_opts: &str) -> TestProxy {
    proxy(&format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {} {server_opts}\n",
        s.addr
    ))
    .await
}

#[tokio::test]
async fn connections_the_server_closed_leave_the_pool_within_a_second_or_two() {
    let s = TestServer::start("s", Behaviour::SlowThenClose(Duration::from_millis(200))).await;
    let p = pooled_proxy(&s, "").await;
    let server = p.backend("be").await.unwrap().servers[0].clone();
    burst(addr(&p, "fe"), 20).await;
    // The server closed all 20 right after answering; none may linger in the pool.
    let emptied = eventually(Duration::from_millis(2500), || {
        server.idle_count() == 0 && close_wait_to(s.addr.port()) == 0
    })
    .await;
    assert!(
        emptied,
        "{} pooled, {} in CLOSE-WAIT",
        server.idle_count(),
        close_wait_to(s.addr.port())
    );
}

#[tokio::test]
async fn idle_connections_are_closed_after_pool_purge_delay() {
    let s = TestServer::start("s", Behaviour::Slow(Duration::from_millis(200))).await;
    let p = pooled_proxy(&s, "pool-purge-delay 300ms").await;
    let server = p.backend("be").await.unwrap().servers[0].clone();
    burst(addr(&p, "fe"), 10).await;
    assert!(
        server.idle_count() > 0,
        "the burst's connections are pooled"
    );
    let purged = eventually(Duration::from_millis(2500), || server.idle_count() == 0).await;
    assert!(purged, "{} still pooled", server.idle_count());
}

#[tokio::test]
async fn pool_max_conn_bounds_the_idle_connections() {
    let s = TestServer::start("s", Behaviour::Slow(Duration::from_millis(200))).await;
    let p = pooled_proxy(&s, "pool-max-conn 2").await;
    let server = p.backend("be").await.unwrap().servers[0].clone();
    burst(addr(&p, "fe"), 10).await;
    assert_eq!(server.idle_count(), 2);
    assert_eq!(s.connections.load(std::sync::atomic::Ordering::SeqCst), 10);
}

#[tokio::test]
async fn pool_max_conn_zero_opens_a_connection_per_request() {
    let s = TestServer::start("s", Behaviour::Name).await;
    let p = pooled_proxy(&s, "pool-max-conn 0").await;
    let fe = addr(&p, "fe");
    for _ in 0..3 {
        assert_eq!(get_once(fe, "/").await.unwrap().status, 200);
    }
    assert_eq!(s.connections.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(p.backend("be").await.unwrap().servers[0].idle_count(), 0);
}

/// A server that, 100 ms after each answer, writes an unasked 408 on the idle connection
/// and keeps it open (as some servers announce their idle timeout). Returns its address
/// and how many connections it accepted.
async fn announcing_server() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut b).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&b[..n]),
                    }
                }
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = s
                    .write_all(b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n")
                    .await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            });
        }
    });
    (addr, accepted)
}

/// Bytes that arrive on an idle connection (here an unasked 408) rule it out at once, long
/// before the sweeper's next round: the next request gets a fresh connection and its own
/// answer, never the stale 408.
#[tokio::test]
async fn an_idle_connection_the_server_wrote_to_is_not_reused() {
    let (server, accepted) = announcing_server().await;
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {server}\n"
    ))
    .await;
    let fe = addr(&p, "fe");
    for _ in 0..3 {
        assert_eq!(get_once(fe, "/").await.unwrap().status, 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
}
