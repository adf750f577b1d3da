//! `tk-http --listen ADDR:PORT --name NAME [--say-peer]`: a tiny HTTP/1.0 responder for labs,
//! benchmarks and the demo. Every request gets `200 OK` with the body `NAME\n` (with
//! `--say-peer`: `NAME <- PEER_IP\n`, e.g. to show which proxy node connected), then the
//! connection is closed. One thread per connection; runs until killed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

fn usage() -> ! {
    eprintln!("usage: tk-http --listen ADDR:PORT --name NAME [--say-peer]");
    std::process::exit(2)
}

fn serve(mut s: TcpStream, name: &str, say_peer: bool) {
    let body = match (say_peer, s.peer_addr()) {
        (true, Ok(p)) => format!("{name} <- {}\n", p.ip()),
        _ => format!("{name}\n"),
    };
    let body = body.as_bytes();
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.set_nodelay(true);
    // Read the request head (up to the blank line, at most 8 KiB).
    let mut buf = [0u8; 8192];
    let mut n = 0;
    while n < buf.len() {
        match s.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => {
                n += k;
                if buf[..n].windows(4).any(|w| w == b"\r\n\r\n")
                    || buf[..n].windows(2).any(|w| w == b"\n\n")
                {
                    break;
                }
            }
        }
    }
    let head = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body);
}

fn main() {
    let mut listen = None;
    let mut name = None;
    let mut say_peer = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => listen = args.next(),
            "--name" => name = args.next(),
            "--say-peer" => say_peer = true,
            _ => usage(),
        }
    }
    let (Some(listen), Some(name)) = (listen, name) else {
        usage()
    };
    let l = match TcpListener::bind(&listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tk-http: bind {listen}: {e}");
            std::process::exit(1)
        }
    };
    eprintln!("tk-http: {name} listening on {listen}");
    let name: &'static str = name.leak();
    for s in l.incoming().flatten() {
        std::thread::spawn(move || serve(s, name, say_peer));
    }
}
