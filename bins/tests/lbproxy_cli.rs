//! The `lbproxy` binary: `-c` check mode on the sample configs, and a real run on loopback
//! (a request proxied, SIGHUP with a bad file keeps serving, SIGUSR1 drains and exits 0),
//! reloads on SIGHUP/SIGUSR2, SIGTERM/SIGINT and the pidfile, nbthread, --metrics-addr.
//! Bodies are in lbproxy_bodies.rs, logs in lbproxy_logs.rs, limits in lbproxy_limits.rs.

mod lbproxy_run;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lbproxy_run::*;

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
