//! Running the `lbproxy` binary in tests: free ports, tiny HTTP backends, a GET, the
//! process (killed when dropped) with its stderr in a file, signals.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A one-thread HTTP server answering every request with "hello from backend".
pub fn backend() -> u16 {
    backend_saying("hello from backend")
}

/// An HTTP server answering every request with `body`.
pub fn backend_saying(body: &'static str) -> u16 {
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

pub fn get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill -{sig}");
}

/// `lbproxy -f <cfg>` started in `dir`, its stderr in `dir/lbproxy.log`.
pub struct Running {
    pub proc: Proc,
    pub log: PathBuf,
}

impl Running {
    pub fn start(dir: &Path, cfg: &str) -> Running {
        Running::start_with(dir, cfg, &[])
    }

    /// As [`Running::start`], with more flags.
    pub fn start_with(dir: &Path, cfg: &str, flags: &[&str]) -> Running {
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

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.proc.0.id()
    }

    /// Waits until a GET on `port` answers with `expect` in it.
    pub fn wait_serving(&self, port: u16, expect: &str) {
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
    pub fn status_field(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("/proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in\n{status}"))
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
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
