//! The `lbproxy` binary: `-c` check mode on the sample configs, and a real run on loopback
//! (a request proxied, SIGHUP with a bad file keeps serving, SIGUSR1 drains and exits 0).

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
    cmd.arg("-c");
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
                    let body = "hello from backend";
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
