//! The `lbproxy` binary moves 100 MiB+ bodies both ways in bounded memory: a streaming
//! backend, a raw client, the process's peak resident memory. With `option splice-*` the
//! bytes go socket to socket through kernel pipes (seen as pipe descriptors held by the
//! process while a body is in flight), and `nosplice` turns that off.

mod lbproxy_run;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lbproxy_run::*;

/// A thread-per-connection HTTP/1.1 backend for big bodies: `GET /big/N` answers an N-byte
/// body (64 KiB writes); any other request has its body read (Content-Length or chunked,
/// decoded) and answers `x-body-len: <bytes>`.
fn streaming_backend() -> u16 {
    counting_backend().0
}

/// [`streaming_backend`], with the count of connections it accepted.
fn counting_backend() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("backend bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(64) {
            let Ok(conn) = conn else { continue };
            count.fetch_add(1, Ordering::Relaxed);
            std::thread::spawn(move || {
                let _ = serve_streaming(conn);
            });
        }
    });
    (port, accepted)
}

fn serve_streaming(conn: TcpStream) -> std::io::Result<()> {
    use std::io::{copy, sink};
    let mut out = conn.try_clone()?;
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let path = line.split(' ').nth(1).unwrap_or("/").to_string();
        let (mut len, mut chunked) = (0u64, false);
        loop {
            line.clear();
            if r.read_line(&mut line)? == 0 {
                return Ok(());
            }
            if line == "\r\n" {
                break;
            }
            let l = line.to_ascii_lowercase();
            if let Some(v) = l.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            } else if l.starts_with("transfer-encoding:") && l.contains("chunked") {
                chunked = true;
            }
        }
        let mut body = 0u64;
        if chunked {
            loop {
                line.clear();
                r.read_line(&mut line)?;
                let size = u64::from_str_radix(line.trim(), 16)
                    .map_err(|_| std::io::Error::other("bad chunk size"))?;
                if size == 0 {
                    // Trailers, then the empty line.
                    loop {
                        line.clear();
                        if r.read_line(&mut line)? == 0 || line == "\r\n" {
                            break;
                        }
                    }
                    break;
                }
                body += copy(&mut (&mut r).take(size), &mut sink())?;
                line.clear();
                r.read_line(&mut line)?;
            }
        } else {
            body = copy(&mut (&mut r).take(len), &mut sink())?;
        }
        if let Some(n) = path.strip_prefix("/big/") {
            let n: u64 = n.parse().unwrap_or(0);
            write!(out, "HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n")?;
            let chunk = vec![b'x'; 64 * 1024];
            let mut left = n;
            while left > 0 {
                let k = left.min(chunk.len() as u64) as usize;
                out.write_all(&chunk[..k])?;
                left -= k as u64;
            }
        } else {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nx-body-len: {body}\r\nContent-Length: 2\r\n\r\nok"
            )?;
        }
    }
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    s.set_write_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    s
}

/// Reads a response head; returns (status line + headers lowercased, content-length).
fn read_head(r: &mut BufReader<TcpStream>) -> (String, u64) {
    let mut head = String::new();
    let mut len = 0;
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).expect("response head");
        assert!(n > 0, "closed before a full head: {head}");
        if line == "\r\n" {
            return (head, len);
        }
        let l = line.to_ascii_lowercase();
        if let Some(v) = l.strip_prefix("content-length:") {
            len = v.trim().parse().expect("content-length");
        }
        head.push_str(&l);
    }
}

