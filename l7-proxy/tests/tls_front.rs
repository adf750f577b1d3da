//! TLS termination with real clients: curl (HTTP/1.1 and HTTP/2), openssl s_client (SNI,
//! versions, suites, resumption, a key that does not match), HTTPS backends, client
//! certificates, and hostile handshakes.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::pki::{Alg, Pki};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// A proxy with one `ssl` bind in front of one plain backend, and the PKI it uses.
struct Site {
    pki: Pki,
    server: TestServer,
    proxy: TestProxy,
    port: u16,
}

/// `crt` names a leaf for `site.test` (ECDSA P-256) unless `bind_opts` names its own.
async fn site(b: Behaviour, bind_opts: &str, fe_lines: &str) -> Site {
    let pki = Pki::new();
    let crt = pki.leaf("site.pem", &["site.test", "127.0.0.1"], Alg::EcdsaP256);
    let server = TestServer::start("s", b).await;
    let bind_opts = bind_opts.replace("{crt}", &crt.display().to_string());
    let proxy = proxy(&format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0 ssl {bind_opts}\n{fe_lines} default_backend be\nbackend be\n server s {}\n",
        server.addr
    ))
    .await;
    let port = addr(&proxy, "fe").addr.port();
    Site {
        pki,
        server,
        proxy,
        port,
    }
}

impl Site {
    /// curl to `https://site.test:PORT{path}` with `args`; (ok, head and body, stderr).
    async fn curl(&self, path: &str, args: &[&str]) -> (bool, String, String) {
        let curl = tool("curl").unwrap();
        run_tool(
            Command::new(curl)
                .args(["-sS", "-D", "-", "--max-time", "10", "--cacert"])
                .arg(&self.pki.ca)
                .args(["--resolve", &format!("site.test:{}:127.0.0.1", self.port)])
                .args(args)
                .arg(format!("https://site.test:{}{path}", self.port)),
        )
        .await
    }

    /// openssl s_client with `args`; (ok, stdout + stderr).
    async fn s_client(&self, args: &[&str]) -> (bool, String) {
        s_client(self.port, &self.pki.ca, args).await
    }
}

async fn s_client(port: u16, ca: &PathBuf, args: &[&str]) -> (bool, String) {
    let openssl = tool("openssl").unwrap();
    let (ok, out, err) = run_tool(
        Command::new(openssl)
            .args([
                "s_client",
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-CAfile",
            ])
            .arg(ca)
            .args(["-verify_return_error", "-brief"])
            .args(args),
    )
    .await;
    (ok, format!("{out}{err}"))
}

/// s_client kept connected for a moment, so it reads what the server sends after the
/// handshake (TLS 1.3 session tickets, RFC 8446 §4.6.1); its long output says `Reused`.
async fn s_client_lingering(port: u16, ca: &PathBuf, args: &[&str]) -> (bool, String) {
    let openssl = tool("openssl").unwrap();
    let mut child = Command::new(openssl)
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-CAfile",
        ])
        .arg(ca)
        .arg("-verify_return_error")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdin = child.stdin.take();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(stdin);
    let out = bounded(child.wait_with_output()).await.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The subject CN s_client printed for the server's certificate.
fn peer_cn(out: &str) -> Option<String> {
    out.lines()
        .find_map(|l| l.strip_prefix("Peer certificate: "))
        .and_then(|s| s.split("CN = ").nth(1))
        .map(|s| s.split(',').next().unwrap_or(s).trim().to_string())
}

