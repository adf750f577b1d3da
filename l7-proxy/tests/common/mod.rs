//! Test harness: real TCP backends (plain or TLS), a raw HTTP/1.1 client (plain or TLS),
//! and a proxy started from text.
#![allow(dead_code, clippy::unwrap_used)]

pub mod pki;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use l7_proxy::config::parse_str;
use l7_proxy::net::Stream;
use l7_proxy::Proxy;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Every network wait in the tests is bounded by this.
pub const T: Duration = Duration::from_secs(10);

pub async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(T, f)
        .await
        .expect("test step timed out")
}

/// What a test backend does with each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// 200 with body = server name, after reading the request body.
    Name,
    /// 200 with `x-body-len` = bytes of request body received; also echoes some headers.
    Count,
    /// 200 with a `n`-byte body, streamed in 64 KiB writes; counts bytes written.
    Big(u64),
    /// 200 with a chunked body of `n` chunks of 1000 bytes.
    Chunked(u32),
    /// HTTP/1.0-style response: no length, body until close.
    UntilClose,
    /// Answers like `Name`, then closes without warning (an idle-timeout server).
    CloseAfter,
    /// Sleeps, answers like `Name`, then closes without warning: overlapping requests leave
    /// several connections the server has closed.
    SlowThenClose(Duration),
    /// 200 announcing a `n`-byte body, sends `k` bytes of it, then closes.
    Truncated(u64, u64),
    /// Answers 413 right after the head, without reading the body, and closes.
    EarlyReject,
    /// Sleeps, then answers like `Name`.
    Slow(Duration),
    /// Accepts and reads but never answers.
    Silent,
    /// Reads the request head, then neither reads the body nor answers.
    Stall,
    /// A health endpoint: 200 to `GET /health` only, 404 to any other method or path.
    Health,
    /// Answers 101 to an upgrade, then echoes bytes.
    Upgrade,
    /// Raw TCP echo (no HTTP).
    Echo,
    /// 200 with the request's header fields as the body, `name: value` a line (names
    /// lower-cased).
    Headers,
}

