//! The TLS + HTTP/2 front on arbitrary client bytes, in process (no sockets):
//! - first byte even: the bytes are TLS records for a rustls server built by lbproxy's own
//!   `bind ... ssl` code (SNI resolver over two certificates, ALPN h2): handshake parsing
//!   and certificate selection on garbage;
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
use libfuzzer_sys::fuzz_target;
use tokio::io::AsyncWriteExt;

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

fn tls(data: &[u8]) {
    let Ok(mut conn) = rustls::ServerConnection::new(tls_config()) else {
        return;
    };
    let mut input = data;
    while !input.is_empty() {
        match conn.read_tls(&mut input) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if conn.process_new_packets().is_err() {
            break;
        }
    }
    let mut out = Vec::new();
    let _ = conn.write_tls(&mut out);
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
