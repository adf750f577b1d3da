//! Health checks against real sockets and processes.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use health::{
    run_once, run_script, spawn, Check, CheckKind, CheckStatus, HttpCheck, ScriptCheck,
    ScriptOutcome, Timing,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn argv(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn script_exit_codes() {
    let t = Duration::from_secs(5);
    assert_eq!(
        run_script(&argv(&["true"]), t, None, None).await.unwrap(),
        ScriptOutcome::Exited(0)
    );
    assert_eq!(
        run_script(&argv(&["sh", "-c", "exit 3"]), t, None, None)
            .await
            .unwrap(),
        ScriptOutcome::Exited(3)
    );
    assert!(run_script(&argv(&["/nonexistent/prog"]), t, None, None)
        .await
        .is_err());
    assert!(run_script(&[], t, None, None).await.is_err());
}

/// The timeout kills the whole process group (a grandchild too) and reaps the child.
#[tokio::test]
async fn script_timeout_kills_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("grandchild.pid");
    let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
    let start = Instant::now();
    let out = run_script(
        &argv(&["sh", "-c", &script]),
        Duration::from_millis(300),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(out, ScriptOutcome::TimedOut);
    assert!(start.elapsed() < Duration::from_secs(5));
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The grandchild must be gone (or at worst a zombie of init) shortly after.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
        let alive = match stat {
            Err(_) => false,
            Ok(s) => !s.contains(") Z "),
        };
        if !alive {
            break;
        }
        assert!(Instant::now() < deadline, "grandchild {pid} survived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn tcp_check_up_and_refused() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let r = run_once(&CheckKind::Tcp { addr }, Duration::from_secs(1)).await;
    assert_eq!(r.status, CheckStatus::L4Ok);
    drop(l);
    let r = run_once(&CheckKind::Tcp { addr }, Duration::from_secs(1)).await;
    assert_eq!(r.status, CheckStatus::L4Con);
    assert!(r.describe().starts_with("Layer4 connection problem"));
}

async fn http_server(status: u16) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let h = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(
                        format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n").as_bytes(),
                    )
                    .await;
            });
        }
    });
    (addr, h)
}

#[tokio::test]
async fn http_check_status() {
    let (addr, _h) = http_server(503).await;
    let mk = |expect| {
        CheckKind::Http(HttpCheck {
            addr,
            method: "GET".into(),
            uri: "/health".into(),
            host: None,
            expect_status: expect,
            layer: None,
        })
    };
    let r = run_once(&mk(None), Duration::from_secs(1)).await;
    assert_eq!(r.status, CheckStatus::L7Sts);
    assert_eq!(r.code, Some(503));
    let r = run_once(&mk(Some(503)), Duration::from_secs(1)).await;
    assert_eq!(r.status, CheckStatus::L7Ok);
}

/// The check sends the configured method and URI: HAProxy's HTTP/1.0 request without a
/// Host, or HTTP/1.1 with the Host of `option httpchk GET /x HTTP/1.1\r\nHost:\ h`.
#[tokio::test]
async fn http_check_sends_method_uri_and_host() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _h = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 1024];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&got).into_owned());
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                    .await;
            });
        }
    });
    let mk = |method: &str, uri: &str, host: Option<&str>| {
        CheckKind::Http(HttpCheck {
            addr,
            method: method.into(),
            uri: uri.into(),
            host: host.map(Into::into),
            expect_status: Some(200),
            layer: None,
        })
    };
    let t = Duration::from_secs(5);
    let r = run_once(&mk("GET", "/health", None), t).await;
    assert_eq!(r.status, CheckStatus::L7Ok);
    let req = tokio::time::timeout(t, rx.recv()).await.unwrap().unwrap();
    assert_eq!(req, "GET /health HTTP/1.0\r\n\r\n");
    let r = run_once(&mk("HEAD", "/status?full", Some("svc.example")), t).await;
    assert_eq!(r.status, CheckStatus::L7Ok);
    let req = tokio::time::timeout(t, rx.recv()).await.unwrap().unwrap();
    assert!(
        req.starts_with("HEAD /status?full HTTP/1.1\r\nHost: svc.example\r\n"),
        "{req:?}"
    );
}

#[tokio::test]
async fn http_check_timeout() {
    // Accepts but never answers.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let _h = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    let kind = CheckKind::Http(HttpCheck {
        addr,
        method: "OPTIONS".into(),
        uri: "/".into(),
        host: None,
        expect_status: None,
        layer: None,
    });
    let r = run_once(&kind, Duration::from_millis(200)).await;
    assert_eq!(r.status, CheckStatus::L7Timeout);
}

/// The spawned runner publishes DOWN after `fall` failures and UP after `rise` successes.
#[tokio::test]
async fn runner_publishes_transitions() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("ok");
    std::fs::write(&flag, "").unwrap();
    let check = Check {
        kind: CheckKind::Script(ScriptCheck {
            argv: argv(&["test", "-e", flag.to_str().unwrap()]),
            uid: None,
            gid: None,
        }),
        timing: Timing {
            timeout: Duration::from_secs(2),
            rise: 2,
            fall: 2,
            ..Timing::every(Duration::from_millis(30))
        },
    };
    let handle = spawn(check, true);
    let mut rx = handle.subscribe();
    std::fs::remove_file(&flag).unwrap();
    tokio::time::timeout(Duration::from_secs(5), rx.changed())
        .await
        .unwrap()
        .unwrap();
    let s = rx.borrow_and_update().clone();
    assert!(!s.up);
    assert_eq!(s.reason.unwrap().status, CheckStatus::ProcErr);
    std::fs::write(&flag, "").unwrap();
    tokio::time::timeout(Duration::from_secs(5), rx.changed())
        .await
        .unwrap()
        .unwrap();
    assert!(rx.borrow().up);
    assert_eq!(handle.state().transitions, 2);
}
