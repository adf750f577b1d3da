//! lbproxy's file limit and listen backlogs (issue 18, faults 3 and 4): the limit is
//! raised to what `maxconn` needs or the start is refused with a clear message, `maxconn`
//! comes from the limit when unset, and each listener's backlog is chosen as HAProxy
//! chooses it (`bind ... backlog`, the frontend's `backlog`, its `maxconn`, the global
//! `maxconn`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod lbproxy_run;

use lbproxy_run::free_port;

/// A path for `tool`, or `None` with a message (a failure under `CI=true`).
fn tool(tool: &str) -> Option<()> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let msg = format!("'{tool}' is not installed (Debian: util-linux, iproute2)");
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        eprintln!("skipped: {msg}");
    }
    found.then_some(())
}

/// Writes `cfg` into `dir` (readable by everyone: one test runs lbproxy as nobody).
fn write_cfg(dir: &Path, cfg: &str) -> String {
    let file = dir.join("haproxy.cfg");
    std::fs::write(&file, cfg).expect("cfg");
    let _ = Command::new("chmod").arg("a+rx").arg(dir).status();
    let _ = Command::new("chmod").arg("a+r").arg(&file).status();
    file.display().to_string()
}

/// `prlimit --nofile=SOFT:HARD [setpriv as nobody] lbproxy -f FILE`.
fn lbproxy_under(nofile: &str, as_nobody: bool, file: &str) -> Command {
    let mut c = Command::new("prlimit");
    c.arg(format!("--nofile={nofile}"));
    if as_nobody {
        c.args([
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]);
    }
    c.arg(env!("CARGO_BIN_EXE_lbproxy")).args(["-f", file]);
    c
}

/// A running lbproxy, killed when dropped.
struct Running(Child, std::path::PathBuf);

