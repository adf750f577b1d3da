//! The TLS + HTTP/2 front on arbitrary client bytes, in process (no sockets):
//! - first byte even: the bytes are TLS records for lbproxy's own TLS server stream (its
//!   unbuffered rustls connection and record buffers) with the configuration its `bind ...
//!   ssl` code builds (SNI resolver over two certificates, ALPN h2): handshake parsing,
//!   certificate selection and record handling on garbage, and what a reader and a writer
//!   do with the stream if a handshake gets through;
//! - first byte odd: the bytes (after the client preface, which the target adds) are
//!   HTTP/2 frames for lbproxy's h2 server settings; every request that comes out is
//!   converted to the HTTP/1.1 head the proxy forwards, checked as the proxy checks it, and
//!   answered through the proxy's HTTP/2 reply path. A converted head must never carry
//!   ambiguous framing.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use l7_proxy::config::{BindTls, H2Limits};
use l7_proxy::http::h2::{builder, convert, H2Stream};
use l7_proxy::net::tls::server::{config, Resumption};
use l7_proxy::net::tls::server_stream::{ServerStream, Transport};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};

/// The sample certificate of the test configurations (ECDSA P-256, site.test).
const SITE_PEM: &str = include_str!("../../testdata/haproxy/certs/site.pem");

fn tls_config() -> Arc<rustls::ServerConfig> {
    static CFG: OnceLock<Arc<rustls::ServerConfig>> = OnceLock::new();
    CFG.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("halb-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let a = dir.join("a.pem");
        let b = dir.join("b.pem");
        std::fs::write(&a, SITE_PEM).expect("write");
        std::fs::write(&b, SITE_PEM).expect("write");
        let tls = BindTls {
            crt: vec![a, b],
            alpn: vec!["h2".into(), "http/1.1".into()],
            origin: "fuzz".into(),
            ..BindTls::default()
        };
        let resumption = Resumption::new(16).expect("resumption");
        let cfg = config(&tls, &resumption).expect("config");
        let _ = std::fs::remove_dir_all(&dir);
        cfg
    })
    .clone()
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// The server's end of an in-process byte pipe, as the stream's transport. Its
/// `try_write_now` polls with a no-op waker, which would steal a waiting writer's wake-up
/// on a shared socket; here reader and writer run in one task (`join!`), so none is lost.
struct Pipe(DuplexStream);

impl Transport for Pipe {
    fn try_write_now(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::pin::Pin::new(&mut self.0).poll_write(&mut cx, buf) {
            std::task::Poll::Ready(r) => r,
            std::task::Poll::Pending => Err(std::io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl tokio::io::AsyncRead for Pipe {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Pipe {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

fn tls(data: &[u8]) {
    runtime().block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let feed = async move {
            let _ = client.write_all(data).await;
            let _ = client.shutdown().await;
            let mut sink = tokio::io::sink();
            let _ = tokio::io::copy(&mut client, &mut sink).await;
        };
        let serve = async move {
            let Ok(mut s) = ServerStream::accept(Pipe(server), tls_config()).await else {
                return;
            };
            let mut b = [0u8; 1000];
            while let Ok(n) = s.read(&mut b).await {
                if n == 0 || s.write_all(&b[..n]).await.is_err() {
                    break;
                }
            }
            let _ = s.shutdown().await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            tokio::join!(feed, serve);
        })
        .await;
    });
}

fn h2(data: &[u8]) {
    runtime().block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        bytes.extend_from_slice(data);
        let feed = async move {
            let _ = client.write_all(&bytes).await;
            let _ = client.shutdown().await;
            // Keep reading what the server answers so it never blocks on a full pipe.
            let mut sink = tokio::io::sink();
            let _ = tokio::io::copy(&mut client, &mut sink).await;
        };
        let serve = async move {
            let Ok(mut conn) = builder(&H2Limits::default()).handshake::<_, bytes::Bytes>(server).await else {
                return;
            };
            while let Some(Ok((req, respond))) = conn.accept().await {
                let (parts, body) = req.into_parts();
                let end = body.is_end_stream();
                let mut stream = H2Stream::new(respond, body);
                let status = match convert::request_head(&parts, end) {
                    Ok(head) => match l7_proxy::http::analyze(&head) {
                        Ok(_) => {
                            let cl = head.header("content-length");
                            let te = head.header("transfer-encoding");
                            assert!(cl.is_none() || te.is_none(), "CL and TE both accepted");
                            200
                        }
                        Err(code) => code,
                    },
                    Err(code) => code,
                };
                let page = l7_proxy::http::builtin::error_page(status, &Default::default());
                let _ = stream.reply(&page, Some(Duration::from_millis(100))).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            tokio::join!(feed, serve);
        })
        .await;
    });
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((sel, rest)) if sel % 2 == 0 => tls(rest),
        Some((_, rest)) => h2(rest),
        None => {}
    }
});