#[tokio::test]
async fn curl_over_http11_and_http2_with_forwarded_headers() {
    if tool("curl").is_none() {
        return;
    }
    let s = site(
        Behaviour::Count,
        "crt {crt} alpn h2,http/1.1",
        " option forwardfor\n http-request set-header X-Forwarded-Proto https if { ssl_fc }\n",
    )
    .await;
    for (flag, version) in [("--http1.1", "HTTP/1.1 200"), ("--http2", "HTTP/2 200")] {
        let (ok, out, err) = s.curl("/hello?x=1", &[flag]).await;
        assert!(ok, "{flag}: {err}");
        assert!(out.starts_with(version), "{flag}: {out}");
        assert!(out.contains("x-xfp: https"), "{flag}: {out}");
        assert!(out.contains("x-xff: 127.0.0.1"), "{flag}: {out}");
        assert!(out.contains("x-path: /hello?x=1"), "{flag}: {out}");
        assert!(out.contains("x-host: site.test:"), "{flag}: {out}");
    }
    // A request body over HTTP/2, without a length (curl sends one; -H drops it, making the
    // proxy re-frame the body as chunked for the server) and with one.
    let body = s.pki.file("body", &"z".repeat(300_000));
    let data = format!("@{}", body.display());
    for extra in [&["-H", "content-length:"][..], &[]] {
        let mut args = vec!["--http2", "--data-binary", &data];
        args.extend_from_slice(extra);
        let (ok, out, err) = s.curl("/up", &args).await;
        assert!(ok, "{err}");
        assert!(out.contains("x-body-len: 300000"), "{extra:?}: {out}");
    }
    assert_eq!(s.server.requests.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn http2_streams_big_and_chunked_responses() {
    if tool("curl").is_none() {
        return;
    }
    for (b, len) in [
        (Behaviour::Big(5 << 20), 5 << 20),
        (Behaviour::Chunked(300), 300_000),
    ] {
        let s = site(b, "crt {crt} alpn h2,http/1.1", "").await;
        let out_file = s.pki.dir.path().join("out");
        let out = out_file.display().to_string();
        let (ok, head, err) = s.curl("/big", &["--http2", "-o", &out]).await;
        assert!(ok, "{err}");
        assert!(head.starts_with("HTTP/2 200"), "{head}");
        assert!(!head.contains("transfer-encoding"), "{head}");
        assert_eq!(std::fs::metadata(&out_file).unwrap().len(), len);
    }
}

#[tokio::test]
async fn nghttp_multiplexes_streams_on_one_connection() {
    let Some(nghttp) = tool("nghttp") else {
        return;
    };
    let s = site(
        Behaviour::Slow(Duration::from_millis(200)),
        "crt {crt} alpn h2",
        "",
    )
    .await;
    let url = format!("https://127.0.0.1:{}/m", s.port);
    let t0 = Instant::now();
    let (ok, out, err) = run_tool(Command::new(nghttp).args(["-n", "-s", "-m", "20", &url])).await;
    assert!(ok, "{out}{err}");
    // Twenty 200 ms requests at once: concurrent streams, not one after the other.
    assert!(
        t0.elapsed() < Duration::from_millis(2500),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(s.server.requests.load(Ordering::SeqCst), 20);
    assert_eq!(out.matches("/m").count(), 20, "{out}");
}

#[tokio::test]
async fn sni_picks_exact_then_wildcard_then_the_first_certificate() {
    if tool("openssl").is_none() {
        return;
    }
    let pki = Pki::new();
    let dir = pki.dir.path().join("certs");
    std::fs::create_dir(&dir).unwrap();
    // Loaded in file-name order: a-default.pem comes first.
    let _ = pki.leaf("certs/a-default.pem", &["default.test"], Alg::Rsa2048);
    let _ = pki.leaf("certs/b-wild.pem", &["*.wild.test"], Alg::EcdsaP384);
    let _ = pki.leaf("certs/c-exact.pem", &["exact.test"], Alg::Ed25519);
    let server = TestServer::start("s", Behaviour::Name).await;
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0 ssl crt {}\n default_backend be\nfrontend strict\n bind 127.0.0.1:0 ssl crt {} strict-sni\n default_backend be\nbackend be\n server s {}\n",
        dir.display(),
        dir.display(),
        server.addr
    ))
    .await;
    let port = addr(&p, "fe").addr.port();
    let cn = |args: &'static [&'static str]| {
        let ca = pki.ca.clone();
        async move { peer_cn(&s_client(port, &ca, args).await.1) }
    };
    assert_eq!(
        cn(&["-servername", "exact.test"]).await.as_deref(),
        Some("exact.test")
    );
    assert_eq!(
        cn(&["-servername", "a.wild.test"]).await.as_deref(),
        Some("*.wild.test")
    );
    assert_eq!(
        cn(&["-servername", "other.test"]).await.as_deref(),
        Some("default.test")
    );
    assert_eq!(
        cn(&["-noservername"]).await.as_deref(),
        Some("default.test")
    );
    // strict-sni: no certificate for the name, no handshake.
    let strict = addr(&p, "strict").addr.port();
    let (ok, out) = s_client(strict, &pki.ca, &["-servername", "other.test"]).await;
    assert!(!ok, "{out}");
    let (ok, out) = s_client(strict, &pki.ca, &["-servername", "exact.test"]).await;
    assert!(ok, "{out}");
}