pub struct TestServer {
    pub name: String,
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    pub requests: Arc<AtomicUsize>,
    /// Requests whose body was read in full (those the server acts on).
    pub answered: Arc<AtomicUsize>,
    pub written: Arc<AtomicU64>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl TestServer {
    pub async fn start(name: &str, b: Behaviour) -> TestServer {
        Self::start_on("127.0.0.1:0".parse().unwrap(), name, b).await
    }

    pub async fn start_on(addr: SocketAddr, name: &str, b: Behaviour) -> TestServer {
        Self::start_with(addr, name, b, None).await
    }

    /// A backend speaking TLS with `tls` (it adds `x-backend-sni` to its answers).
    pub async fn start_tls(name: &str, b: Behaviour, tls: Arc<rustls::ServerConfig>) -> TestServer {
        Self::start_with("127.0.0.1:0".parse().unwrap(), name, b, Some(tls)).await
    }

    async fn start_with(
        addr: SocketAddr,
        name: &str,
        b: Behaviour,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> TestServer {
        let l = TcpListener::bind(addr).await.unwrap();
        let addr = l.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let written = Arc::new(AtomicU64::new(0));
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (c, r, w, t, n) = (
            connections.clone(),
            (requests.clone(), answered.clone()),
            written.clone(),
            tasks.clone(),
            name.to_string(),
        );
        let accept = tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let (r, w, n) = (r.clone(), w.clone(), n.clone());
                let tls = tls.clone();
                let h = tokio::spawn(async move {
                    let _ = s.set_nodelay(true);
                    match tls {
                        None => {
                            let _ = serve_conn(s, b, &n, "", &r, &w).await;
                        }
                        Some(cfg) => {
                            let Ok(t) = tokio_rustls::TlsAcceptor::from(cfg).accept(s).await else {
                                return;
                            };
                            let sni = t.get_ref().1.server_name().unwrap_or("-").to_string();
                            let _ =
                                serve_conn(t, b, &n, &format!("x-backend-sni: {sni}\r\n"), &r, &w)
                                    .await;
                        }
                    }
                });
                t.lock().unwrap().push(h);
            }
        });
        TestServer {
            name: name.to_string(),
            addr,
            connections,
            requests,
            answered,
            written,
            tasks,
            accept,
        }
    }

    /// Simulates the server dying: closes the listener and resets every connection.
    pub fn kill(&self) {
        self.accept.abort();
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn serve_conn<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    b: Behaviour,
    name: &str,
    conn_extra: &str,
    (reqs, answered): &(Arc<AtomicUsize>, Arc<AtomicUsize>),
    written: &AtomicU64,
) -> std::io::Result<()> {
    if b == Behaviour::Echo {
        let (mut r, mut w) = tokio::io::split(s);
        tokio::io::copy(&mut r, &mut w).await?;
        w.shutdown().await?;
        return Ok(());
    }
    let mut buf = Vec::new();
    loop {
        let Some(head) = read_head(&mut s, &mut buf).await? else {
            return Ok(());
        };
        reqs.fetch_add(1, Ordering::SeqCst);
        if b == Behaviour::Stall {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Ok(());
        }
        if b == Behaviour::EarlyReject {
            s.write_all(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 8\r\nconnection: close\r\n\r\ntoo big!")
                .await?;
            s.flush().await?;
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Ok(());
        }
        let body_len = read_body(&mut s, &mut buf, &head).await?;
        answered.fetch_add(1, Ordering::SeqCst);
        let close = head
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let extra = format!(
            "x-server: {name}\r\nx-body-len: {body_len}\r\nx-xff: {}\r\nx-xfp: {}\r\nx-path: {}\r\nx-host: {}\r\n{conn_extra}",
            head.header("x-forwarded-for").unwrap_or("-"),
            head.header("x-forwarded-proto").unwrap_or("-"),
            head.path,
            head.header("host").unwrap_or("-"),
        );
        match b {
            Behaviour::Name
            | Behaviour::Count
            | Behaviour::Slow(_)
            | Behaviour::CloseAfter
            | Behaviour::SlowThenClose(_) => {
                if let Behaviour::Slow(d) | Behaviour::SlowThenClose(d) = b {
                    tokio::time::sleep(d).await;
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\n{extra}content-length: {}\r\n\r\n{name}",
                    name.len()
                );
                s.write_all(resp.as_bytes()).await?;
            }
            Behaviour::Big(n) => {
                s.write_all(
                    format!("HTTP/1.1 200 OK\r\n{extra}content-length: {n}\r\n\r\n").as_bytes(),
                )
                .await?;
                let chunk = vec![b'x'; 64 * 1024];
                let mut left = n;
                while left > 0 {
                    let k = left.min(chunk.len() as u64) as usize;
                    s.write_all(&chunk[..k]).await?;
                    written.fetch_add(k as u64, Ordering::SeqCst);
                    left -= k as u64;
                }
            }
            Behaviour::Truncated(n, k) => {
                s.write_all(
                    format!("HTTP/1.1 200 OK\r\n{extra}content-length: {n}\r\n\r\n").as_bytes(),
                )
                .await?;
                s.write_all(&vec![b't'; k as usize]).await?;
                s.flush().await?;
                written.fetch_add(k, Ordering::SeqCst);
                return Ok(());
            }
            Behaviour::Chunked(n) => {
                s.write_all(
                    format!("HTTP/1.1 200 OK\r\n{extra}transfer-encoding: chunked\r\ntrailer: x-trailer\r\n\r\n")
                        .as_bytes(),
                )
                .await?;
                let chunk = format!("3e8\r\n{}\r\n", "c".repeat(1000));
                for _ in 0..n {
                    s.write_all(chunk.as_bytes()).await?;
                }
                s.write_all(b"0\r\nx-trailer: t\r\n\r\n").await?;
            }
            Behaviour::Headers => {
                let body: String = head
                    .headers
                    .iter()
                    .map(|(n, v)| format!("{}: {v}\n", n.to_ascii_lowercase()))
                    .collect();
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                s.write_all(resp.as_bytes()).await?;
            }
            Behaviour::Health => {
                let resp = if head.method == "GET" && head.path == "/health" {
                    "HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\nhealthy"
                } else {
                    "HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot found"
                };
                s.write_all(resp.as_bytes()).await?;
            }
            Behaviour::UntilClose => {
                s.write_all(format!("HTTP/1.0 200 OK\r\n{extra}\r\n{name}").as_bytes())
                    .await?;
                s.shutdown().await?;
                return Ok(());
            }
            Behaviour::Silent => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Behaviour::Upgrade => {
                s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n")
                    .await?;
                if !buf.is_empty() {
                    s.write_all(&buf).await?;
                }
                s.flush().await?;
                let (mut r, mut w) = tokio::io::split(s);
                tokio::io::copy(&mut r, &mut w).await?;
                w.shutdown().await?;
                return Ok(());
            }
            Behaviour::Echo | Behaviour::EarlyReject | Behaviour::Stall => unreachable!(),
        }
        s.flush().await?;
        if close || matches!(b, Behaviour::CloseAfter | Behaviour::SlowThenClose(_)) {
            let _ = s.shutdown().await;
            return Ok(());
        }
    }
}

pub struct Head {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, n: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    }
}

