//! The OCF resource agents of deploy/ocf/ (Pacemaker), run by Debian's ocf-tester against
//! this build's binaries: meta-data against ra-api-1.dtd, then every action and its exit
//! code (probe, start, monitor, stop, start twice, stop twice). lbproxy's validate-all on a
//! bad configuration exits 6 (OCF_ERR_CONFIGURED) and names the file and line.
//! scripts/ocf-check.sh runs the same against the release binaries.
//!
//! Needs ocf-tester, ocf-shellfuncs, xmllint and curl (apt-get install resource-agents
//! libxml2-utils curl), and root for ocf-tester (it runs meta-data as nobody): without them
//! a test is skipped with a message, or fails when `CI=true`.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const OCF_ROOT: &str = "/usr/lib/ocf";
const AGENTS: [&str; 2] = ["lbproxy", "lb-exporter"];

/// Whether every tool is there; a missing one skips the test (fails it under CI=true).
fn tools_present(test: &str) -> bool {
    let mut missing: Vec<&str> = ["ocf-tester", "xmllint", "curl"]
        .into_iter()
        .filter(|t| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if !Path::new(OCF_ROOT)
        .join("lib/heartbeat/ocf-shellfuncs")
        .exists()
    {
        missing.push("ocf-shellfuncs");
    }
    if missing.is_empty() {
        return true;
    }
    let message =
        format!("{test}: missing {missing:?} (apt-get install resource-agents libxml2-utils curl)");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message} (CI=true, so not skipping)");
    }
    eprintln!("SKIPPED: {message}");
    false
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A haproxy.cfg whose only listener is a stats page on 127.0.0.1:`port`.
fn stats_cfg(port: u16) -> String {
    format!(
        "global\n    maxconn 256\n\ndefaults\n    mode http\n    timeout connect 5s\n    \
         timeout client 30s\n    timeout server 30s\n\nlisten stats\n    bind 127.0.0.1:{port}\n    \
         stats enable\n    stats uri /stats\n"
    )
}

/// A directory everyone can read (ocf-tester runs meta-data as nobody) with a copy of the
/// agents. Dropping it stops whatever an aborted ocf-tester left running.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        let dir = tempfile::tempdir().expect("temp dir");
        let mode = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(dir.path(), mode.clone()).expect("chmod the temp dir");
        let deploy = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/ocf");
        for agent in AGENTS {
            let to = dir.path().join(agent);
            std::fs::copy(deploy.join(agent), &to).expect("copy the agent");
            std::fs::set_permissions(&to, mode.clone()).expect("chmod the agent");
        }
        Work { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str, text: &str) -> String {
        std::fs::write(self.path(name), text).expect("write");
        self.path(name).display().to_string()
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        for agent in AGENTS {
            let _ = Command::new(self.path(agent))
                .arg("stop")
                .env("OCF_ROOT", OCF_ROOT)
                .env("OCF_RESKEY_pidfile", self.path(&format!("{agent}.pid")))
                .output();
        }
    }
}

/// `ocf-tester -n NAME -o KEY=VALUE... AGENT`, which must pass.
fn ocf_tester(work: &Work, agent: &str, params: &[(&str, String)]) {
    let mut cmd = Command::new("ocf-tester");
    cmd.env("OCF_ROOT", OCF_ROOT).args(["-n", agent]);
    for (key, value) in params {
        cmd.arg("-o").arg(format!("{key}={value}"));
    }
    let out = cmd.arg(work.path(agent)).output().expect("ocf-tester runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(work.path(&format!("{agent}.log"))).unwrap_or_default();
    assert!(
        out.status.success() && text.contains("passed all tests"),
        "ocf-tester {agent}:\n{text}\n{agent}'s log:\n{log}"
    );
}

#[test]
fn ocf_tester_passes_the_lbproxy_agent() {
    if !testkit::require_root("ocf_tester_passes_the_lbproxy_agent")
        || !tools_present("ocf_tester_passes_the_lbproxy_agent")
    {
        return;
    }
    let work = Work::new();
    let port = free_port();
    let config = work.file("haproxy.cfg", &stats_cfg(port));
    ocf_tester(
        &work,
        "lbproxy",
        &[
            ("binary", env!("CARGO_BIN_EXE_lbproxy").to_string()),
            ("config", config),
            ("pidfile", work.path("lbproxy.pid").display().to_string()),
            ("logfile", work.path("lbproxy.log").display().to_string()),
            ("status_url", format!("http://127.0.0.1:{port}/stats;csv")),
        ],
    );
}

#[test]
fn ocf_tester_passes_the_lb_exporter_agent() {
    if !testkit::require_root("ocf_tester_passes_the_lb_exporter_agent")
        || !tools_present("ocf_tester_passes_the_lb_exporter_agent")
    {
        return;
    }
    let work = Work::new();
    ocf_tester(
        &work,
        "lb-exporter",
        &[
            ("binary", env!("CARGO_BIN_EXE_lb-exporter").to_string()),
            (
                "haproxy_scrape_uri",
                format!("http://127.0.0.1:{}/stats;csv", free_port()),
            ),
            ("listen_address", format!("127.0.0.1:{}", free_port())),
            (
                "pidfile",
                work.path("lb-exporter.pid").display().to_string(),
            ),
            (
                "logfile",
                work.path("lb-exporter.log").display().to_string(),
            ),
            // The checkout may sit where nobody (the default user) cannot reach the
            // binary; scripts/ocf-check.sh runs it as nobody.
            ("user", "root".to_string()),
        ],
    );
}

#[test]
fn lbproxy_validate_all_refuses_a_bad_config_with_its_file_and_line() {
    if !tools_present("lbproxy_validate_all_refuses_a_bad_config_with_its_file_and_line") {
        return;
    }
    let work = Work::new();
    let bad = work.file(
        "bad.cfg",
        "frontend f\n    bind 127.0.0.1:9\n    no_such_keyword here\n",
    );
    let out = Command::new(work.path("lbproxy"))
        .arg("validate-all")
        .env("OCF_ROOT", OCF_ROOT)
        .env("OCF_RESKEY_binary", env!("CARGO_BIN_EXE_lbproxy"))
        .env("OCF_RESKEY_config", &bad)
        .env("OCF_RESKEY_pidfile", work.path("lbproxy.pid"))
        .output()
        .expect("the agent runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(6), "OCF_ERR_CONFIGURED:\n{text}");
    assert!(
        text.contains(&format!("{bad}:3:")) && text.contains("no_such_keyword"),
        "the checker's message with file:line:\n{text}"
    );
    assert!(text.contains("ocf-exit-reason:"), "an exit reason:\n{text}");

    // A valid file passes.
    let good = work.file("good.cfg", &stats_cfg(free_port()));
    let status = Command::new(work.path("lbproxy"))
        .arg("validate-all")
        .env("OCF_ROOT", OCF_ROOT)
        .env("OCF_RESKEY_binary", env!("CARGO_BIN_EXE_lbproxy"))
        .env("OCF_RESKEY_config", &good)
        .env("OCF_RESKEY_pidfile", work.path("lbproxy.pid"))
        .output()
        .expect("the agent runs")
        .status;
    assert_eq!(status.code(), Some(0), "a valid configuration");
}