/// The real binary moves 100 MiB+ each way (a chunked upload, then a download) on one
/// keep-alive connection while its peak resident memory (VmHWM) stays far below the body
/// size: bodies are streamed through bounded buffers, never collected.
#[test]
fn big_bodies_both_ways_in_bounded_memory() {
    const MIB: u64 = 1 << 20;
    // Measured: about 8 MiB at start and 0.1 MiB more after both transfers (debug build,
    // 2 threads). The bounds leave room for allocator variation while staying far below
    // the 128 MiB moved each way.
    const BOUND_KB: u64 = 24 * 1024;
    const GROWTH_KB: u64 = 8 * 1024;
    let be = streaming_backend();
    let fe = free_port();
    let dir = tempfile::tempdir().expect("dir");
    let run = Running::start(
        dir.path(),
        &format!(
            "global\n    nbthread 2\n\
             defaults\n    mode http\n    timeout connect 1s\n    timeout client 30s\n    timeout server 30s\n\
             frontend fe\n    bind 127.0.0.1:{fe}\n    default_backend be\n\
             backend be\n    server s1 127.0.0.1:{be}\n"
        ),
    );
    run.wait_serving(fe, "x-body-len: 0");
    let start_kb = run.status_field("VmHWM");

    let s = connect(fe);
    let mut w = s.try_clone().expect("clone");
    let mut r = BufReader::new(s);
    // 128 MiB upload, chunked, in 1 MiB chunks.
    w.write_all(b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        .expect("head");
    let mut framed = format!("{:x}\r\n", MIB).into_bytes();
    framed.extend_from_slice(&vec![b'y'; MIB as usize]);
    framed.extend_from_slice(b"\r\n");
    for _ in 0..128 {
        w.write_all(&framed).expect("upload chunk");
    }
    w.write_all(b"0\r\n\r\n").expect("last chunk");
    let (head, len) = read_head(&mut r);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("x-body-len: 134217728\r\n"), "{head}");
    std::io::copy(&mut (&mut r).take(len), &mut std::io::sink()).expect("body");
    let after_upload_kb = run.status_field("VmHWM");

    // 128 MiB download on the same connection.
    w.write_all(b"GET /big/134217728 HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("get");
    let (head, len) = read_head(&mut r);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(len, 128 * MIB);
    let got = std::io::copy(&mut (&mut r).take(len), &mut std::io::sink()).expect("download");
    assert_eq!(got, 128 * MIB);
    let peak_kb = run.status_field("VmHWM");
    eprintln!(
        "lbproxy VmHWM: {start_kb} kB at start, {after_upload_kb} kB after the upload, \
         {peak_kb} kB after the download"
    );
    assert!(
        peak_kb < BOUND_KB,
        "peak RSS {peak_kb} kB >= {BOUND_KB} kB\n{}",
        run.log()
    );
    assert!(
        peak_kb.saturating_sub(start_kb) < GROWTH_KB,
        "peak RSS grew by {} kB while streaming\n{}",
        peak_kb.saturating_sub(start_kb),
        run.log()
    );
}

/// The kernel pipes the process holds (splice(2) moves a direction's bytes through one).
fn pipes(run: &Running) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", run.pid()))
        .expect("/proc/PID/fd")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|l| l.to_string_lossy().starts_with("pipe:"))
        .count()
}

/// A proxy with `lines` added to `defaults` (and `global_lines` to `global`) in front of the
/// streaming backend, in `mode`; returns it with its port once it answers.
fn splice_proxy(
    dir: &std::path::Path,
    mode: &str,
    global_lines: &str,
    lines: &str,
) -> (Running, u16) {
    splice_proxy_counting(dir, mode, global_lines, lines).0
}

/// [`splice_proxy`], with the count of connections its backend accepted.
fn splice_proxy_counting(
    dir: &std::path::Path,
    mode: &str,
    global_lines: &str,
    lines: &str,
) -> ((Running, u16), Arc<AtomicUsize>) {
    let (be, accepted) = counting_backend();
    let fe = free_port();
    let run = Running::start(
        dir,
        &format!(
            "global\n    nbthread 1\n{global_lines}\
             defaults\n    mode {mode}\n    timeout connect 1s\n    timeout client 30s\n    timeout server 30s\n{lines}\
             frontend fe\n    bind 127.0.0.1:{fe}\n    default_backend be\n\
             backend be\n    server s1 127.0.0.1:{be}\n"
        ),
    );
    if mode == "http" {
        run.wait_serving(fe, "x-body-len: 0");
    } else {
        // The backend keeps connections open whatever the request says: in TCP mode the
        // listener accepting is the sign.
        let up = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            TcpStream::connect(("127.0.0.1", fe)).is_ok()
        });
        assert!(up, "lbproxy listens\n{}", run.log());
    }
    ((run, fe), accepted)
}