async fn read_head<R: AsyncRead + Unpin>(
    s: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Head>> {
    loop {
        let mut hdrs = [httparse::EMPTY_HEADER; 128];
        let mut req = httparse::Request::new(&mut hdrs);
        if let Ok(httparse::Status::Complete(n)) = req.parse(buf) {
            let h = Head {
                method: req.method.unwrap().to_string(),
                path: req.path.unwrap().to_string(),
                headers: req
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_string(),
                            String::from_utf8_lossy(h.value).to_string(),
                        )
                    })
                    .collect(),
            };
            buf.drain(..n);
            return Ok(Some(h));
        }
        let mut tmp = [0u8; 8192];
        let n = s.read(&mut tmp).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

async fn more<R: AsyncRead + Unpin>(s: &mut R, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut tmp = vec![0u8; 64 * 1024];
    let n = s.read(&mut tmp).await?;
    if n == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    buf.extend_from_slice(&tmp[..n]);
    Ok(())
}

/// Reads (and discards) a request body; returns its decoded length.
async fn read_body<R: AsyncRead + Unpin>(
    s: &mut R,
    buf: &mut Vec<u8>,
    h: &Head,
) -> std::io::Result<u64> {
    if h.header("transfer-encoding").is_some() {
        let mut total = 0u64;
        loop {
            let line_end = loop {
                if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                    break p;
                }
                more(s, buf).await?;
            };
            let size =
                u64::from_str_radix(std::str::from_utf8(&buf[..line_end]).unwrap().trim(), 16)
                    .map_err(|_| std::io::Error::other("bad chunk"))?;
            buf.drain(..line_end + 2);
            if size == 0 {
                // Trailer lines, then the empty line.
                loop {
                    let end = loop {
                        if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                            break p;
                        }
                        more(s, buf).await?;
                    };
                    buf.drain(..end + 2);
                    if end == 0 {
                        return Ok(total);
                    }
                }
            }
            let mut left = size;
            while left > 0 {
                if buf.is_empty() {
                    more(s, buf).await?;
                }
                let k = (buf.len() as u64).min(left) as usize;
                buf.drain(..k);
                left -= k as u64;
            }
            while buf.len() < 2 {
                more(s, buf).await?;
            }
            buf.drain(..2);
            total += size;
        }
    }
    let n: u64 = h
        .header("content-length")
        .map(|v| v.parse().unwrap())
        .unwrap_or(0);
    let mut left = n;
    while left > 0 {
        if buf.is_empty() {
            more(s, buf).await?;
        }
        let k = (buf.len() as u64).min(left) as usize;
        buf.drain(..k);
        left -= k as u64;
    }
    Ok(n)
}

/// A response as the client saw it.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, n: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

/// How the test clients reach the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain TCP.
    Plain,
    /// TLS (the proxy's binds get `ssl crt` with a certificate of the suite's CA).
    Tls,
}

/// The CA of the TLS suite, in memory; each proxy writes its own leaf file.
fn suite_ca() -> &'static pki::Ca {
    static CA: OnceLock<pki::Ca> = OnceLock::new();
    CA.get_or_init(pki::Ca::new)
}

/// A client configuration trusting the suite's CA (HTTP/1.1 only).
fn suite_client() -> Arc<rustls::ClientConfig> {
    static C: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    C.get_or_init(|| suite_ca().client(&[b"http/1.1"])).clone()
}

/// Where a test reaches a frontend, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fe {
    pub addr: SocketAddr,
    pub transport: Transport,
}

impl Fe {
    /// Wraps a connected socket in the frontend's transport.
    pub async fn wrap(&self, tcp: TcpStream) -> Stream {
        tcp.set_nodelay(true).unwrap();
        match self.transport {
            Transport::Plain => Stream::Tcp(tcp),
            Transport::Tls => {
                let c = tokio_rustls::TlsConnector::from(suite_client());
                let t = bounded(c.connect(pki::localhost(), tcp)).await.unwrap();
                Stream::TlsClient(Box::new(t))
            }
        }
    }
}

/// A raw HTTP/1.1 client on one connection.
pub struct Client {
    pub stream: Stream,
    pub buf: Vec<u8>,
}

