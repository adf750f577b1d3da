// The HTTP/1.1 cases, included by http_proxy.rs (plain TCP clients) and http_over_tls.rs
// (every client connection over TLS): `TRANSPORT` is the including file's choice.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn weighted_round_robin_distribution() {
    let a = TestServer::start("a", Behaviour::Name).await;
    let b = TestServer::start("b", Behaviour::Name).await;
    let c = TestServer::start("c", Behaviour::Name).await;
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server a {} weight 2\n server b {}\n server c {}\n",
        a.addr, b.addr, c.addr
    ))
    .await;
    let mut cl = Client::connect(addr(&p, "fe")).await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..40 {
        let r = bounded(cl.get("/")).await.unwrap();
        assert_eq!(r.status, 200);
        *counts.entry(r.text()).or_default() += 1;
    }
    assert_eq!(counts["a"], 20);
    assert_eq!(counts["b"], 10);
    assert_eq!(counts["c"], 10);
}

#[tokio::test]
async fn acl_routing_and_forwardfor() {
    let web = TestServer::start("web", Behaviour::Name).await;
    let api = TestServer::start("api", Behaviour::Name).await;
    let img = TestServer::start("img", Behaviour::Name).await;
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS} option forwardfor\nfrontend fe\n bind 127.0.0.1:0\n acl is_api path_beg /api\n acl is_img hdr_beg(host) -i img.\n use_backend api if is_api\n use_backend img if is_img !is_api\n default_backend web\nbackend web\n server s {}\nbackend api\n server s {}\nbackend img\n server s {}\n",
        web.addr, api.addr, img.addr
    ))
    .await;
    let a = addr(&p, "fe");
    assert_eq!(get_once(a, "/").await.unwrap().text(), "web");
    let r = get_once(a, "/api/v1?x=1").await.unwrap();
    assert_eq!(r.text(), "api");
    assert_eq!(r.header("x-xff"), Some("127.0.0.1"));
    let mut c = Client::connect(a).await;
    c.send(b"GET /pic HTTP/1.1\r\nHost: IMG.example.test\r\n\r\n")
        .await;
    assert_eq!(bounded(c.response(false)).await.unwrap().text(), "img");
}

#[tokio::test]
async fn keep_alive_reuses_upstream_connections() {
    let s = TestServer::start("s", Behaviour::Name).await;
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {}\nfrontend fe2\n bind 127.0.0.1:0\n option http-server-close\n default_backend be\n",
        s.addr
    ))
    .await;
    let mut c = Client::connect(addr(&p, "fe")).await;
    for _ in 0..20 {
        assert_eq!(bounded(c.get("/")).await.unwrap().status, 200);
    }
    // A second client connection reuses the pooled upstream connection too.
    let mut c2 = Client::connect(addr(&p, "fe")).await;
    assert_eq!(bounded(c2.get("/")).await.unwrap().status, 200);
    assert_eq!(s.requests.load(Ordering::SeqCst), 21);
    assert_eq!(s.connections.load(Ordering::SeqCst), 1);
    // http-server-close: one upstream connection per request, client side kept alive.
    let mut c3 = Client::connect(addr(&p, "fe2")).await;
    for _ in 0..5 {
        assert_eq!(bounded(c3.get("/")).await.unwrap().status, 200);
    }
    assert_eq!(s.connections.load(Ordering::SeqCst), 6);
}

/// One server dies while four clients send GETs: connect failures and resets before a
/// response are retried on another server, so no request fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_death_under_load_loses_no_get() {
    let a = TestServer::start("a", Behaviour::Name).await;
    let b = TestServer::start("b", Behaviour::Name).await;
    let c = TestServer::start("c", Behaviour::Slow(Duration::from_millis(2))).await;
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS} retries 3\n option redispatch\nfrontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server a {}\n server b {}\n server c {}\n",
        a.addr, b.addr, c.addr
    ))
    .await;
    let fe = addr(&p, "fe");
    let mut tasks = Vec::new();
    for i in 0..4 {
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            let mut cl = Client::connect(fe).await;
            for n in 0..150 {
                // Half the clients also open fresh connections now and then.
                if i % 2 == 1 && n % 10 == 0 {
                    cl = Client::connect(fe).await;
                }
                match bounded(cl.get("/")).await {
                    Ok(r) if r.status == 200 => ok += 1,
                    other => panic!("request {n} of client {i} failed: {other:?}"),
                }
            }
            ok
        }));
    }
    // Killed once it has taken traffic (a fixed pause raced a loaded machine's handshakes).
    for _ in 0..500 {
        if c.requests.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        c.requests.load(Ordering::SeqCst) > 0,
        "the server to kill takes traffic first"
    );
    c.kill();
    let mut total = 0;
    for t in tasks {
        total += bounded(t).await.unwrap();
    }
    assert_eq!(total, 600);
}

#[tokio::test]
async fn health_checks_take_server_out_and_back() {
    let a = TestServer::start("a", Behaviour::Name).await;
    let b = TestServer::start("b", Behaviour::Name).await;
    let b_addr = b.addr;
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n option httpchk GET /health\n http-check expect status 200\n default-server check inter 50ms rise 2 fall 2\n server a {}\n server b {}\n",
        a.addr, b.addr
    ))
    .await;
    let be = p.backend("be").await.unwrap();
    b.kill();
    drop(b);
    let t0 = Instant::now();
    while be.servers[1].is_up() {
        assert!(t0.elapsed() < T, "server b never went DOWN");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fe = addr(&p, "fe");
    for _ in 0..10 {
        assert_eq!(get_once(fe, "/").await.unwrap().text(), "a");
    }
    let b2 = TestServer::start_on(b_addr, "b", Behaviour::Name).await;
    let t0 = Instant::now();
    while !be.servers[1].is_up() {
        assert!(t0.elapsed() < T, "server b never came back UP");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut seen_b = false;
    for _ in 0..4 {
        seen_b |= get_once(fe, "/").await.unwrap().text() == "b";
    }
    assert!(seen_b);
    assert!(
        b2.requests.load(Ordering::SeqCst) >= 2,
        "checks reached the server"
    );
}

#[tokio::test]
async fn backup_used_only_when_actives_down() {
    let a = TestServer::start("a", Behaviour::Name).await;
    let bk = TestServer::start("bk", Behaviour::Name).await;
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS} option redispatch\nfrontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server a {} check inter 50ms fall 1\n server bk {} backup\n",
        a.addr, bk.addr
    ))
    .await;
    let fe = addr(&p, "fe");
    for _ in 0..3 {
        assert_eq!(get_once(fe, "/").await.unwrap().text(), "a");
    }
    a.kill();
    let be = p.backend("be").await.unwrap();
    let t0 = Instant::now();
    while be.servers[0].is_up() {
        assert!(t0.elapsed() < T);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(get_once(fe, "/").await.unwrap().text(), "bk");
}