#[tokio::test]
async fn versions_and_suites_are_honoured() {
    if tool("openssl").is_none() {
        return;
    }
    let s = site(Behaviour::Name, "crt {crt} ssl-min-ver TLSv1.3", "").await;
    let (ok, out) = s.s_client(&["-tls1_2"]).await;
    assert!(!ok, "TLS 1.2 refused: {out}");
    let (ok, out) = s.s_client(&["-tls1_3"]).await;
    assert!(ok && out.contains("TLSv1.3"), "{out}");
    let s = site(
        Behaviour::Name,
        "crt {crt} ssl-max-ver TLSv1.2 ciphers ECDHE-ECDSA-AES256-GCM-SHA384",
        "",
    )
    .await;
    let (ok, out) = s.s_client(&["-tls1_3"]).await;
    assert!(!ok, "TLS 1.3 refused: {out}");
    let (ok, out) = s
        .s_client(&["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"])
        .await;
    assert!(!ok, "a suite left out is refused: {out}");
    let (ok, out) = s.s_client(&["-tls1_2"]).await;
    assert!(ok && out.contains("ECDHE-ECDSA-AES256-GCM-SHA384"), "{out}");
}

#[tokio::test]
async fn sessions_resume_by_ticket_and_by_id() {
    if tool("openssl").is_none() {
        return;
    }
    let s = site(Behaviour::Name, "crt {crt}", "").await;
    let sess = s.pki.dir.path().join("sess").display().to_string();
    for version in [&["-tls1_3"][..], &["-tls1_2"], &["-tls1_2", "-no_ticket"]] {
        let mut first = vec!["-sess_out", &sess];
        first.extend_from_slice(version);
        let (ok, out) = s_client_lingering(s.port, &s.pki.ca, &first).await;
        assert!(ok, "{out}");
        let mut again = vec!["-sess_in", &sess];
        again.extend_from_slice(version);
        let (ok, out) = s_client_lingering(s.port, &s.pki.ca, &again).await;
        assert!(ok && out.contains("Reused"), "{version:?}: {out}");
    }
}

#[tokio::test]
async fn a_bad_key_is_refused_naming_the_file_and_a_reload_keeps_the_old_certificate() {
    if tool("openssl").is_none() {
        return;
    }
    let pki = Pki::new();
    let (cert, _) = pki.authority.leaf_pem(&["site.test"], Alg::EcdsaP256);
    let (_, other_key) = pki.authority.leaf_pem(&["site.test"], Alg::EcdsaP256);
    let bad = pki.file("bad.pem", &format!("{cert}{other_key}"));
    let server = TestServer::start("s", Behaviour::Name).await;
    let cfg = |crt: &std::path::Path| {
        let text = format!(
            "{DEFAULTS}frontend fe\n bind 127.0.0.1:0 ssl crt {}\n default_backend be\nbackend be\n server s {}\n",
            crt.display(),
            server.addr
        );
        l7_proxy::config::parse_str("t.cfg", &text).unwrap().config
    };
    let e = l7_proxy::Proxy::start(&cfg(&bad))
        .await
        .expect_err("refused");
    assert!(
        e.to_string().contains("bad.pem") && e.to_string().contains("does not match"),
        "{e}"
    );
    let missing = pki.dir.path().join("missing.pem");
    let e = l7_proxy::Proxy::start(&cfg(&missing))
        .await
        .expect_err("refused");
    assert!(e.to_string().contains("missing.pem"), "{e}");
    // Running with a good certificate; a reload with a bad key keeps serving it.
    let good = pki.leaf("good.pem", &["first.test"], Alg::EcdsaP256);
    let p = l7_proxy::Proxy::start(&cfg(&good)).await.unwrap();
    let port = p.local_addrs("fe")[0].port();
    let e = p.reload(&cfg(&bad)).await.expect_err("reload refused");
    assert!(e.to_string().contains("bad.pem"), "{e}");
    let (ok, out) = s_client(port, &pki.ca, &["-servername", "first.test"]).await;
    assert!(
        ok && peer_cn(&out).as_deref() == Some("first.test"),
        "{out}"
    );
    // A good new certificate is picked up by a reload, on the same listener.
    let renewed = pki.leaf("renewed.pem", &["second.test"], Alg::EcdsaP256);
    p.reload(&cfg(&renewed)).await.unwrap();
    assert_eq!(p.local_addrs("fe")[0].port(), port);
    let (ok, out) = s_client(port, &pki.ca, &["-servername", "second.test"]).await;
    assert!(
        ok && peer_cn(&out).as_deref() == Some("second.test"),
        "{out}"
    );
}