impl Client {
    pub async fn connect(fe: Fe) -> Client {
        let tcp = bounded(TcpStream::connect(fe.addr)).await.unwrap();
        Client {
            stream: fe.wrap(tcp).await,
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, raw: &[u8]) {
        bounded(async {
            self.stream.write_all(raw).await?;
            self.stream.flush().await
        })
        .await
        .unwrap();
    }

    pub async fn get(&mut self, path: &str) -> std::io::Result<Response> {
        let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
        self.stream.write_all(req.as_bytes()).await?;
        self.stream.flush().await?;
        self.response(false).await
    }

    /// Reads one response (body kept only if `discard` is false; its length is counted).
    pub async fn response(&mut self, discard: bool) -> std::io::Result<Response> {
        let (status, headers) = loop {
            let mut hdrs = [httparse::EMPTY_HEADER; 128];
            let mut resp = httparse::Response::new(&mut hdrs);
            match resp.parse(&self.buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let r = (
                        resp.code.unwrap(),
                        resp.headers
                            .iter()
                            .map(|h| {
                                (
                                    h.name.to_string(),
                                    String::from_utf8_lossy(h.value).to_string(),
                                )
                            })
                            .collect::<Vec<_>>(),
                    );
                    self.buf.drain(..n);
                    break r;
                }
                Ok(httparse::Status::Partial) => more(&mut self.stream, &mut self.buf).await?,
                Err(e) => return Err(std::io::Error::other(format!("bad response: {e}"))),
            }
        };
        let mut r = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if status == 101 || status == 100 {
            return Ok(r);
        }
        let mut body = Vec::new();
        let mut count = 0u64;
        if r.header("transfer-encoding").is_some() {
            let h = Head {
                method: String::new(),
                path: String::new(),
                headers: r.headers.clone(),
            };
            // Reuse the request-body reader: it decodes chunked the same way.
            count = read_body(&mut self.stream, &mut self.buf, &h).await?;
        } else if let Some(n) = r.header("content-length") {
            let mut left: u64 = n.parse().unwrap();
            while left > 0 {
                if self.buf.is_empty() {
                    more(&mut self.stream, &mut self.buf).await?;
                }
                let k = (self.buf.len() as u64).min(left) as usize;
                if !discard {
                    body.extend_from_slice(&self.buf[..k]);
                }
                self.buf.drain(..k);
                left -= k as u64;
                count += k as u64;
            }
        } else {
            self.stream.read_to_end(&mut self.buf).await?;
            body = std::mem::take(&mut self.buf);
        }
        if discard {
            body = count.to_string().into_bytes();
        }
        r.body = body;
        Ok(r)
    }

    /// Sends a raw request and reads the response, counting (not keeping) the body.
    pub async fn response_to(&mut self, raw: &[u8]) -> std::io::Result<Response> {
        self.stream.write_all(raw).await?;
        self.stream.flush().await?;
        self.response(true).await
    }