#[tokio::test]
async fn maxconn_queues_then_times_out() {
    let s = TestServer::start("s", Behaviour::Slow(Duration::from_millis(300))).await;
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n timeout queue 1s\n server s {} maxconn 1\nfrontend fe2\n bind 127.0.0.1:0\n default_backend be2\nbackend be2\n timeout queue 100ms\n server s {} maxconn 1\n",
        s.addr, s.addr
    ))
    .await;
    // Two at once through a 1-slot server with a long queue timeout: both served, in turn.
    let fe = addr(&p, "fe");
    let t0 = Instant::now();
    let (r1, r2) = tokio::join!(get_once(fe, "/"), get_once(fe, "/"));
    assert_eq!(r1.unwrap().status, 200);
    assert_eq!(r2.unwrap().status, 200);
    assert!(
        t0.elapsed() >= Duration::from_millis(550),
        "requests were serialized"
    );
    // Short queue timeout: the second one gets 503.
    let fe2 = addr(&p, "fe2");
    let (r1, r2) = tokio::join!(get_once(fe2, "/"), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        get_once(fe2, "/").await
    });
    assert_eq!(r1.unwrap().status, 200);
    assert_eq!(r2.unwrap().status, 503);
}

#[tokio::test]
async fn chunked_upload_of_100_mib_is_streamed() {
    let s = TestServer::start("s", Behaviour::Count).await;
    let p = one_server(TRANSPORT, &s).await;
    let mut c = Client::connect(addr(&p, "fe")).await;
    c.send(b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await;
    let chunk = vec![b'y'; 1 << 20];
    let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
    framed.extend_from_slice(&chunk);
    framed.extend_from_slice(b"\r\n");
    for _ in 0..100 {
        c.send(&framed).await;
    }
    c.send(b"0\r\n\r\n").await;
    let r = bounded(c.response(false)).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-body-len"), Some("104857600"));
    // The connection is still usable afterwards.
    assert_eq!(bounded(c.get("/")).await.unwrap().status, 200);
}

#[tokio::test]
async fn download_of_100_mib_is_streamed() {
    let s = TestServer::start("s", Behaviour::Big(100 << 20)).await;
    let p = one_server(TRANSPORT, &s).await;
    let mut c = Client::connect(addr(&p, "fe")).await;
    c.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n").await;
    let r = bounded(c.response(true)).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), (100u64 << 20).to_string());
}

/// A client that stops reading stops the backend too: the proxy keeps one 16 KiB buffer per
/// direction, so what the backend could write is bounded by kernel socket buffers, far below
/// the 200 MiB body.
#[tokio::test]
async fn slow_reader_back_pressures_the_server() {
    let s = TestServer::start("s", Behaviour::Big(200 << 20)).await;
    let p = one_server(TRANSPORT, &s).await;
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(64 * 1024).unwrap();
    let fe = addr(&p, "fe");
    let tcp = bounded(sock.connect(fe.addr)).await.unwrap();
    let mut stream = fe.wrap(tcp).await;
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut b = [0u8; 1024];
    let _ = bounded(stream.read(&mut b)).await.unwrap();
    // Let the pipeline fill up, then check it stalled.
    let mut last = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(40)).await;
        let now = s.written.load(Ordering::SeqCst);
        if now == last && now > 0 {
            break;
        }
        last = now;
    }
    let written = s.written.load(Ordering::SeqCst);
    eprintln!("backend wrote {written} bytes before stalling");
    assert!(
        written < 64 << 20,
        "backend wrote {written} bytes to a stalled client"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        s.written.load(Ordering::SeqCst),
        written,
        "still flowing: no back-pressure"
    );
}

