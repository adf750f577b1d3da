//! A scrape of several sources at once: each within its own deadline, a failing or hanging
//! one publishing only its `*_up` 0, credentials sent, keepalived read through its signals
//! (a stand-in process that answers them as keepalived does: by writing its dump files), and
//! the server's pages. Loopback and a temporary directory only.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{captured, parse_exposition};
use exporters::fetch::HttpTarget;
use exporters::scrape::{Collector, HaproxyAt, KeepalivedAt, Signals, Source, SourceKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};

/// An HTTP server on loopback answering every request with `body`, or 401 when
/// `authorization` is set and the request does not carry it. Its port.
async fn http_server(body: String, authorization: Option<&'static str>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut head = vec![0u8; 4096];
                let n = conn.read(&mut head).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&head[..n]).to_lowercase();
                let allowed = authorization
                    .is_none_or(|a| head.contains(&format!("authorization: {}", a.to_lowercase())));
                let reply = if allowed {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    "HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n".to_string()
                };
                let _ = conn.write_all(reply.as_bytes()).await;
            });
        }
    });
    port
}

/// A server that accepts and never answers. Its port.
async fn silent_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    port
}

/// HAProxy's CLI socket at `path`: answers `show stat` with the captured output.
fn cli_socket(path: &Path) {
    let listener = UnixListener::bind(path).expect("bind unix socket");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut cmd = [0u8; 64];
            let n = conn.read(&mut cmd).await.unwrap_or(0);
            if &cmd[..n] == b"show stat\n" {
                let _ = conn
                    .write_all(captured("haproxy-2.6/show-stat.txt").as_bytes())
                    .await;
            }
        }
    });
}

fn http(uri: &str) -> HttpTarget {
    HttpTarget::parse(uri).expect("uri")
}

fn source(kind: SourceKind) -> Source {
    Source::new(kind, Duration::from_millis(400))
}

#[tokio::test]
async fn every_source_at_once_a_silent_or_refusing_one_only_sets_its_up_to_zero() {
    let dir = tempfile::tempdir().expect("dir");
    let csv = http_server(
        captured("haproxy-2.6/stats.csv"),
        Some("Basic YWRtaW46czNjcmV0"),
    )
    .await;
    let status = http_server(captured("vrrpd-status.json"), None).await;
    let silent = silent_server().await;
    let socket = dir.path().join("admin.sock");
    cli_socket(&socket);
    let ok = format!("http://admin:s3cret@127.0.0.1:{csv}/stats;csv");
    // Another path: two sources named alike would publish the same series.
    let wrong = format!("http://admin:guess@127.0.0.1:{csv}/other;csv");
    let hangs = format!("http://127.0.0.1:{silent}/stats;csv");
    let collector = Collector {
        sources: vec![
            source(SourceKind::Haproxy(HaproxyAt::Http(http(&ok)))),
            source(SourceKind::Haproxy(HaproxyAt::Http(http(&wrong)))),
            source(SourceKind::Haproxy(HaproxyAt::Http(http(&hangs)))),
            source(SourceKind::Haproxy(HaproxyAt::Unix(socket.clone()))),
            source(SourceKind::Vrrpd(http(&format!(
                "http://127.0.0.1:{status}/status"
            )))),
        ],
        check_script: None,
    };
    let start = Instant::now();
    let s = parse_exposition(&collector.collect().await);
    // The silent source is given up at its deadline, and the others did not wait for it.
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    let up = |socket: &str| s.value("haproxy_up", &[("socket", socket)]);
    let shown = |uri: &str| exporters::fetch::redact(uri);
    assert_eq!(up(&shown(&ok)), Some(1.0));
    assert_eq!(up(&shown(&wrong)), Some(0.0), "401: wrong password");
    assert_eq!(up(&shown(&hangs)), Some(0.0), "no answer in time");
    assert_eq!(up(&format!("unix:{}", socket.display())), Some(1.0));
    assert_eq!(s.value("keepalived_up", &[]), Some(1.0));
    // Both good CSV sources publish their servers, told apart by `socket`.
    let web3 = |socket: &str| {
        s.value(
            "haproxy_server_up",
            &[
                ("backend", "be_app"),
                ("server", "web3"),
                ("socket", socket),
            ],
        )
    };
    assert_eq!(web3(&shown(&ok)), Some(0.0));
    assert_eq!(web3(&format!("unix:{}", socket.display())), Some(0.0));
    assert_eq!(
        web3(&shown(&wrong)),
        None,
        "a failed source publishes nothing but its up"
    );
    // Passwords never reach a label.
    assert!(s
        .samples
        .keys()
        .all(|(_, l)| l.iter().all(|(_, v)| !v.contains("s3cret"))));
}