/// Downloads 64 MiB, stalling after the head and 1 MiB so the proxy is caught with the
/// body in flight; returns (pipes held before the request, pipes held during the stall,
/// pipes held after the body). Every byte is checked.
fn stalled_download(run: &Running, fe: u16) -> (usize, usize, usize) {
    const LEN: u64 = 64 << 20;
    let before = pipes(run);
    let s = connect(fe);
    let mut w = s.try_clone().expect("clone");
    let mut r = BufReader::new(s);
    write!(w, "GET /big/{LEN} HTTP/1.1\r\nHost: t\r\n\r\n").expect("get");
    let (head, len) = read_head(&mut r);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(len, LEN);
    let mut first = vec![0u8; 1 << 20];
    r.read_exact(&mut first).expect("first MiB");
    std::thread::sleep(Duration::from_millis(300));
    let during = pipes(run);
    let mut rest = Vec::with_capacity((LEN - (1 << 20)) as usize);
    (&mut r)
        .take(len - (1 << 20))
        .read_to_end(&mut rest)
        .expect("rest");
    assert_eq!(rest.len() as u64, LEN - (1 << 20), "whole body");
    assert!(
        first.iter().chain(&rest).all(|&b| b == b'x'),
        "every byte intact"
    );
    // The next request on the same connection is served (the relay ended on the body).
    w.write_all(b"GET /big/5 HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("second get");
    let (head, len) = read_head(&mut r);
    assert!(head.starts_with("http/1.1 200") && len == 5, "{head}");
    let mut five = [0u8; 5];
    r.read_exact(&mut five).expect("second body");
    (before, during, pipes(run))
}

/// `option splice-response`: an HTTP/1.1 response body goes through a pipe (two more
/// descriptors while in flight, kept for reuse after), intact, and both the client's and
/// the server's connections stay usable.
#[test]
fn splice_response_relays_an_http_body_through_a_pipe() {
    let dir = tempfile::tempdir().expect("dir");
    let ((run, fe), accepted) =
        splice_proxy_counting(dir.path(), "http", "", "    option splice-response\n");
    let (before, during, after) = stalled_download(&run, fe);
    // The server connection outlived the spliced body: the next request reused it (one
    // connection for the readiness probe and both requests).
    assert_eq!(accepted.load(Ordering::Relaxed), 1, "{}", run.log());
    assert_one_pipe_kept(&run, before, during, after);
}

/// `option splice-request`: a Content-Length upload is spliced and arrives whole.
#[test]
fn splice_request_relays_an_upload_whole() {
    const LEN: usize = 48 << 20;
    let dir = tempfile::tempdir().expect("dir");
    let (run, fe) = splice_proxy(dir.path(), "http", "", "    option splice-request\n");
    let before = pipes(&run);
    let s = connect(fe);
    let mut w = s.try_clone().expect("clone");
    let mut r = BufReader::new(s);
    let head = format!("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: {LEN}\r\n\r\n");
    w.write_all(head.as_bytes()).expect("head");
    let chunk = vec![b'u'; 1 << 20];
    w.write_all(&chunk).expect("first MiB");
    std::thread::sleep(Duration::from_millis(300));
    let during = pipes(&run);
    for _ in 1..(LEN >> 20) {
        w.write_all(&chunk).expect("upload");
    }
    let (head, _) = read_head(&mut r);
    let whole = format!("x-body-len: {LEN}\r\n");
    assert!(head.contains(&whole), "{head}\n{}", run.log());
    assert_one_pipe_kept(&run, before, during, pipes(&run));
}

/// `during` a spliced body the proxy held one more pipe (two descriptors) than `before`,
/// and `after` it still does: given back empty, the pipe is kept for the thread's next
/// relay, not a new one each body.
fn assert_one_pipe_kept(run: &Running, before: usize, during: usize, after: usize) {
    assert_eq!(
        during,
        before + 2,
        "one pipe while the body is in flight\n{}",
        run.log()
    );
    assert_eq!(
        after,
        before + 2,
        "the pipe is kept for reuse\n{}",
        run.log()
    );
}

/// `mode tcp` with `option splice-auto`: once the download streams, it is spliced.
#[test]
fn splice_auto_in_tcp_mode_splices_a_streaming_direction() {
    let dir = tempfile::tempdir().expect("dir");
    let (run, fe) = splice_proxy(dir.path(), "tcp", "", "    option splice-auto\n");
    let (before, during, _) = stalled_download(&run, fe);
    assert_eq!(
        during,
        before + 2,
        "the streaming direction splices\n{}",
        run.log()
    );
}

/// A download through a proxy whose `global` has `global_lines` and whose `defaults` have
/// `lines` opens no pipe: every byte is copied (and arrives whole).
fn assert_no_pipe_opened(global_lines: &str, lines: &str) {
    let dir = tempfile::tempdir().expect("dir");
    let (run, fe) = splice_proxy(dir.path(), "http", global_lines, lines);
    let (before, during, after) = stalled_download(&run, fe);
    assert_eq!((during, after), (before, before), "{}", run.log());
}

/// `nosplice` in `global` wins over the proxies' `option splice-*`: no pipe is opened.
#[test]
fn nosplice_keeps_every_byte_in_user_space() {
    assert_no_pipe_opened(
        "    nosplice\n",
        "    option splice-request\n    option splice-response\n",
    );
}

/// `maxpipes 0`: no pipe may be opened, so the body is copied (and still arrives whole).
#[test]
fn maxpipes_caps_the_pipes_and_bodies_are_copied_beyond_it() {
    assert_no_pipe_opened("    maxpipes 0\n", "    option splice-response\n");
}