#[tokio::test]
async fn expect_100_continue() {
    let s = TestServer::start("s", Behaviour::Count).await;
    let p = one_server(TRANSPORT, &s).await;
    let mut c = Client::connect(addr(&p, "fe")).await;
    c.send(b"PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        .await;
    let r = bounded(c.response(false)).await.unwrap();
    assert_eq!(r.status, 100);
    c.send(b"hello").await;
    let r = bounded(c.response(false)).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-body-len"), Some("5"));
}

#[tokio::test]
async fn websocket_upgrade_is_tunnelled() {
    let s = TestServer::start("s", Behaviour::Upgrade).await;
    let p = one_server(TRANSPORT, &s).await;
    let mut c = Client::connect(addr(&p, "fe")).await;
    c.send(b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").await;
    let r = bounded(c.response(false)).await.unwrap();
    assert_eq!(r.status, 101);
    assert_eq!(r.header("upgrade"), Some("websocket"));
    c.send(b"\x81\x05hello").await;
    let mut got = std::mem::take(&mut c.buf);
    while got.len() < 7 {
        let mut b = [0u8; 64];
        let n = bounded(c.stream.read(&mut b)).await.unwrap();
        assert!(n > 0, "tunnel closed early");
        got.extend_from_slice(&b[..n]);
    }
    assert_eq!(&got, b"\x81\x05hello");
    // Half-close travels through: the echo server closes after our FIN.
    c.stream.shutdown().await.unwrap();
    assert!(c.closed().await);
}

async fn expect_status(fe: Fe, raw: &[u8], status: u16) {
    let mut c = Client::connect(fe).await;
    c.send(raw).await;
    let r = bounded(c.response(false)).await.unwrap();
    assert_eq!(
        r.status,
        status,
        "for {:?}",
        String::from_utf8_lossy(&raw[..raw.len().min(60)])
    );
    assert_eq!(r.header("connection"), Some("close"));
    assert!(
        r.text().contains(&format!("<h1>{status} ")),
        "HAProxy-style page"
    );
    assert!(c.closed().await, "connection closed after {status}");
}

#[tokio::test]
async fn bad_requests_get_the_right_status() {
    let s = TestServer::start("s", Behaviour::Count).await;
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS} timeout http-request 300ms\nfrontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {}\n",
        s.addr
    ))
    .await;
    let fe = addr(&p, "fe");
    expect_status(fe, b"GARBAGE\r\n\r\n", 400).await;
    expect_status(fe, b"GET / HTTP/1.1\r\n\r\n", 400).await;
    expect_status(
        fe,
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        400,
    )
    .await;
    expect_status(
        fe,
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        400,
    )
    .await;
    expect_status(
        fe,
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
        400,
    )
    .await;
    expect_status(
        fe,
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1234567890123456789012\r\n\r\n",
        413,
    )
    .await;
    let long = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(20_000));
    expect_status(fe, long.as_bytes(), 414).await;
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    expect_status(
        fe,
        format!("GET / HTTP/1.1\r\nHost: t\r\n{many}\r\n").as_bytes(),
        431,
    )
    .await;
    let big = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "b".repeat(20_000)
    );
    expect_status(fe, big.as_bytes(), 431).await;
    expect_status(
        fe,
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
        501,
    )
    .await;
    // Incomplete head: 408 after `timeout http-request`.
    expect_status(fe, b"GET / HTTP/1.1\r\nHost: t\r\n", 408).await;
    // None of these reached the server except the bad-chunk one (its head had to be sent).
    assert!(s.requests.load(Ordering::SeqCst) <= 1);
}

#[tokio::test]
async fn upstream_errors_503_504() {
    let silent = TestServer::start("silent", Behaviour::Silent).await;
    let dead = TestServer::start("dead", Behaviour::Name).await;
    let dead_addr = dead.addr;
    drop(dead);
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS} retries 1\nfrontend fe\n bind 127.0.0.1:0\n default_backend slow\nbackend slow\n timeout server 200ms\n server s {}\nfrontend fe2\n bind 127.0.0.1:0\n default_backend dead\nbackend dead\n option redispatch\n server d {}\nfrontend fe3\n bind 127.0.0.1:0\n",
        silent.addr, dead_addr
    ))
    .await;
    let t0 = Instant::now();
    expect_status(addr(&p, "fe"), b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", 504).await;
    assert!(t0.elapsed() >= Duration::from_millis(200));
    expect_status(addr(&p, "fe2"), b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", 503).await;
    // No backend at all.
    expect_status(addr(&p, "fe3"), b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", 503).await;
}

/// Reload while four clients keep sending: the listener stays open, no request fails (no
/// client retry either), keep-alive clients are told to reconnect, and new requests reach
/// the new backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_fails_nothing() {
    let old = TestServer::start("old", Behaviour::Name).await;
    let new = TestServer::start("new", Behaviour::Name).await;
    let cfg = |s: std::net::SocketAddr| {
        format!("{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {s}\n")
    };
    let p = std::sync::Arc::new(proxy_over(TRANSPORT, &cfg(old.addr)).await);
    let fe = addr(&p, "fe");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for i in 0..4 {
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            let mut last = String::new();
            let mut cl = Client::connect(fe).await;
            let mut fresh = true;
            while !stop.load(Ordering::SeqCst) && n < 5000 {
                if i >= 2 {
                    // Fresh connection each time: exercises accept during the reload.
                    cl = Client::connect(fe).await;
                    fresh = true;
                }
                // No retries: a reload never closes a connection under a client's feet.
                let r = bounded(cl.get("/"))
                    .await
                    .unwrap_or_else(|e| panic!("request failed (fresh: {fresh}): {e}"));
                assert_eq!(r.status, 200);
                fresh = false;
                if r.header("connection") == Some("close") {
                    cl = Client::connect(fe).await;
                    fresh = true;
                }
                last = r.text();
                n += 1;
            }
            (n, last)
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A reload that cannot bind keeps the old configuration.
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bad = format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n bind {}\n default_backend be\nbackend be\n server s {}\n",
        blocker.local_addr().unwrap(),
        new.addr
    );
    assert!(p.reload_text(&bad).await.is_err());
    assert_eq!(get_once(fe, "/").await.unwrap().text(), "old");
    p.reload_text(&cfg(new.addr)).await.unwrap();
    assert_eq!(addr(&p, "fe"), fe, "listener kept");
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::SeqCst);
    let mut total = 0;
    for t in tasks {
        let (n, last) = bounded(t).await.unwrap();
        total += n;
        // Keep-alive clients too were moved to the new configuration.
        assert_eq!(last, "new");
    }
    assert!(total > 20);
    assert_eq!(get_once(fe, "/").await.unwrap().text(), "new");
    assert!(new.requests.load(Ordering::SeqCst) > 1);
}