    /// True if the proxy closed the connection (EOF within the bound). A TLS peer that
    /// closes without close_notify reads as an error, which counts as closed too.
    pub async fn closed(&mut self) -> bool {
        let mut b = [0u8; 64];
        matches!(
            tokio::time::timeout(T, self.stream.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

/// One request on a fresh connection.
pub async fn get_once(fe: Fe, path: &str) -> std::io::Result<Response> {
    let mut c = Client::connect(fe).await;
    bounded(c.get(path)).await
}

/// A running proxy, with the certificate its binds use over TLS.
pub struct TestProxy {
    pub proxy: Proxy,
    pub transport: Transport,
    /// What `bind 127.0.0.1:0` becomes in its configurations.
    bind: String,
    _certs: Option<tempfile::TempDir>,
}

impl TestProxy {
    /// Reloads configuration text (rewritten for the proxy's transport).
    pub async fn reload_text(&self, text: &str) -> Result<(), l7_proxy::RuntimeError> {
        let cfg = parse_str("test.cfg", &text.replace("bind 127.0.0.1:0", &self.bind))
            .unwrap_or_else(|e| panic!("{e}"));
        self.proxy.reload(&cfg.config).await
    }
}

impl std::ops::Deref for TestProxy {
    type Target = Proxy;
    fn deref(&self) -> &Proxy {
        &self.proxy
    }
}

/// Starts a proxy from config text, its clients on plain TCP.
pub async fn proxy(cfg: &str) -> TestProxy {
    proxy_over(Transport::Plain, cfg).await
}

/// Starts a proxy from config text; over TLS, every `bind 127.0.0.1:0` gets
/// `ssl crt <a certificate for localhost>`.
pub async fn proxy_over(transport: Transport, cfg: &str) -> TestProxy {
    let (bind, certs) = match transport {
        Transport::Plain => ("bind 127.0.0.1:0".to_string(), None),
        Transport::Tls => {
            let dir = tempfile::tempdir().unwrap();
            let pem = suite_ca().leaf_file(
                &dir.path().join("site.pem"),
                &["localhost", "127.0.0.1"],
                pki::Alg::EcdsaP256,
            );
            (
                format!("bind 127.0.0.1:0 ssl crt {}", pem.display()),
                Some(dir),
            )
        }
    };
    let loaded = parse_str("test.cfg", &cfg.replace("bind 127.0.0.1:0", &bind))
        .unwrap_or_else(|e| panic!("{e}"));
    TestProxy {
        proxy: Proxy::start(&loaded.config).await.unwrap(),
        transport,
        bind,
        _certs: certs,
    }
}

/// The most common setup: frontend `fe` in front of backend `be` with the one server `s`.
pub async fn one_server(transport: Transport, s: &TestServer) -> TestProxy {
    proxy_over(
        transport,
        &format!("{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n server s {}\n", s.addr),
    )
    .await
}

/// The first address of frontend `fe`, reached over the proxy's transport.
pub fn addr(p: &TestProxy, fe: &str) -> Fe {
    Fe {
        addr: p.local_addrs(fe)[0],
        transport: p.transport,
    }
}

pub const DEFAULTS: &str =
    "defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n";

/// A listening address whose accept queue is full (backlog 0, one queued connection), so
/// further SYNs are dropped and connects hang until their timeout. Keep both values alive.
pub fn full_listener() -> (SocketAddr, (socket2::Socket, Vec<std::net::TcpStream>)) {
    // Backlog 0 holds one connection; once it is queued, further SYNs are dropped.
    let l = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    l.bind(
        &"127.0.0.1:0"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    l.listen(0).unwrap();
    let full = l.local_addr().unwrap().as_socket().unwrap();
    // Full when two connects in a row time out (one could be a slow machine).
    let mut fillers = Vec::new();
    let mut timeouts = 0;
    for _ in 0..16 {
        match std::net::TcpStream::connect_timeout(&full, Duration::from_millis(300)) {
            Ok(s) => {
                fillers.push(s);
                timeouts = 0;
            }
            Err(_) => timeouts += 1,
        }
        if timeouts == 2 {
            break;
        }
    }
    assert_eq!(timeouts, 2, "the accept queue never filled up");
    (full, (l, fillers))
}

/// A UDP syslog receiver for a proxy's `log 127.0.0.1:PORT local0` line.
pub struct SyslogRx(tokio::net::UdpSocket);

impl SyslogRx {
    pub async fn bind() -> SyslogRx {
        SyslogRx(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap())
    }

    /// `global` and `defaults` lines sending `mode` (`http` or `tcp`) log lines here.
    pub fn config(&self, mode: &str) -> String {
        format!(
            "global\n log {} local0\ndefaults\n mode {mode}\n log global\n option {mode}log\n",
            self.0.local_addr().unwrap()
        )
    }

    /// The address a `log` line names to send here.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.0.local_addr().unwrap()
    }

    /// Every datagram up to and including the first containing `part`, without the syslog
    /// headers.
    pub async fn lines_through(&self, part: &str) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let l = self.line_with("").await;
            let done = l.contains(part);
            out.push(l);
            if done {
                return out;
            }
        }
    }

    /// The next datagram containing `part` (others are skipped), without the syslog header.
    pub async fn line_with(&self, part: &str) -> String {
        let mut b = [0u8; 2048];
        bounded(async {
            loop {
                let n = self.0.recv(&mut b).await.unwrap();
                let l = String::from_utf8_lossy(&b[..n]).to_string();
                if l.contains(part) {
                    return l.split_once("]: ").map(|(_, m)| m.to_string()).unwrap_or(l);
                }
            }
        })
        .await
    }
}

/// A command-line tool the test needs (curl, openssl, nghttp): its path, or `None` with a
/// message when it is missing. Under `CI=true` a missing tool fails the test instead.
pub fn tool(name: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let msg = format!("'{name}' is not installed (Debian: curl, openssl, nghttp2-client)");
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("skipped: {msg}");
    }
    found
}

/// Runs a tool to completion within the bound; (exit success, stdout, stderr).
pub async fn run_tool(cmd: &mut tokio::process::Command) -> (bool, String, String) {
    cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
    let out = bounded(cmd.output()).await.unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