/// A stand-in keepalived: a shell that writes the captured dumps into `dir` when it gets
/// keepalived's DATA (10), STATS (12) and JSON (36) signals, as keepalived does. Its pid
/// file.
fn fake_keepalived(dir: &Path) -> (std::process::Child, PathBuf) {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/exporters/keepalived-2.2.7/master");
    let pid = dir.join("keepalived.pid");
    let script = format!(
        "trap 'cp {s}/keepalived.data {d}/' 10; trap 'cp {s}/keepalived.stats {d}/' 12; \
         trap 'cp {s}/keepalived.json {d}/' 36; echo $$ > {p}; while :; do sleep 0.02; done",
        s = src.display(),
        d = dir.display(),
        p = pid.display()
    );
    let child = std::process::Command::new("sh")
        .args(["-c", &script])
        .spawn()
        .expect("sh");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pid.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    (child, pid)
}

#[tokio::test]
async fn keepalived_is_read_through_its_signals_from_the_files_or_the_json_dump() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut child, pid_file) = fake_keepalived(dir.path());
    let signals = Signals {
        data: 10,
        stats: 12,
        json: Some(36),
    };
    // The exporter's check script: VIP .100 passes, the others fail.
    let check = dir.path().join("check.sh");
    std::fs::write(&check, "#!/bin/sh\n[ \"$1\" = 198.18.5.100/24 ]\n").expect("script");
    std::fs::set_permissions(&check, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    for json in [false, true] {
        let at = KeepalivedAt {
            pid_file: pid_file.clone(),
            dump_dir: dir.path().into(),
            json,
            signals,
        };
        let collector = Collector {
            sources: vec![Source::new(
                SourceKind::Keepalived(at),
                Duration::from_secs(3),
            )],
            check_script: Some(check.clone()),
        };
        let s = parse_exposition(&collector.collect().await);
        assert_eq!(s.value("keepalived_up", &[]), Some(1.0), "json: {json}");
        let vip = [
            ("iname", "VI_1"),
            ("intf", "eth0"),
            ("vrid", "51"),
            ("ip_address", "198.18.5.100/24"),
        ];
        assert_eq!(
            s.value("keepalived_vrrp_state", &vip),
            Some(2.0),
            "json: {json}"
        );
        // Track scripts are in the data file only.
        let script = s.value("keepalived_script_status", &[("name", "chk_true")]);
        assert_eq!(script, if json { None } else { Some(1.0) });
        let checked = |vip: &str| {
            let l = [
                ("iname", "VI_1"),
                ("intf", "eth0"),
                ("vrid", "51"),
                ("ip_address", vip),
            ];
            s.value("keepalived_check_script_status", &l)
        };
        assert_eq!(checked("198.18.5.100/24"), Some(1.0));
        assert_eq!(checked("198.18.5.101/24"), Some(0.0));
    }
    let _ = child.kill();
    let _ = child.wait();
    // keepalived gone: its up is 0 (the pid file names no process).
    let at = KeepalivedAt {
        pid_file,
        dump_dir: dir.path().into(),
        json: false,
        signals,
    };
    let collector = Collector {
        sources: vec![Source::new(
            SourceKind::Keepalived(at),
            Duration::from_millis(300),
        )],
        check_script: None,
    };
    let s = parse_exposition(&collector.collect().await);
    assert_eq!(s.value("keepalived_up", &[]), Some(0.0));
}

#[tokio::test]
async fn the_server_answers_metrics_a_landing_page_and_404() {
    let csv = http_server(captured("haproxy-2.6/stats.csv"), None).await;
    let collector = Collector {
        sources: vec![source(SourceKind::Haproxy(HaproxyAt::Http(http(
            &format!("http://127.0.0.1:{csv}/;csv"),
        ))))],
        check_script: None,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(exporters::serve::serve(
        listener,
        "/metrics".into(),
        Arc::new(collector),
    ));
    let metrics = http(&format!("http://127.0.0.1:{port}/metrics"))
        .get()
        .await
        .expect("metrics");
    let s = parse_exposition(&metrics);
    assert_eq!(s.value("haproxy_up", &[]), Some(1.0));
    assert_eq!(s.family("haproxy_server_up").len(), 9);
    let landing = http(&format!("http://127.0.0.1:{port}/"))
        .get()
        .await
        .expect("landing page");
    assert!(landing.contains("<a href=\"/metrics\">"), "{landing}");
    let missing = http(&format!("http://127.0.0.1:{port}/nothing"))
        .get()
        .await;
    assert!(matches!(
        missing,
        Err(exporters::fetch::FetchError::Status { status: 404, .. })
    ));
}
