//! The `lbproxy` binary: `-c` check mode on the sample configs, and a real run on loopback
//! (a request proxied, SIGHUP with a bad file keeps serving, SIGUSR1 drains and exits 0),
//! reloads on SIGHUP/SIGUSR2, SIGTERM/SIGINT and the pidfile, nbthread, and 100 MiB+ bodies
//! both ways in bounded memory.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/haproxy")
}

fn check(files: &[PathBuf]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lbproxy"));
    // Certificate paths in the samples are relative, as operators often write them.
    cmd.arg("-c").current_dir(testdata());
    for f in files {
        cmd.arg("-f").arg(f);
    }
    let out = cmd.output().expect("lbproxy runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn sample_configs_pass_the_check_and_the_invalid_one_fails_with_positions() {
    let mut valid = 0;
    for entry in std::fs::read_dir(testdata()).expect("testdata/haproxy") {
        let file = entry.expect("entry").path();
        if file.extension().is_none_or(|e| e != "cfg") {
            continue;
        }
        let (ok, text) = check(std::slice::from_ref(&file));
        if file.file_name().is_some_and(|n| n == "invalid.cfg") {
            assert!(!ok, "invalid.cfg must be rejected: {text}");
            assert!(text.contains("invalid.cfg:4:20"), "{text}");
            assert!(text.contains("invalid.cfg:10:5"), "{text}");
        } else {
            assert!(ok, "{} must load: {text}", file.display());
            valid += 1;
        }
    }
    assert!(valid >= 4);
}

#[test]
fn several_files_are_read_in_order() {
    let dir = tempfile::tempdir().expect("dir");
    let a = dir.path().join("a.cfg");
    let b = dir.path().join("b.cfg");
    std::fs::write(&a, "defaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n    timeout connect 1s\n").expect("a");
    std::fs::write(&b, "frontend fe\n    bind 127.0.0.1:18999\n    default_backend be\nbackend be\n    server s1 127.0.0.1:18998\n").expect("b");
    let (ok, text) = check(&[a.clone(), b.clone()]);
    assert!(ok, "{text}");
    // An error in the second file is reported with that file's name.
    std::fs::write(
        &b,
        "frontend fe\n    bind 127.0.0.1:18999\n    default_backend nowhere\n",
    )
    .expect("b");
    let (ok, text) = check(&[a, b]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("b.cfg:"),
        "the error names the second file: {text}"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A one-thread HTTP server answering every request with "hello from backend".
fn backend() -> u16 {
    backend_saying("hello from backend")
}

/// An HTTP server answering every request with `body`.
fn backend_saying(body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("backend bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(64) {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                loop {
                    let mut line = String::new();
                    // Read one request head; keep-alive until the peer closes.
                    loop {
                        line.clear();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => break,
                            Ok(_) => {}
                        }
                    }
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if conn.write_all(resp.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill -{sig}");
}

#[test]
fn proxies_reloads_and_soft_stops() {
    let be = backend();
    let fe = free_port();
    let dir = tempfile::tempdir().expect("dir");
    let cfg = dir.path().join("haproxy.cfg");
    let good = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{fe}\n    default_backend be\n\
         backend be\n    server s1 127.0.0.1:{be}\n"
    );
    std::fs::write(&cfg, &good).expect("cfg");
    let log = dir.path().join("lbproxy.log");
    let mut proc = Proc(
        Command::new(env!("CARGO_BIN_EXE_lbproxy"))
            .arg("-f")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("lbproxy starts"),
    );
    let started = Instant::now();
    let mut answer = None;
    while started.elapsed() < Duration::from_secs(5) && answer.is_none() {
        answer = get(fe).filter(|a| a.contains("hello from backend"));
        std::thread::sleep(Duration::from_millis(50));
    }
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(answer.is_some(), "proxied answer\n{}", read_log());

    // A bad file on SIGHUP: rejected, the running config keeps serving.
    std::fs::write(&cfg, "frontend fe\n    bind 127.0.0.1:notaport\n").expect("bad cfg");
    signal(&proc.0, "HUP");
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(3) && !read_log().contains("notaport") {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        read_log().contains("notaport"),
        "the reload error is logged\n{}",
        read_log()
    );
    assert!(
        get(fe).is_some_and(|a| a.contains("hello from backend")),
        "still serving after a bad reload\n{}",
        read_log()
    );

    // SIGUSR1: stop accepting, drain, exit 0.
    signal(&proc.0, "USR1");
    let t = Instant::now();
    let status = loop {
        if let Some(st) = proc.0.try_wait().expect("try_wait") {
            break Some(st);
        }
        if t.elapsed() > Duration::from_secs(5) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let status = status.unwrap_or_else(|| panic!("lbproxy exits after SIGUSR1\n{}", read_log()));
    assert!(
        status.success(),
        "exit 0 after soft stop: {status}\n{}",
        read_log()
    );
    assert!(
        TcpStream::connect(("127.0.0.1", fe)).is_err(),
        "listener closed"
    );
}

/// A thread-per-connection HTTP/1.1 backend for big bodies: `GET /big/N` answers an N-byte
/// body (64 KiB writes); any other request has its body read (Content-Length or chunked,
/// decoded) and answers `x-body-len: <bytes>`.
fn streaming_backend() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("backend bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(64) {
            let Ok(conn) = conn else { continue };
            std::thread::spawn(move || {
                let _ = serve_streaming(conn);
            });
        }
    });
    port
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

/// `lbproxy -f <cfg>` started in `dir`, its stderr in `dir/lbproxy.log`.
struct Running {
    proc: Proc,
    log: PathBuf,
}

impl Running {
    fn start(dir: &Path, cfg: &str) -> Running {
        Running::start_with(dir, cfg, &[])
    }

    /// As [`Running::start`], with more flags.
    fn start_with(dir: &Path, cfg: &str, flags: &[&str]) -> Running {
        let file = dir.join("haproxy.cfg");
        std::fs::write(&file, cfg).expect("cfg");
        let log = dir.join("lbproxy.log");
        let proc = Proc(
            Command::new(env!("CARGO_BIN_EXE_lbproxy"))
                .arg("-f")
                .arg(&file)
                .args(flags)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("log"))
                .spawn()
                .expect("lbproxy starts"),
        );
        Running { proc, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.proc.0.id()
    }

    /// Waits until a GET on `port` answers with `expect` in it.
    fn wait_serving(&self, port: u16, expect: &str) {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if get(port).is_some_and(|a| a.contains(expect)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "lbproxy does not serve {expect:?} on {port}\n{}",
            self.log()
        );
    }

    /// A line of /proc/PID/status, in its own units (kB for memory).
    fn status_field(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("/proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in\n{status}"))
    }

    /// Waits for the process to exit.
    fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let t = Instant::now();
        loop {
            if let Some(st) = self.proc.0.try_wait().expect("try_wait") {
                return st;
            }
            assert!(
                t.elapsed() < within,
                "lbproxy did not exit within {within:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
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

/// `global` `nbthread N` sizes the runtime: one thread with `nbthread 1` (a
/// current-thread runtime), the main thread plus N workers otherwise.
#[test]
fn nbthread_sets_the_thread_count() {
    let be = backend();
    for (nbthread, threads) in [(1u64, 1u64), (3, 4)] {
        let fe = free_port();
        let dir = tempfile::tempdir().expect("dir");
        let run = Running::start(
            dir.path(),
            &format!(
                "global\n    nbthread {nbthread}\n\
                 defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
                 frontend fe\n    bind 127.0.0.1:{fe}\n    default_backend be\n\
                 backend be\n    server s1 127.0.0.1:{be} check inter 100ms\n"
            ),
        );
        run.wait_serving(fe, "hello from backend");
        let tasks: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", run.pid()))
            .expect("/proc/PID/task")
            .filter_map(|t| {
                let t = t.ok()?.path();
                std::fs::read_to_string(t.join("comm")).ok()
            })
            .collect();
        assert_eq!(
            run.status_field("Threads"),
            threads,
            "nbthread {nbthread}: threads {tasks:?}\n{}",
            run.log()
        );
    }
}

/// `--metrics-addr`: the statistics through the metrics facade's Prometheus exporter,
/// under HAProxy's built-in exporter's names, following the traffic.
#[test]
fn metrics_addr_serves_the_statistics_through_the_metrics_facade() {
    let be = backend();
    let (fe, metrics) = (free_port(), free_port());
    let dir = tempfile::tempdir().expect("dir");
    let run = Running::start_with(
        dir.path(),
        &format!(
            "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             frontend fe\n    bind 127.0.0.1:{fe}\n    default_backend be\n\
             backend be\n    server s1 127.0.0.1:{be}\n"
        ),
        &["--metrics-addr", &format!("127.0.0.1:{metrics}")],
    );
    run.wait_serving(fe, "hello from backend");
    for _ in 0..4 {
        assert!(get(fe).is_some());
    }
    let want = "haproxy_frontend_http_requests_total{proxy=\"fe\"} 5";
    let t = Instant::now();
    let mut seen = String::new();
    while t.elapsed() < Duration::from_secs(10) {
        let mut s = TcpStream::connect(("127.0.0.1", metrics)).expect("metrics listener");
        s.set_read_timeout(Some(Duration::from_secs(3))).ok();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
            .expect("request");
        seen.clear();
        let _ = s.read_to_string(&mut seen);
        if seen.contains(want) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(seen.contains(want), "{seen}\n{}", run.log());
    assert!(seen.contains("haproxy_server_sessions_total{proxy=\"be\",server=\"s1\"} 5"));
    assert!(seen.contains("# TYPE haproxy_frontend_http_requests_total counter"));
    assert!(seen.contains("haproxy_server_status{proxy=\"be\",server=\"s1\",state=\"UP\"} 1"));
}

/// A server that accepts connections and never answers.
fn silent_backend() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("backend bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let held: Vec<TcpStream> = listener.incoming().take(8).filter_map(Result::ok).collect();
        drop(held);
    });
    port
}

fn reload_cfg(fe: u16, be: u16) -> String {
    format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{fe}\n    default_backend be\n\
         backend be\n    server s1 127.0.0.1:{be}\n"
    )
}

/// SIGHUP and SIGUSR2 with a good file: the new backend is served, on the same listener.
#[test]
fn sighup_and_sigusr2_reload_a_good_file() {
    let (one, two, three) = (
        backend_saying("from one"),
        backend_saying("from two"),
        backend_saying("from three"),
    );
    let fe = free_port();
    let dir = tempfile::tempdir().expect("dir");
    let run = Running::start(dir.path(), &reload_cfg(fe, one));
    run.wait_serving(fe, "from one");
    let cfg = dir.path().join("haproxy.cfg");
    std::fs::write(&cfg, reload_cfg(fe, two)).expect("cfg");
    signal(&run.proc.0, "HUP");
    run.wait_serving(fe, "from two");
    std::fs::write(&cfg, reload_cfg(fe, three)).expect("cfg");
    signal(&run.proc.0, "USR2");
    run.wait_serving(fe, "from three");
    assert!(
        run.log().contains("configuration reloaded"),
        "{}",
        run.log()
    );
}

/// SIGTERM and SIGINT stop at once (a request in flight on a server that never answers
/// does not hold the exit) with status 0; the pidfile (`-p`, or `pidfile` in `global`)
/// holds the pid while running and is removed on exit.
#[test]
fn sigterm_and_sigint_stop_at_once_and_remove_the_pidfile() {
    let silent = silent_backend();
    for (sig, by_flag) in [("TERM", true), ("INT", false)] {
        let fe = free_port();
        let dir = tempfile::tempdir().expect("dir");
        let pidfile = dir.path().join("lbproxy.pid");
        let file = dir.path().join("haproxy.cfg");
        let global = if by_flag {
            String::new()
        } else {
            format!("global\n    pidfile {}\n", pidfile.display())
        };
        std::fs::write(
            &file,
            format!(
                "{global}defaults\n    mode http\n    timeout connect 1s\n    timeout client 30s\n    timeout server 30s\n\
                 frontend fe\n    bind 127.0.0.1:{fe}\n    default_backend be\n\
                 backend be\n    server s1 127.0.0.1:{silent}\n"
            ),
        )
        .expect("cfg");
        let log = dir.path().join("lbproxy.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lbproxy"));
        cmd.arg("-f").arg(&file);
        if by_flag {
            cmd.arg("-p").arg(&pidfile);
        }
        let mut run = Running {
            proc: Proc(
                cmd.stdout(Stdio::null())
                    .stderr(std::fs::File::create(&log).expect("log"))
                    .spawn()
                    .expect("lbproxy starts"),
            ),
            log,
        };
        // A request in flight: accepted, forwarded, never answered.
        let t = Instant::now();
        let mut client = loop {
            if let Ok(s) = TcpStream::connect(("127.0.0.1", fe)) {
                break s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "no listener\n{}",
                run.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .expect("request");
        let pid = std::fs::read_to_string(&pidfile).expect("pidfile written");
        assert_eq!(pid.trim(), run.pid().to_string());
        std::thread::sleep(Duration::from_millis(100));
        signal(&run.proc.0, sig);
        let status = run.wait_exit(Duration::from_secs(3));
        assert!(status.success(), "SIG{sig}: {status}\n{}", run.log());
        assert!(!pidfile.exists(), "SIG{sig}: pidfile removed");
        assert!(
            run.log().contains(&format!("SIG{sig}: stopping now")),
            "{}",
            run.log()
        );
    }
}

/// Datagrams from lbproxy's syslog target, kept for the failure message.
struct Syslog {
    sock: std::net::UdpSocket,
    seen: Vec<String>,
}

impl Syslog {
    fn bind() -> Syslog {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp bind");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        Syslog {
            sock,
            seen: Vec::new(),
        }
    }

    fn port(&self) -> u16 {
        self.sock.local_addr().expect("addr").port()
    }

    /// The first datagram (seen before or arriving within 10 s) that `want` accepts.
    fn wait_for(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let t = Instant::now();
        let mut b = [0u8; 2048];
        loop {
            if let Some(l) = self.seen.iter().find(|l| want(l)) {
                return l.clone();
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "no syslog datagram {what}; got:\n{}",
                self.seen.join("\n")
            );
            if let Ok(n) = self.sock.recv(&mut b) {
                self.seen
                    .push(String::from_utf8_lossy(&b[..n]).into_owned());
            }
        }
    }
}

/// `%tr`: `01/Dec/2026:07:59:31.529`.
fn is_accept_date(d: &str) -> bool {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b = d.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        d.get(r)
            .is_some_and(|s| s.bytes().all(|c| c.is_ascii_digit()))
    };
    d.len() == 24
        && digits(0..2)
        && b[2] == b'/'
        && MONTHS.contains(&&d[3..6])
        && b[6] == b'/'
        && digits(7..11)
        && b[11] == b':'
        && digits(12..14)
        && b[14] == b':'
        && digits(15..17)
        && b[17] == b':'
        && digits(18..20)
        && b[20] == b'.'
        && digits(21..24)
}

/// `option httplog` with a UDP syslog target and `log stderr`: the line of one request,
/// checked field by field against HAProxy's httplog format (what haproxy 2.6 sends for the
/// same exchange: `<134>Dec  1 07:59:31 haproxy[31339]: 127.0.0.1:38070
/// [01/Dec/2026:07:59:31.529] fe be/s1 0/0/0/1/1 200 133 - - ---- 1/1/0/0/0 0/0 "GET /
/// HTTP/1.1"`), on both targets. Server state changes (DOWN, no server left, UP) reach
/// syslog too, at HAProxy's severities.
#[test]
fn httplog_line_on_syslog_and_stderr_and_state_changes_on_syslog() {
    let be = backend();
    let dead = free_port();
    let fe = free_port();
    let mut syslog = Syslog::bind();
    let dir = tempfile::tempdir().expect("dir");
    let run = Running::start(
        dir.path(),
        &format!(
            "global\n    log 127.0.0.1:{} local0\n    log stderr local0\n\
             defaults\n    mode http\n    log global\n    option httplog\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             frontend fe\n    bind 127.0.0.1:{fe}\n    default_backend be\n\
             backend be\n    server s1 127.0.0.1:{be}\n\
             backend dead\n    server d1 127.0.0.1:{dead} check inter 100ms fall 1\n",
            syslog.port()
        ),
    );
    run.wait_serving(fe, "hello from backend");

    let mut s = TcpStream::connect(("127.0.0.1", fe)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let client = s.local_addr().expect("addr");
    s.write_all(b"GET /path?q=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).expect("response");
    assert!(answer.starts_with(b"HTTP/1.1 200 "));

    let mark = format!("]: {client} [");
    let line = syslog.wait_for("for our request", |l| l.contains(&mark));
    // `<PRI>Mmm dd hh:mm:ss haproxy[PID]: ` with PRI = local0 (16) * 8 + info (6).
    let (hdr, msg) = line.split_once("]: ").expect("tag");
    assert!(hdr.starts_with("<134>"), "{line}");
    let date = &hdr[5..hdr.len().min(20)];
    assert_eq!(date.len(), 15, "{line}");
    assert_eq!(&date[3..4], " ", "{line}");
    assert_eq!(date.as_bytes()[9], b':', "{line}");
    assert_eq!(&hdr[20..], format!(" haproxy[{}", run.pid()), "{line}");
    // The request line is the quoted last field.
    let (fields, request) = msg.split_once(" \"").expect("quoted request");
    assert_eq!(request, "GET /path?q=1 HTTP/1.1\"", "{line}");
    let f: Vec<&str> = fields.split(' ').collect();
    assert_eq!(f.len(), 12, "{line}");
    assert_eq!(f[0], client.to_string(), "%ci:%cp");
    let tr = f[1]
        .strip_prefix('[')
        .and_then(|d| d.strip_suffix(']'))
        .unwrap_or("");
    assert!(is_accept_date(tr), "%tr: {line}");
    assert_eq!(f[2], "fe", "%ft");
    assert_eq!(f[3], "be/s1", "%b/%s");
    let t: Vec<i64> = f[4].split('/').map(|x| x.parse().expect("timer")).collect();
    assert_eq!(t.len(), 5, "%TR/%Tw/%Tc/%Tr/%Ta: {line}");
    assert!(t.iter().all(|&x| x >= 0), "all timers known: {line}");
    assert!(t[4] >= t[1] + t[2] + t[3], "Ta covers Tw+Tc+Tr: {line}");
    assert_eq!(f[5], "200", "%ST");
    assert_eq!(f[6], answer.len().to_string(), "%B = bytes the client got");
    assert_eq!((f[7], f[8]), ("-", "-"), "%CC %CS");
    assert_eq!(f[9], "----", "%tsc");
    let c: Vec<usize> = f[10]
        .split('/')
        .map(|x| x.parse().expect("conn count"))
        .collect();
    assert_eq!(c.len(), 5, "%ac/%fc/%bc/%sc/%rc: {line}");
    assert!(c[0] >= 1 && c[1] >= 1 && c[1] <= c[0], "{line}");
    assert_eq!(c[4], 0, "no retries: {line}");
    assert_eq!(f[11], "0/0", "%sq/%bq");
    // The same line on stderr.
    let t0 = Instant::now();
    while !run.log().contains(msg) {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "access line not on stderr: {msg}\n{}",
            run.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // State changes: DOWN at alert (16 * 8 + 1), "no server available" at emerg.
    let down = syslog.wait_for("for the DOWN server", |l| {
        l.contains("Server dead/d1 is DOWN")
    });
    assert!(down.starts_with("<129>"), "{down}");
    assert!(down.contains("reason: Layer4 connection problem"), "{down}");
    let none = syslog.wait_for("for the empty backend", |l| {
        l.contains("backend dead has no server available!")
    });
    assert!(none.starts_with("<128>"), "{none}");
    // The server comes back: UP at notice (16 * 8 + 5).
    let back = TcpListener::bind(("127.0.0.1", dead)).expect("rebind the dead port");
    let up = syslog.wait_for("for the server back UP", |l| {
        l.contains("Server dead/d1 is UP")
    });
    assert!(up.starts_with("<133>"), "{up}");
    drop(back);
    eprintln!("{line}\n{down}\n{none}\n{up}");
}

/// A dead server refuses every connect until a check would mark it down: the warning is
/// logged once per second with the failures it stands for, not once per request (the soak
/// test saw 3,795 lines in one second).
#[test]
fn refused_connects_are_logged_once_per_second() {
    let fe = free_port();
    let dead = free_port();
    let dir = tempfile::tempdir().expect("dir");
    let run = Running::start(
        dir.path(),
        &format!(
            "defaults\n    mode http\n    retries 0\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             frontend fe\n    bind 127.0.0.1:{fe}\n    default_backend be\n\
             backend be\n    server dead 127.0.0.1:{dead}\n"
        ),
    );
    run.wait_serving(fe, "503");
    for _ in 0..200 {
        assert!(get(fe).is_some_and(|a| a.starts_with("HTTP/1.1 503")));
    }
    let log = run.log();
    let lines = log
        .lines()
        .filter(|l| l.contains("connect to be/dead"))
        .count();
    assert!((1..=3).contains(&lines), "{lines} lines:\n{log}");
}