#[tokio::test]
async fn soft_stop_drains_in_flight_requests() {
    let s = TestServer::start("s", Behaviour::Slow(Duration::from_millis(300))).await;
    let p = one_server(TRANSPORT, &s).await;
    let fe = addr(&p, "fe");
    // An idle keep-alive client: closed at once by the soft stop.
    let mut idle = Client::connect(fe).await;
    assert_eq!(bounded(idle.get("/")).await.unwrap().status, 200);
    let inflight = tokio::spawn(async move { get_once(fe, "/").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t0 = Instant::now();
    let left = bounded(p.soft_stop(Some(Duration::from_secs(5)))).await;
    assert_eq!(left, 0);
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "drained without waiting for timeouts"
    );
    assert!(idle.closed().await);
    let r = bounded(inflight).await.unwrap().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(
        tokio::net::TcpStream::connect(fe.addr).await.is_err(),
        "listener closed"
    );
}

#[tokio::test]
async fn chunked_and_until_close_responses() {
    let ch = TestServer::start("ch", Behaviour::Chunked(3000)).await;
    let uc = TestServer::start("uc", Behaviour::UntilClose).await;
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {}\nfrontend fe2\n bind 127.0.0.1:0\n default_backend be2\nbackend be2\n server s {}\n",
        ch.addr, uc.addr
    ))
    .await;
    let mut c = Client::connect(addr(&p, "fe")).await;
    for _ in 0..3 {
        let r = bounded(c.response_to(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"))
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        // `Trailer` announces the trailer fields that follow: not hop-by-hop.
        assert_eq!(r.header("trailer"), Some("x-trailer"));
        // Decoded length: 3000 chunks of 1000 bytes, over one kept-alive connection.
        assert_eq!(r.text(), "3000000");
    }
    assert_eq!(ch.connections.load(Ordering::SeqCst), 1);
    // A body delimited by the server's close: forwarded, then the client side closes too.
    let mut c = Client::connect(addr(&p, "fe2")).await;
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").await;
    let r = bounded(c.response(false)).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(r.text(), "uc");
}

#[tokio::test]
async fn pipelined_and_http10_requests() {
    let s = TestServer::start("s", Behaviour::Name).await;
    let p = one_server(TRANSPORT, &s).await;
    let fe = addr(&p, "fe");
    let mut c = Client::connect(fe).await;
    c.send(b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\nGET /3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").await;
    for path in ["/1", "/2", "/3"] {
        let r = bounded(c.response(false)).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-path"), Some(path));
    }
    assert!(c.closed().await, "closed after Connection: close");
    // HTTP/1.0 without keep-alive: one response, then close.
    let mut c = Client::connect(fe).await;
    c.send(b"GET /old HTTP/1.0\r\n\r\n").await;
    let r = bounded(c.response(false)).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(c.closed().await);
    // HTTP/1.0 with keep-alive: kept open, and told so.
    let mut c = Client::connect(fe).await;
    c.send(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await;
    let r = bounded(c.response(false)).await.unwrap();
    assert_eq!(r.header("connection"), Some("keep-alive"));
    c.send(b"GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await;
    assert_eq!(
        bounded(c.response(false)).await.unwrap().header("x-path"),
        Some("/b")
    );
}

/// Two GETs to `fe`, the second `stagger` after the first; both must succeed. Returns how
/// long the pair took (a limit of one connection makes it at least two server times).
async fn two_clients_one_after_the_other(fe: Fe, stagger: Duration) -> Duration {
    let t0 = Instant::now();
    let (r1, r2) = tokio::join!(get_once(fe, "/"), async {
        tokio::time::sleep(stagger).await;
        get_once(fe, "/").await
    });
    assert_eq!(r1.unwrap().status, 200);
    assert_eq!(r2.unwrap().status, 200);
    t0.elapsed()
}

/// `global` `maxconn 1`: a second client is not served until the first leaves.
#[tokio::test]
async fn global_maxconn_limits_concurrent_clients() {
    let s = TestServer::start("s", Behaviour::Slow(Duration::from_millis(200))).await;
    let p = proxy_over(TRANSPORT, &format!(
        "global\n maxconn 1\n{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {}\n",
        s.addr
    ))
    .await;
    let took = two_clients_one_after_the_other(addr(&p, "fe"), Duration::from_millis(20)).await;
    assert!(
        took >= Duration::from_millis(400),
        "the second waited for the first: {took:?}"
    );
    assert_eq!(
        s.connections.load(Ordering::SeqCst),
        1,
        "one upstream connection, reused"
    );
}

/// Dropping the proxy closes its listeners.
#[tokio::test]
async fn dropping_the_proxy_closes_listeners() {
    let s = TestServer::start("s", Behaviour::Name).await;
    let p = one_server(TRANSPORT, &s).await;
    let fe = addr(&p, "fe");
    assert_eq!(get_once(fe, "/").await.unwrap().status, 200);
    drop(p);
    let t0 = Instant::now();
    while tokio::net::TcpStream::connect(fe.addr).await.is_ok() {
        assert!(t0.elapsed() < T, "listener still open");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A server that closes its idle connections: the pool notices, and bodies (which cannot be
/// replayed) never go to a dead pooled connection.
#[tokio::test]
async fn closed_pooled_connections_are_not_reused() {
    let s = TestServer::start("s", Behaviour::CloseAfter).await;
    let p = one_server(TRANSPORT, &s).await;
    let mut c = Client::connect(addr(&p, "fe")).await;
    for i in 0..20 {
        // Give the server's FIN time to arrive, as an idle period would.
        tokio::time::sleep(Duration::from_millis(5)).await;
        c.send(b"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody")
            .await;
        let r = bounded(c.response(false)).await.unwrap();
        assert_eq!(r.status, 200, "request {i}");
    }
    assert_eq!(s.connections.load(Ordering::SeqCst), 20);
}

/// A server that answers before reading the body (and closes): its answer reaches the
/// client instead of a 502, and the client connection is closed.
#[tokio::test]
async fn early_server_answer_is_forwarded() {
    let s = TestServer::start("s", Behaviour::EarlyReject).await;
    let p = one_server(TRANSPORT, &s).await;
    let mut c = Client::connect(addr(&p, "fe")).await;
    c.send(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 67108864\r\n\r\n")
        .await;
    let (mut r, mut w) = tokio::io::split(c.stream);
    let writer = tokio::spawn(async move {
        let chunk = vec![b'z'; 1 << 20];
        for _ in 0..64 {
            if w.write_all(&chunk).await.is_err() {
                break;
            }
        }
    });
    let mut got = Vec::new();
    let _ = bounded(r.read_to_end(&mut got)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    assert!(text.contains("connection: close"));
    assert!(text.ends_with("too big!"), "{text}");
    let _ = bounded(writer).await;
}

/// `timeout http-keep-alive` closes an idle client connection between requests.
#[tokio::test]
async fn keep_alive_timeout_closes_idle_clients() {
    let s = TestServer::start("s", Behaviour::Name).await;
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS} timeout http-keep-alive 200ms\nfrontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {}\n",
        s.addr
    ))
    .await;
    let mut c = Client::connect(addr(&p, "fe")).await;
    assert_eq!(bounded(c.get("/")).await.unwrap().status, 200);
    let t0 = Instant::now();
    assert!(c.closed().await);
    let e = t0.elapsed();
    assert!(
        e >= Duration::from_millis(150) && e < Duration::from_secs(3),
        "{e:?}"
    );
}

/// `stats enable`/`stats uri`: HAProxy's CSV reflects live server states and counters.
#[tokio::test]
async fn stats_page_csv_and_html() {
    let a = TestServer::start("a", Behaviour::Name).await;
    let dead = TestServer::start("dead", Behaviour::Name).await;
    let dead_addr = dead.addr;
    drop(dead);
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server a {} check inter 50ms\n server b {} check inter 50ms fall 1\n server c {} backup\nlisten stats\n bind 127.0.0.1:0\n stats enable\n stats uri /stats\n stats refresh 5s\n",
        a.addr, dead_addr, a.addr
    ))
    .await;
    let be = p.backend("be").await.unwrap();
    let t0 = Instant::now();
    while be.servers[1].is_up() {
        assert!(t0.elapsed() < T);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..3 {
        assert_eq!(get_once(addr(&p, "fe"), "/").await.unwrap().status, 200);
    }
    let r = get_once(addr(&p, "stats"), "/stats;csv").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    let csv = r.text();
    let header: Vec<&str> = csv
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let row = |px: &str, sv: &str| -> Vec<String> {
        csv.lines()
            .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>())
            .find(|f| f[0] == px && f[1] == sv)
            .unwrap_or_else(|| panic!("no row {px}/{sv} in {csv}"))
    };
    assert_eq!(row("be", "a")[col("status")], "UP");
    assert_eq!(row("be", "b")[col("status")], "DOWN");
    assert_eq!(row("be", "c")[col("status")], "no check");
    assert_eq!(row("be", "c")[col("bck")], "1");
    assert_eq!(row("be", "a")[col("stot")], "3");
    assert_eq!(row("be", "BACKEND")[col("status")], "UP");
    assert_eq!(row("fe", "FRONTEND")[col("stot")], "3");
    assert_eq!(row("be", "a")[col("type")], "2");
    let html = get_once(addr(&p, "stats"), "/stats").await.unwrap();
    assert!(html.text().contains("<table"));
}

/// Upload side of back-pressure: a server that stops reading the request body stops the
/// client too. The proxy reads from the client only as fast as it writes upstream (one
/// 16 KiB buffer), so what the client can send is bounded by kernel socket buffers, far
/// below the 200 MiB announced.
#[tokio::test]
async fn stalled_server_back_pressures_the_uploader() {
    let s = TestServer::start("s", Behaviour::Stall).await;
    let p = proxy_over(TRANSPORT, &format!(
        "defaults\n mode http\n timeout connect 1s\n timeout client 30s\n timeout server 30s\nfrontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {}\n",
        s.addr
    ))
    .await;
    let mut c = Client::connect(addr(&p, "fe")).await;
    c.send(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 209715200\r\n\r\n")
        .await;
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (_r, mut w) = tokio::io::split(c.stream);
    let counter = sent.clone();
    let writer = tokio::spawn(async move {
        let chunk = vec![b'u'; 1 << 20];
        let mut left = 200usize << 20;
        while left > 0 {
            match w.write(&chunk[..left.min(chunk.len())]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    counter.fetch_add(n as u64, Ordering::SeqCst);
                    left -= n;
                }
            }
        }
    });
    // Wait until the client's writes have stopped moving for a while (bounded).
    let t0 = Instant::now();
    let (mut last, mut still) = (0, 0);
    while still < 5 && t0.elapsed() < T {
        tokio::time::sleep(Duration::from_millis(40)).await;
        let now = sent.load(Ordering::SeqCst);
        if now == last && now > 0 {
            still += 1;
        } else {
            still = 0;
        }
        last = now;
    }
    let stalled_at = sent.load(Ordering::SeqCst);
    eprintln!("client sent {stalled_at} bytes before stalling");
    assert_eq!(
        s.requests.load(Ordering::SeqCst),
        1,
        "the head reached the server"
    );
    assert!(
        stalled_at < 64 << 20,
        "client sent {stalled_at} bytes to a server that reads nothing"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sent.load(Ordering::SeqCst),
        stalled_at,
        "still flowing: no back-pressure"
    );
    writer.abort();
}

/// `option forwardfor` in a frontend only (not in defaults nor the backend) adds the
/// header for that frontend's requests, as HAProxy does; in a backend only, for every
/// frontend using it; in a `listen`, for it; a frontend and backend without it add
/// nothing. (In `defaults`: `acl_routing_and_forwardfor`.)
#[tokio::test]
async fn forwardfor_in_frontend_or_backend_only() {
    let s = TestServer::start("s", Behaviour::Name).await;
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS}frontend with\n bind 127.0.0.1:0\n option forwardfor\n default_backend plain\nfrontend without\n bind 127.0.0.1:0\n default_backend plain\nfrontend via_be\n bind 127.0.0.1:0\n default_backend xff\nbackend plain\n server s {}\nbackend xff\n option forwardfor\n server s {}\nlisten both\n bind 127.0.0.1:0\n option forwardfor\n server s {}\n",
        s.addr, s.addr, s.addr
    ))
    .await;
    let r = get_once(addr(&p, "with"), "/").await.unwrap();
    assert_eq!(r.header("x-xff"), Some("127.0.0.1"));
    let r = get_once(addr(&p, "without"), "/").await.unwrap();
    assert_eq!(r.header("x-xff"), Some("-"));
    let r = get_once(addr(&p, "via_be"), "/").await.unwrap();
    assert_eq!(r.header("x-xff"), Some("127.0.0.1"));
    let r = get_once(addr(&p, "both"), "/").await.unwrap();
    assert_eq!(r.header("x-xff"), Some("127.0.0.1"), "listen");
}

/// ACL `path` (exact match), `hdr(host)` (exact, `-i`) and `use_backend ... unless`.
#[tokio::test]
async fn acl_path_exact_hdr_host_and_unless() {
    let exact = TestServer::start("exact", Behaviour::Name).await;
    let host = TestServer::start("host", Behaviour::Name).await;
    let web = TestServer::start("web", Behaviour::Name).await;
    let admin = TestServer::start("admin", Behaviour::Name).await;
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n acl is_exact path /exact\n acl host_a hdr(host) -i a.example\n acl is_admin path_beg /admin\n use_backend exact if is_exact\n use_backend host if host_a\n use_backend web unless is_admin\n default_backend admin\nbackend exact\n server s {}\nbackend host\n server s {}\nbackend web\n server s {}\nbackend admin\n server s {}\n",
        exact.addr, host.addr, web.addr, admin.addr
    ))
    .await;
    let fe = addr(&p, "fe");
    let ask = |path: &'static str, host: &'static str| async move {
        let mut c = Client::connect(fe).await;
        c.send(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
            .await;
        bounded(c.response(false)).await.unwrap().text()
    };
    // `path` is exact: the query is not part of it, a longer path does not match.
    assert_eq!(ask("/exact", "t").await, "exact");
    assert_eq!(ask("/exact?q=1", "t").await, "exact");
    assert_eq!(ask("/exact/more", "t").await, "web");
    assert_eq!(ask("/exac", "t").await, "web");
    // `hdr(host) -i`: whole value, any case; a longer host does not match.
    assert_eq!(ask("/x", "A.Example").await, "host");
    assert_eq!(ask("/x", "a.example.org").await, "web");
    // `unless is_admin`: everything but /admin*, which falls to the default.
    assert_eq!(ask("/admin/panel", "t").await, "admin");
    assert_eq!(ask("/", "t").await, "web");
}