#[tokio::test]
async fn garbage_and_silent_handshakes_are_counted_and_closed() {
    let s = site(Behaviour::Name, "crt {crt}", "").await;
    let fe = addr(&s.proxy, "fe");
    // Not TLS at all: an HTTP request on the TLS port.
    let mut c = tokio::net::TcpStream::connect(fe.addr).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut b = Vec::new();
    let _ = bounded(c.read_to_end(&mut b)).await;
    assert!(
        !String::from_utf8_lossy(&b).contains("HTTP/1.1"),
        "no HTTP answer on a TLS port"
    );
    // A handshake record of garbage.
    let mut c = tokio::net::TcpStream::connect(fe.addr).await.unwrap();
    c.write_all(b"\x16\x03\x01\x00\x08garbage!").await.unwrap();
    let _ = bounded(c.read_to_end(&mut b)).await;
    // Silent: closed at `timeout client` (5 s in DEFAULTS).
    let t0 = Instant::now();
    let mut c = tokio::net::TcpStream::connect(fe.addr).await.unwrap();
    let n = bounded(c.read(&mut [0u8; 16])).await.unwrap_or(0);
    assert_eq!(n, 0);
    assert!(t0.elapsed() >= Duration::from_secs(4), "{:?}", t0.elapsed());
    let counters = &s.proxy.frontend("fe").await.unwrap().counters;
    assert_eq!(counters.tls_failures.load(Ordering::Relaxed), 3);
    assert_eq!(s.server.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn plain_requests_are_redirected_to_https() {
    let server = TestServer::start("s", Behaviour::Name).await;
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n http-request redirect scheme https code 301 unless {{ ssl_fc }}\n default_backend be\nbackend be\n server s {}\n",
        server.addr
    ))
    .await;
    let mut c = Client::connect(addr(&p, "fe")).await;
    c.send(b"GET /a/b?c=1 HTTP/1.1\r\nHost: www.example.test\r\n\r\n")
        .await;
    let r = bounded(c.response(false)).await.unwrap();
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some("https://www.example.test/a/b?c=1")
    );
    // The connection stays usable: a redirect has no body to skip.
    c.send(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").await;
    assert_eq!(bounded(c.response(false)).await.unwrap().status, 301);
    assert_eq!(server.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn https_backends_are_verified_as_configured() {
    let pki = Pki::new();
    let stranger = Pki::new();
    let tls = pki.authority.server(&["backend.test"]);
    let backend = TestServer::start_tls("b", Behaviour::Name, tls).await;
    let ca = pki.ca.display().to_string();
    let wrong_ca = stranger.ca.display().to_string();
    let cases = [
        (
            format!("ssl verify required ca-file {ca} sni str(backend.test)"),
            200,
            "backend.test",
        ),
        (
            format!("ssl ca-file {ca} verifyhost backend.test"),
            200,
            "-",
        ),
        ("ssl verify none".to_string(), 200, "-"),
        (
            "ssl verify none sni req.hdr(host)".to_string(),
            200,
            "backend.test",
        ),
        (
            format!("ssl ca-file {wrong_ca} sni str(backend.test)"),
            503,
            "",
        ),
        (format!("ssl ca-file {ca} sni str(other.test)"), 503, ""),
    ];
    for (opts, status, sni) in cases {
        let p = proxy(&format!(
            "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n retries 0\n server s {} {opts}\n",
            backend.addr
        ))
        .await;
        let mut c = Client::connect(addr(&p, "fe")).await;
        c.send(b"GET / HTTP/1.1\r\nHost: backend.test\r\n\r\n")
            .await;
        let r = bounded(c.response(false)).await.unwrap();
        assert_eq!(r.status, status, "{opts}");
        if status == 200 {
            assert_eq!(r.header("x-backend-sni"), Some(sni), "{opts}");
            // The TLS connection to the server is pooled and reused.
            c.send(b"GET / HTTP/1.1\r\nHost: backend.test\r\n\r\n")
                .await;
            assert_eq!(bounded(c.response(false)).await.unwrap().status, 200);
        }
    }
}

#[tokio::test]
async fn client_certificates_are_required_when_asked() {
    if tool("curl").is_none() {
        return;
    }
    let pki = Pki::new();
    let crt = pki.leaf("site.pem", &["site.test"], Alg::EcdsaP256);
    let client = pki.leaf("client.pem", &["client.test"], Alg::EcdsaP256);
    let server = TestServer::start("s", Behaviour::Name).await;
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0 ssl crt {} verify required ca-file {}\n default_backend be\nbackend be\n server s {}\n",
        crt.display(),
        pki.ca.display(),
        server.addr
    ))
    .await;
    let s = Site {
        port: addr(&p, "fe").addr.port(),
        pki,
        server,
        proxy: p,
    };
    let (ok, _, err) = s.curl("/", &[]).await;
    assert!(!ok, "no client certificate: refused ({err})");
    let cert = client.display().to_string();
    let (ok, out, err) = s.curl("/", &["--cert", &cert, "--key", &cert]).await;
    assert!(ok && out.starts_with("HTTP/1.1 200"), "{out}{err}");
    assert_eq!(s.server.requests.load(Ordering::SeqCst), 1);
}