impl Running {
    fn start(mut cmd: Command, dir: &Path) -> Running {
        let log = dir.join("stderr.log");
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("prlimit runs");
        Running(child, log)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.1).unwrap_or_default()
    }

    /// Waits until `port` accepts connections.
    fn wait_listening(&mut self, port: u16) {
        let t = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = self.0.try_wait() {
                panic!("lbproxy exited ({st}):\n{}", self.log());
            }
            assert!(t.elapsed() < Duration::from_secs(10), "{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The soft and hard "Max open files" of the process.
    fn file_limits(&self) -> (u64, u64) {
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", self.0.id()))
            .expect("/proc/PID/limits");
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .expect("Max open files");
        let n: Vec<u64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        (n[0], n[1])
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_to_end(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prlimit runs");
    let t = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if t.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("lbproxy did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn proxy_cfg(global: &str, fe: u16) -> String {
    format!(
        "global\n{global}defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{fe}\n    default_backend be\n\
         backend be\n    server s1 127.0.0.1:9\n"
    )
}

/// Unprivileged, with a hard limit of 256: `maxconn 500` needs 2 x 500 files plus the
/// process's own, so lbproxy refuses to start and says why, as HAProxy does.
#[test]
fn a_maxconn_the_file_limit_cannot_carry_refuses_to_start() {
    if !testkit::require_root("a_maxconn_the_file_limit_cannot_carry_refuses_to_start")
        || tool("prlimit").is_none()
        || tool("setpriv").is_none()
    {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let file = write_cfg(dir.path(), &proxy_cfg("    maxconn 500\n", free_port()));
    let out = run_to_end(lbproxy_under("256:256", true, &file));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("[ALERT] cannot raise the file limit to 1033 (maxconn 500)"),
        "{err}"
    );
    assert!(err.contains("lower 'maxconn' or raise the limit"), "{err}");
    // A maxconn the limit carries starts, under the same limit.
    let fe = free_port();
    let file = write_cfg(dir.path(), &proxy_cfg("    maxconn 50\n", fe));
    let mut run = Running::start(lbproxy_under("256:256", true, &file), dir.path());
    run.wait_listening(fe);
    assert_eq!(run.file_limits(), (256, 256));
}

/// The soft limit is raised to what `maxconn` needs (2 x 500 + 32 reserved + 1 listener).
#[test]
fn the_soft_limit_is_raised_to_what_maxconn_needs() {
    if tool("prlimit").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let fe = free_port();
    let file = write_cfg(dir.path(), &proxy_cfg("    maxconn 500\n", fe));
    let mut run = Running::start(lbproxy_under("256:4096", false, &file), dir.path());
    run.wait_listening(fe);
    assert_eq!(run.file_limits(), (1033, 4096), "{}", run.log());
    assert!(
        run.log().contains("file limit 1033, maxconn 500"),
        "{}",
        run.log()
    );
}

/// Without `maxconn`, the soft limit goes to the hard one and decides `maxconn`
/// ((4096 - 32 - 1) / 2), which also sizes the listen backlog.
#[test]
fn without_maxconn_the_file_limit_decides_it() {
    if tool("prlimit").is_none() || tool("ss").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let fe = free_port();
    let file = write_cfg(dir.path(), &proxy_cfg("", fe));
    let mut run = Running::start(lbproxy_under("256:4096", false, &file), dir.path());
    run.wait_listening(fe);
    assert_eq!(run.file_limits(), (4096, 4096));
    assert!(
        run.log()
            .contains("file limit 4096, maxconn 2031 (derived from the file limit)"),
        "{}",
        run.log()
    );
    assert_eq!(backlog_of(fe), 2031.min(somaxconn()));
}

/// The kernel's cap on listen backlogs.
fn somaxconn() -> u64 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096)
}

/// The backlog of the socket listening on 127.0.0.1:`port` (`ss`'s Send-Q).
fn backlog_of(port: u16) -> u64 {
    let out = Command::new("ss")
        .args(["-Hltn", &format!("sport = :{port}")])
        .output()
        .expect("ss runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    fields
        .get(2)
        .and_then(|q| q.parse().ok())
        .unwrap_or_else(|| panic!("no listener on {port}: {text:?}"))
}

/// Each listener's backlog, as HAProxy picks it.
#[test]
fn listen_backlogs_follow_bind_frontend_and_maxconn() {
    if tool("ss").is_none() {
        return;
    }
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let cfg = format!(
        "global\n    maxconn 200\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend by_bind\n    backlog 33\n    bind 127.0.0.1:{} backlog 7\n    default_backend be\n\
         frontend by_frontend\n    backlog 33\n    maxconn 50\n    bind 127.0.0.1:{}\n    default_backend be\n\
         frontend by_maxconn\n    maxconn 50\n    bind 127.0.0.1:{}\n    default_backend be\n\
         frontend by_global\n    bind 127.0.0.1:{}\n    default_backend be\n\
         backend be\n    server s1 127.0.0.1:9\n",
        ports[0], ports[1], ports[2], ports[3]
    );
    let dir = tempfile::tempdir().expect("dir");
    let file = write_cfg(dir.path(), &cfg);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lbproxy"));
    cmd.args(["-f", &file]);
    let mut run = Running::start(cmd, dir.path());
    for p in &ports {
        run.wait_listening(*p);
    }
    let got: Vec<u64> = ports.iter().map(|p| backlog_of(*p)).collect();
    assert_eq!(got, vec![7, 33, 50, 200], "{}", run.log());
    // Still serving after all that: one request through.
    let mut s = TcpStream::connect(("127.0.0.1", ports[3])).expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
}

/// `ulimit-n` sets the limit itself, as in HAProxy, and one below what `maxconn` needs is
/// refused with both numbers.
#[test]
fn ulimit_n_sets_the_limit_and_must_carry_maxconn() {
    if tool("prlimit").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let fe = free_port();
    let file = write_cfg(
        dir.path(),
        &proxy_cfg("    ulimit-n 300\n    maxconn 100\n", fe),
    );
    let mut run = Running::start(lbproxy_under("1024:4096", false, &file), dir.path());
    run.wait_listening(fe);
    assert_eq!(run.file_limits(), (300, 4096), "{}", run.log());
    let file = write_cfg(
        dir.path(),
        &proxy_cfg("    ulimit-n 300\n    maxconn 500\n", fe),
    );
    let out = run_to_end(lbproxy_under("1024:4096", false, &file));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("[ALERT] 'ulimit-n 300' is below the 1033 files 'maxconn 500' needs"),
        "{err}"
    );
}
