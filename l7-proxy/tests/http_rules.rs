//! `http-request` / `http-response` rules, `redirect`, `errorfile`, `tcp-request` rules and
//! `stats auth` against real backends: what each keyword promises, on the wire.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;

use common::*;

/// Frontend `fe` with `lines`, in front of one server.
async fn with_rules(b: Behaviour, lines: &str) -> (TestServer, TestProxy) {
    let s = TestServer::start("s", b).await;
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n{lines} default_backend be\nbackend be\n server s {}\n",
        s.addr
    ))
    .await;
    (s, p)
}

async fn request(p: &TestProxy, raw: &str) -> Response {
    let mut c = Client::connect(addr(p, "fe")).await;
    c.send(raw.as_bytes()).await;
    bounded(c.response(false)).await.unwrap()
}

#[tokio::test]
async fn header_rules_with_samples_edit_requests_and_responses() {
    std::env::set_var("HALB_RULES_TEST_NODE", "node-7");
    let (s, p) = with_rules(
        Behaviour::Name,
        " http-request set-header X-Forwarded-For %[src]\n http-request add-header X-Node %[env(HALB_RULES_TEST_NODE)]\n\
          http-request set-header X-Host-Copy %[req.hdr(host),upper]\n http-request del-header X-Secret\n\
          http-request set-header X-Proto http unless { ssl_fc }\n\
          http-response set-header X-Frame-Options DENY\n http-response del-header x-server\n",
    )
    .await;
    let r = request(
        &p,
        "GET /a HTTP/1.1\r\nHost: app.test\r\nX-Secret: s3\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 200);
    // The test backend echoes X-Forwarded-For and Host; a forged XFF is replaced.
    assert_eq!(r.header("x-xff"), Some("127.0.0.1"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("x-server"), None, "removed from the response");
    assert_eq!(s.requests.load(Ordering::SeqCst), 1);
    // What the server received, through a backend that reports every header it got.
    let echo = TestServer::start("e", Behaviour::Headers).await;
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n http-request add-header X-Node %[env(HALB_RULES_TEST_NODE)]\n http-request set-header X-Host-Copy %[req.hdr(host),upper]\n http-request del-header X-Secret\n default_backend be\nbackend be\n http-request set-header X-Backend be\n server s {}\n",
        echo.addr
    ))
    .await;
    let r = request(
        &p,
        "GET / HTTP/1.1\r\nHost: app.test\r\nX-Secret: s3\r\n\r\n",
    )
    .await;
    let got = r.text();
    assert!(got.contains("x-node: node-7\n"), "{got}");
    assert!(got.contains("x-host-copy: APP.TEST\n"), "{got}");
    assert!(
        got.contains("x-backend: be\n"),
        "backend rules run too: {got}"
    );
    assert!(!got.to_ascii_lowercase().contains("x-secret"), "{got}");
}

