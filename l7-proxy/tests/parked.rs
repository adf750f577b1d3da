//! Idle keep-alive connections are parked after a second without a request (no task, no
//! reactor registration: issue 16's memory per idle connection), and a parked connection
//! is still the same connection to its client: its next request is served, its keep-alive
//! timeout closes it, soft stop closes it, a reload leaves it alone.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use common::*;

/// Parked connections of frontend `fe`.
async fn parked(p: &TestProxy) -> usize {
    p.frontend("fe")
        .await
        .unwrap()
        .counters
        .parked
        .load(Relaxed)
}

/// Polls until `parked(p) == n`, for at most 3 s; whether it got there.
async fn parked_becomes(p: &TestProxy, n: usize) -> bool {
    for _ in 0..60 {
        if parked(p).await == n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A proxy in front of one server, with `timeout http-keep-alive` set to `keep_alive`.
async fn proxy_with_keep_alive(s: &TestServer, keep_alive: &str) -> TestProxy {
    proxy(&format!(
        "{DEFAULTS} timeout http-keep-alive {keep_alive}\n\
         frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {}\n",
        s.addr
    ))
    .await
}

/// Ten clients, one request each, kept open.
async fn idle_clients(p: &TestProxy, n: usize) -> Vec<Client> {
    let mut clients = Vec::new();
    for _ in 0..n {
        let mut c = Client::connect(addr(p, "fe")).await;
        assert_eq!(c.get("/").await.unwrap().status, 200);
        clients.push(c);
    }
    clients
}

#[tokio::test]
async fn an_idle_connection_is_parked_and_serves_its_next_request() {
    let s = TestServer::start("s", Behaviour::Name).await;
    let p = proxy_with_keep_alive(&s, "30s").await;
    let mut clients = idle_clients(&p, 10).await;
    assert_eq!(parked(&p).await, 0, "not parked while freshly used");
    assert!(parked_becomes(&p, 10).await, "{} parked", parked(&p).await);
    assert_eq!(
        p.active_connections(),
        10,
        "parked connections are still open ones"
    );
    // Each comes back for its next request, on the same connection, and parks again.
    for c in &mut clients {
        let r = c.get("/again").await.unwrap();
        assert_eq!(r.status, 200);
    }
    assert_eq!(parked(&p).await, 0);
    assert!(parked_becomes(&p, 10).await);
    let r = clients[3].get("/third").await.unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_parked_connection_closes_at_its_keep_alive_timeout() {
    let s = TestServer::start("s", Behaviour::Name).await;
    let p = proxy_with_keep_alive(&s, "1800ms").await;
    let t0 = Instant::now();
    let mut clients = idle_clients(&p, 1).await;
    assert!(parked_becomes(&p, 1).await);
    assert!(clients[0].closed().await, "closed by the proxy");
    let e = t0.elapsed();
    assert!(
        e >= Duration::from_millis(1700) && e < Duration::from_millis(3000),
        "closed after {e:?}, keep-alive timeout 1.8 s"
    );
    assert_eq!(parked(&p).await, 0);
    assert_eq!(p.active_connections(), 0);
}

#[tokio::test]
async fn soft_stop_closes_parked_connections_at_once() {
    let s = TestServer::start("s", Behaviour::Name).await;
    let p = proxy_with_keep_alive(&s, "30s").await;
    let mut clients = idle_clients(&p, 3).await;
    assert!(parked_becomes(&p, 3).await);
    let left = bounded(p.soft_stop(Some(Duration::from_secs(5)))).await;
    assert_eq!(left, 0, "no connection left open");
    for c in &mut clients {
        assert!(c.closed().await);
    }
}

#[tokio::test]
async fn a_connection_answered_within_the_second_is_never_parked() {
    let s = TestServer::start("s", Behaviour::Name).await;
    let p = proxy_with_keep_alive(&s, "30s").await;
    let mut c = Client::connect(addr(&p, "fe")).await;
    for _ in 0..6 {
        assert_eq!(c.get("/").await.unwrap().status, 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(parked(&p).await, 0);
    }
}