/// `server ... disabled`: never picked (no connection reaches it); a backend whose only
/// server is disabled answers 503.
#[tokio::test]
async fn disabled_server_takes_no_traffic() {
    let a = TestServer::start("a", Behaviour::Name).await;
    let b = TestServer::start("b", Behaviour::Name).await;
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server a {} disabled\n server b {}\nfrontend fe2\n bind 127.0.0.1:0\n default_backend only\nbackend only\n server a {} disabled\n",
        a.addr, b.addr, a.addr
    ))
    .await;
    for _ in 0..6 {
        assert_eq!(get_once(addr(&p, "fe"), "/").await.unwrap().text(), "b");
    }
    expect_status(addr(&p, "fe2"), b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", 503).await;
    assert_eq!(a.connections.load(Ordering::SeqCst), 0);
    assert_eq!(p.backend("be").await.unwrap().servers[0].status(), "MAINT");
}

/// A frontend's `maxconn 1`: a second client is accepted only when the first leaves,
/// while another frontend without the limit serves at once.
#[tokio::test]
async fn frontend_maxconn_limits_its_clients() {
    let s = TestServer::start("s", Behaviour::Slow(Duration::from_millis(300))).await;
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n maxconn 1\n default_backend be\nfrontend free\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {}\n",
        s.addr
    ))
    .await;
    let took = two_clients_one_after_the_other(addr(&p, "fe"), Duration::from_millis(50)).await;
    assert!(
        took >= Duration::from_millis(550),
        "the second client waited for the first: {took:?}"
    );
    // On the other frontend two clients are served side by side.
    let free = addr(&p, "free");
    let be = p.backend("be").await.unwrap();
    let (t1, t2) = (
        tokio::spawn(get_once(free, "/")),
        tokio::spawn(get_once(free, "/")),
    );
    let t0 = Instant::now();
    while be.servers[0].active() < 2 {
        assert!(
            t0.elapsed() < T,
            "the unlimited frontend serialized its clients"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(bounded(t1).await.unwrap().unwrap().status, 200);
    assert_eq!(bounded(t2).await.unwrap().unwrap().status, 200);
}

/// `option httpclose` (in the frontend or in the backend): each response carries
/// `connection: close`, the client connection is closed, and the server sees
/// `connection: close` and one connection per request.
#[tokio::test]
async fn option_httpclose_closes_both_sides() {
    let s = TestServer::start("s", Behaviour::Count).await;
    let s2 = TestServer::start("s2", Behaviour::Count).await;
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n option httpclose\n default_backend be\nbackend be\n server s {}\nfrontend fe2\n bind 127.0.0.1:0\n default_backend be2\nbackend be2\n option httpclose\n server s {}\n",
        s.addr, s2.addr
    ))
    .await;
    for (fe, srv) in [("fe", &s), ("fe2", &s2)] {
        for i in 0..3 {
            let mut c = Client::connect(addr(&p, fe)).await;
            let r = bounded(c.get("/")).await.unwrap();
            assert_eq!(r.status, 200);
            assert_eq!(r.header("connection"), Some("close"), "{fe}");
            assert!(c.closed().await, "{fe}: client connection closed");
            assert_eq!(srv.connections.load(Ordering::SeqCst), i + 1, "{fe}");
        }
    }
}