#[tokio::test]
async fn deny_return_and_allow() {
    let (s, p) = with_rules(
        Behaviour::Name,
        " acl lan src 198.18.0.0/15\n http-request allow if { path /open }\n\
          http-request deny deny_status 429 if { path_beg /admin } !lan\n\
          http-request return status 200 content-type text/plain string ok if { path /health }\n\
          http-request deny if { hdr(x-evil) -m found }\n",
    )
    .await;
    let r = request(&p, "GET /admin/x HTTP/1.1\r\nHost: h\r\n\r\n").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("connection"), Some("close"));
    let r = request(&p, "GET /health HTTP/1.1\r\nHost: h\r\n\r\n").await;
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    let r = request(&p, "GET /x HTTP/1.1\r\nHost: h\r\nX-Evil: 1\r\n\r\n").await;
    assert_eq!(r.status, 403);
    // `allow` ends the list: the later deny does not apply.
    let r = request(&p, "GET /open HTTP/1.1\r\nHost: h\r\nX-Evil: 1\r\n\r\n").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        s.requests.load(Ordering::SeqCst),
        1,
        "only the allowed request went on"
    );
    let fe = p.frontend("fe").await.unwrap();
    assert_eq!(fe.counters.traffic.denied_req.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn redirects_as_haproxy_builds_them() {
    let (_s, p) = with_rules(
        Behaviour::Name,
        " redirect prefix https://new.test code 308 if { hdr(host) -i old.test }\n\
          redirect location /login drop-query set-cookie SEEN=1 if { path /account }\n\
          http-request redirect prefix / append-slash drop-query if { path /dir }\n",
    )
    .await;
    let r = request(&p, "GET /a?b=1 HTTP/1.1\r\nHost: old.test\r\n\r\n").await;
    assert_eq!(
        (r.status, r.header("location")),
        (308, Some("https://new.test/a?b=1"))
    );
    let r = request(&p, "GET /account?x=1 HTTP/1.1\r\nHost: h\r\n\r\n").await;
    assert_eq!((r.status, r.header("location")), (302, Some("/login")));
    assert_eq!(r.header("set-cookie"), Some("SEEN=1; path=/"));
    let r = request(&p, "GET /dir?x=1 HTTP/1.1\r\nHost: h\r\n\r\n").await;
    assert_eq!(r.header("location"), Some("/dir/"));
}

#[tokio::test]
async fn errorfiles_replace_the_builtin_pages() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("503.http");
    std::fs::write(&page, "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 9\r\nconnection: close\r\n\r\nmaint now").unwrap();
    let p = proxy(&format!(
        "{DEFAULTS} errorfile 503 {}\nfrontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n",
        page.display()
    ))
    .await;
    let r = request(&p, "GET / HTTP/1.1\r\nHost: h\r\n\r\n").await;
    assert_eq!((r.status, r.text().as_str()), (503, "maint now"));
    // Not a response at all: refused at load, naming the file.
    std::fs::write(&page, "maintenance!").unwrap();
    let e = l7_proxy::config::parse_str(
        "t.cfg",
        &format!("defaults\n errorfile 503 {}\n", page.display()),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("t.cfg:2:") && e.contains("503.http"), "{e}");
}

#[tokio::test]
async fn tcp_request_rules_accept_or_reject_connections() {
    let (s, p) = with_rules(
        Behaviour::Name,
        " tcp-request connection reject if { src 127.0.0.2 }\n tcp-request connection accept if { src 127.0.0.0/8 }\n tcp-request connection reject\n",
    )
    .await;
    assert_eq!(get_once(addr(&p, "fe"), "/").await.unwrap().status, 200);
    // From 127.0.0.2: closed before any byte.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut c = bounded(sock.connect(addr(&p, "fe").addr)).await.unwrap();
    let mut b = Vec::new();
    let _ = tokio::io::AsyncWriteExt::write_all(&mut c, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").await;
    let _ = bounded(tokio::io::AsyncReadExt::read_to_end(&mut c, &mut b)).await;
    assert!(b.is_empty());
    assert_eq!(s.requests.load(Ordering::SeqCst), 1);
    let fe = p.frontend("fe").await.unwrap();
    assert_eq!(fe.counters.denied_conn.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn stats_auth_asks_for_credentials_with_the_realm() {
    let p = proxy(&format!(
        "{DEFAULTS}listen stats\n bind 127.0.0.1:0\n stats enable\n stats uri /stats\n stats realm Ops\\ only\n stats auth admin:s3cret\n stats auth ro:ro\n"
    ))
    .await;
    let get = |auth: &str| {
        let raw = format!("GET /stats;csv HTTP/1.1\r\nHost: h\r\n{auth}\r\n");
        let fe = addr(&p, "stats");
        async move {
            let mut c = Client::connect(fe).await;
            c.send(raw.as_bytes()).await;
            bounded(c.response(false)).await.unwrap()
        }
    };
    let r = get("").await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"Ops only\"")
    );
    // admin:wrong, then admin:s3cret and ro:ro (RFC 7617 Basic).
    assert_eq!(
        get("Authorization: Basic YWRtaW46d3Jvbmc=\r\n")
            .await
            .status,
        401
    );
    let r = get("Authorization: Basic YWRtaW46czNjcmV0\r\n").await;
    assert_eq!(r.status, 200);
    assert!(r.text().starts_with("# pxname,svname,"));
    assert_eq!(get("authorization: basic cm86cm8=\r\n").await.status, 200);
}