/// `ssl` servers are checked over TLS (HAProxy's default `check-ssl`): an HTTP check
/// through the server's TLS settings passes; with `no-check-ssl` the same check speaks
/// plain HTTP to the TLS port and fails.
#[tokio::test]
async fn checks_of_ssl_servers_run_over_tls() {
    let pki = Pki::new();
    let backend = TestServer::start_tls(
        "b",
        Behaviour::Health,
        pki.authority.server(&["backend.test"]),
    )
    .await;
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n option httpchk GET /health\n http-check expect status 200\n\
         server tls {0} ssl ca-file {1} sni str(backend.test) check inter 100ms rise 1 fall 1\n\
         server plain {0} ssl ca-file {1} sni str(backend.test) check inter 100ms rise 1 fall 1 no-check-ssl\n",
        backend.addr,
        pki.ca.display()
    ))
    .await;
    let be = p.backend("be").await.unwrap();
    let t0 = Instant::now();
    while !be.servers[0].is_up() || be.servers[1].is_up() {
        assert!(
            t0.elapsed() < T,
            "tls UP and plain DOWN: {} {}",
            be.servers[0].status(),
            be.servers[1].status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        backend.requests.load(Ordering::SeqCst) >= 1,
        "the TLS check reached the server"
    );
    // Several check rounds later the TLS-checked server is still UP.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(be.servers[0].is_up());
    assert!(backend.requests.load(Ordering::SeqCst) >= 3);
}

/// TCP mode behind `ssl`: TLS offload, and `use_backend` by the SNI the client sent.
#[tokio::test]
async fn tcp_mode_offloads_tls_and_routes_by_sni() {
    let pki = Pki::new();
    let crt = pki.leaf("site.pem", &["a.test", "b.test"], Alg::EcdsaP256);
    let a = TestServer::start("a", Behaviour::Echo).await;
    let b = TestServer::start("b", Behaviour::Echo).await;
    let p = proxy(&format!(
        "defaults\n mode tcp\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend fe\n bind 127.0.0.1:0 ssl crt {}\n use_backend bb if {{ ssl_fc_sni b.test }}\n default_backend ba\n\
         backend ba\n server s {}\nbackend bb\n server s {}\n",
        crt.display(),
        a.addr,
        b.addr
    ))
    .await;
    let fe = addr(&p, "fe").addr;
    for (name, server) in [("a.test", &a), ("b.test", &b)] {
        let tcp = tokio::net::TcpStream::connect(fe).await.unwrap();
        let c = tokio_rustls::TlsConnector::from(pki.authority.client(&[]));
        let sni = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
        let mut t = bounded(c.connect(sni, tcp)).await.unwrap();
        t.write_all(b"ping").await.unwrap();
        t.flush().await.unwrap();
        let mut got = [0u8; 4];
        bounded(t.read_exact(&mut got)).await.unwrap();
        assert_eq!(&got, b"ping");
        assert_eq!(
            server.connections.load(Ordering::SeqCst),
            1,
            "{name} went to its backend"
        );
    }
}
