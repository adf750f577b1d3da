//! A proxy started from Rust code: a haproxy.cfg text parsed with `l7_proxy::config`, run with
//! `l7_proxy::Proxy` on 127.0.0.1 in front of a tiny backend started here; one request
//! through it, its response printed, then a soft stop.
//!
//! `cargo run -p l7-proxy --example embedded_proxy`

use std::error::Error;
use std::time::Duration;

use l7_proxy::config;
use l7_proxy::Proxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Answers every request on `listener` with a fixed 200 response, one request a connection.
async fn backend(listener: TcpListener) {
    while let Ok((mut conn, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            // The request has no body: its head ends the exchange.
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let body = "hello from the backend\n";
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(response.as_bytes()).await;
        });
    }
}

#[tokio::main]
pub async fn main() -> Result<(), Box<dyn Error>> {
    let backend_listener = TcpListener::bind("127.0.0.1:0").await?;
    let backend_addr = backend_listener.local_addr()?;
    tokio::spawn(backend(backend_listener));

    // Port 0: the system picks one; `local_addrs` tells which.
    let text = format!(
        "defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s

frontend www
    bind 127.0.0.1:0
    http-response set-header X-Proxied-By lbproxy
    default_backend app

backend app
    server app1 {backend_addr}
"
    );
    let loaded = config::parse_str("embedded.cfg", &text)?;
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    let proxy = Proxy::start(&loaded.config).await?;
    let front = *proxy
        .local_addrs("www")
        .first()
        .ok_or("the frontend has no listener")?;
    println!("proxy listening on {front}, backend on {backend_addr}");

    let mut client = TcpStream::connect(front).await?;
    client
        .write_all(b"GET / HTTP/1.1\r\nhost: example.test\r\nconnection: close\r\n\r\n")
        .await?;
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        client.read_to_string(&mut response),
    )
    .await??;
    println!("{response}");

    let left = proxy.soft_stop(Some(Duration::from_secs(1))).await;
    println!("stopped ({left} connections left)");
    if !response.starts_with("HTTP/1.1 200") || !response.contains("hello from the backend") {
        return Err("unexpected response".into());
    }
    if !response
        .to_ascii_lowercase()
        .contains("x-proxied-by: lbproxy")
    {
        return Err("the http-response rule did not run".into());
    }
    Ok(())
}