/// `timeout connect` expiring: a server whose accept queue is full drops our SYNs, so the
/// connect hangs; each attempt times out, `retries 2` makes three, then 503.
#[tokio::test]
async fn connect_timeout_then_retries_then_503() {
    let (full, fillers) = full_listener();
    let log = SyslogRx::bind().await;
    let p = proxy_over(TRANSPORT, &format!(
        "{} timeout connect 200ms\n timeout client 5s\n timeout server 5s\n retries 2\nfrontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {full}\n",
        log.config("http")
    ))
    .await;
    let t0 = Instant::now();
    expect_status(addr(&p, "fe"), b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", 503).await;
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(600),
        "three connect attempts of 200ms each: {took:?}"
    );
    assert!(took < T, "{took:?}");
    // As HAProxy logs it: connect time unknown, `sC` (connect timeout), 2 retries.
    let line = log.line_with(" fe be/s ").await;
    let f: Vec<&str> = line.split(' ').collect();
    assert!(f[4].starts_with("0/0/-1/-1/"), "{line}");
    assert_eq!(f[5], "503", "{line}");
    assert_eq!(f[9], "sC--", "{line}");
    assert!(f[10].ends_with("/2"), "retries: {line}");
    drop(fillers);
}

/// A server at `maxconn 1` with `maxqueue 1`: the second request waits in the queue, the
/// third finds the queue full and gets 503 at once, long before the first is answered.
#[tokio::test]
async fn full_queue_answers_503_at_once() {
    let s = TestServer::start("s", Behaviour::Slow(Duration::from_millis(1500))).await;
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n timeout queue 10s\n server s {} maxconn 1 maxqueue 1\n",
        s.addr
    ))
    .await;
    let fe = addr(&p, "fe");
    let be = p.backend("be").await.unwrap();
    let t0 = Instant::now();
    let first = tokio::spawn(async move {
        let r = get_once(fe, "/").await;
        (r, Instant::now())
    });
    while be.servers[0].active() == 0 {
        assert!(t0.elapsed() < T, "first request never reached the server");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let second = tokio::spawn(async move { get_once(fe, "/").await });
    while be.servers[0].queued() == 0 {
        assert!(t0.elapsed() < T, "second request never queued");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut c = Client::connect(fe).await;
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").await;
    let r3 = bounded(c.response(false)).await.unwrap();
    let third_done = Instant::now();
    assert_eq!(r3.status, 503);
    let (r1, first_done) = bounded(first).await.unwrap();
    assert_eq!(r1.unwrap().status, 200);
    assert_eq!(bounded(second).await.unwrap().unwrap().status, 200);
    assert!(
        third_done < first_done,
        "the 503 did not wait for the queue"
    );
}

/// `option httpchk GET /health` sends that method and URI: a server answering 200 only to
/// `GET /health` stays UP for it, and goes DOWN for checks with another URI, another method,
/// or HAProxy's default (`OPTIONS /`).
#[tokio::test]
async fn httpchk_sends_the_configured_method_and_uri() {
    let s = TestServer::start("s", Behaviour::Health).await;
    let p = proxy_over(TRANSPORT, &format!(
        "{DEFAULTS}backend good\n option httpchk GET /health\n server s {a} check inter 300ms rise 1 fall 3\nbackend wrong_uri\n option httpchk GET /other\n server s {a} check inter 50ms rise 1 fall 1\nbackend wrong_method\n option httpchk HEAD /health\n server s {a} check inter 50ms rise 1 fall 1\nbackend default\n option httpchk\n server s {a} check inter 50ms rise 1 fall 1\n",
        a = s.addr
    ))
    .await;
    let t0 = Instant::now();
    for name in ["wrong_uri", "wrong_method", "default"] {
        let be = p.backend(name).await.unwrap();
        while be.servers[0].is_up() {
            assert!(t0.elapsed() < T, "{name}: server never went DOWN");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // The good check (fall 3, so a slow machine cannot fail it by chance) stays UP.
    let good = p.backend("good").await.unwrap();
    let seen = s.requests.load(Ordering::SeqCst);
    // Long enough for 4+ checks: a wrong request would have taken it DOWN.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(good.servers[0].is_up(), "GET /health answered 200: UP");
    assert_eq!(good.servers[0].status(), "UP");
    assert!(
        s.requests.load(Ordering::SeqCst) > seen,
        "checks keep running"
    );
}

/// A proxy's own `log` lines: `no log` then a target sends its lines there only; a
/// target beside `log global` sends them to both; `log global` alone to the global ones.
/// A backend's own target gets its servers' state changes.
#[tokio::test]
async fn per_proxy_log_targets() {
    let s = TestServer::start("s", Behaviour::Name).await;
    let global = SyslogRx::bind().await;
    let own = SyslogRx::bind().await;
    let o = own.addr();
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let p = proxy_over(TRANSPORT, &format!(
        "{} timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend fa\n bind 127.0.0.1:0\n default_backend be\n\
         frontend fb\n bind 127.0.0.1:0\n no log\n log {o} local1\n default_backend be\n\
         frontend fc\n bind 127.0.0.1:0\n log {o} local1\n default_backend be\n\
         backend be\n server s {}\n\
         backend bdead\n no log\n log {o} local1\n server d {dead} check inter 100ms fall 1\n",
        global.config("http"),
        s.addr
    ))
    .await;
    let down = own.line_with("Server bdead/d is DOWN").await;
    assert!(down.contains("Layer4 connection problem"), "{down}");
    assert_eq!(get_once(addr(&p, "fb"), "/b").await.unwrap().status, 200);
    let b = own.line_with(" fb be/s ").await;
    assert!(b.contains("\"GET /b HTTP/1.1\""), "{b}");
    assert_eq!(get_once(addr(&p, "fc"), "/c").await.unwrap().status, 200);
    own.line_with(" fc be/s ").await;
    assert_eq!(get_once(addr(&p, "fa"), "/a").await.unwrap().status, 200);
    // The global sink sends in order: the DOWN line and fb's line would have come before
    // fc's and fa's.
    let seen = global.lines_through(" fa be/s ").await;
    assert!(seen.iter().any(|l| l.contains(" fc be/s ")), "{seen:?}");
    assert!(!seen.iter().any(|l| l.contains(" fb be/s ")), "{seen:?}");
    assert!(!seen.iter().any(|l| l.contains("bdead")), "{seen:?}");
}

/// A client that connects and sends nothing gets HAProxy's 408 page when `timeout
/// http-request` expires; with `option http-ignore-probes` the connection is closed
/// silently instead. (An idle keep-alive connection always closes silently:
/// `keep_alive_timeout_closes_idle_clients`.)
#[tokio::test]
async fn silent_new_connection_gets_408_unless_ignore_probes() {
    let s = TestServer::start("s", Behaviour::Name).await;
    let log = SyslogRx::bind().await;
    let p = proxy_over(TRANSPORT, &format!(
        "{} timeout client 5s\n timeout http-request 300ms\nfrontend fe\n bind 127.0.0.1:0\n default_backend be\nfrontend probes\n bind 127.0.0.1:0\n option http-ignore-probes\n default_backend be\nbackend be\n server s {}\n",
        log.config("http"),
        s.addr
    ))
    .await;
    let t0 = Instant::now();
    expect_status(addr(&p, "fe"), b"", 408).await;
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t0.elapsed()
    );
    // HAProxy 2.6 logs `fe fe/<NOSRV> -1/-1/-1/-1/501 408 0 - - cR-- 1/1/0/0/0 0/0
    // "<BADREQ>"` here (with a 500ms timeout): no timer known but the wait in %Ta.
    let line = log.line_with(" fe fe/<NOSRV> ").await;
    let f: Vec<&str> = line.split(' ').collect();
    let ta: u64 = f[4]
        .strip_prefix("-1/-1/-1/-1/")
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap();
    assert!(ta >= 250, "%Ta counts the wait: {line}");
    assert_eq!(f[5], "408", "{line}");
    assert_eq!(f[9], "cR--", "{line}");
    assert!(line.ends_with(" \"<BADREQ>\""), "{line}");
    let mut c = Client::connect(addr(&p, "probes")).await;
    let mut got = Vec::new();
    let n = bounded(c.stream.read_to_end(&mut got)).await;
    assert!(
        n.is_err() || got.is_empty(),
        "closed without an answer: {:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(s.requests.load(Ordering::SeqCst), 0);
}

/// %TR is the time from the first byte of the request to the end of its head, and %Ta
/// includes it (HAProxy's httplog timers): a head sent in two parts 300 ms apart logs a
/// %TR of about 300 ms.
#[tokio::test]
async fn httplog_tr_counts_a_slow_head() {
    let s = TestServer::start("s", Behaviour::Name).await;
    let log = SyslogRx::bind().await;
    let p = proxy_over(TRANSPORT, &format!(
        "{} timeout connect 1s\n timeout client 5s\n timeout server 5s\nfrontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {}\n",
        log.config("http"),
        s.addr
    ))
    .await;
    let mut c = Client::connect(addr(&p, "fe")).await;
    // A first request that comes in one read: %TR about 0.
    assert_eq!(bounded(c.get("/fast")).await.unwrap().status, 200);
    c.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.send(b"\r\n").await;
    assert_eq!(bounded(c.response(false)).await.unwrap().status, 200);
    let timers = |line: &str| -> Vec<i64> {
        line.split(' ')
            .nth(4)
            .unwrap()
            .split('/')
            .map(|t| t.parse().unwrap())
            .collect()
    };
    let fast = log.line_with("\"GET /fast ").await;
    assert!(timers(&fast)[0] < 250, "{fast}");
    let slow = log.line_with("\"GET /slow ").await;
    let t = timers(&slow);
    assert!(t[0] >= 250, "%TR: {slow}");
    assert!(
        t[4] >= t[0] + t[1] + t[2] + t[3],
        "%Ta covers the rest: {slow}"
    );
}

/// A reload while a response body is still flowing: that response promised keep-alive, so
/// the connection stays open for the client's next request, which is answered (on the
/// configuration the connection started with, as HAProxy's old process would, with
/// `connection: close`) instead of finding the connection closed.
#[tokio::test]
async fn reload_during_a_response_body_keeps_its_promise() {
    let old = TestServer::start("old", Behaviour::Big(32 << 20)).await;
    let new = TestServer::start("new", Behaviour::Name).await;
    let cfg = |s: std::net::SocketAddr| {
        format!("{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {s}\n")
    };
    let p = proxy_over(TRANSPORT, &cfg(old.addr)).await;
    let mut c = Client::connect(addr(&p, "fe")).await;
    c.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n").await;
    // Read only the head: the 32 MiB body (more than socket buffers hold) stalls.
    let mut head = Vec::new();
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut b = [0u8; 1];
        assert_eq!(bounded(c.stream.read(&mut b)).await.unwrap(), 1);
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");
    p.reload_text(&cfg(new.addr)).await.unwrap();
    let mut left = 32u64 << 20;
    let mut b = vec![0u8; 64 * 1024];
    while left > 0 {
        let n = bounded(c.stream.read(&mut b)).await.unwrap();
        assert!(n > 0, "body cut short");
        left -= n as u64;
    }
    // Served on the configuration the connection was accepted in, then closed.
    let r = bounded(c.response_to(b"GET /again HTTP/1.1\r\nHost: t\r\n\r\n"))
        .await
        .expect("next request answered");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), (32u64 << 20).to_string());
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed().await);
    assert_eq!(get_once(addr(&p, "fe"), "/").await.unwrap().text(), "new");
}
