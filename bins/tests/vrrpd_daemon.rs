//! Without `-n`, `vrrpd` forks into the background as keepalived does: the command returns
//! at once and the daemon, found by its pid file, runs VRRP until SIGTERM. Without `-l` it
//! logs to syslog, or to the stderr it was started with when there is no /dev/log.

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{has_vip, within};
use testkit::spawn;

const VIP: &str = "198.18.0.100";

/// Kills the daemon named by a pid file if the test ends (or fails) with it still running.
struct DaemonGuard(PathBuf);

fn pid_of(pid_file: &Path) -> Option<i32> {
    std::fs::read_to_string(pid_file).ok()?.trim().parse().ok()
}

/// Whether `pid` runs (a zombie does not count: nobody may reap an orphan here).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

impl Drop for DaemonGuard {
    fn drop(&mut self) {
        if let Some(pid) = pid_of(&self.0) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[test]
fn without_n_vrrpd_returns_at_once_and_leaves_a_daemon_running() {
    let Some(lab) = common::lab("daemonize", "vdmn", &["a"]) else {
        return;
    };
    let ns = lab.node("a").ns();
    let dir = tempfile::tempdir().expect("dir");
    let conf = dir.path().join("keepalived.conf");
    std::fs::write(
        &conf,
        format!(
            "vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 151
    priority 100
    advert_int 0.1
    version 3
    virtual_ipaddress {{
        {VIP}/24
    }}
}}
"
        ),
    )
    .expect("conf");
    let pid_file = dir.path().join("vrrpd.pid");
    let _guard = DaemonGuard(pid_file.clone());
    let started = Instant::now();
    let mut parent = spawn(
        ns,
        [
            env!("CARGO_BIN_EXE_vrrpd"),
            "-f",
            conf.to_str().expect("utf-8 path"),
            "-p",
            pid_file.to_str().expect("utf-8 path"),
        ],
    )
    .expect("vrrpd runs");
    let status = parent
        .wait_timeout(Duration::from_secs(3))
        .expect("wait")
        .unwrap_or_else(|| panic!("vrrpd returns at once\n{}", parent.log()));
    assert!(status.success(), "{}", parent.log());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "returned at once, not after {:?}",
        started.elapsed()
    );
    let syslog = Path::new("/dev/log").exists();
    if !syslog {
        assert!(
            parent.log().contains("syslog socket /dev/log unusable"),
            "no syslog here: said so: {}",
            parent.log()
        );
    }
    within(Duration::from_secs(3), || pid_of(&pid_file).is_some())
        .unwrap_or_else(|| panic!("pid file written\n{}", parent.log()));
    let pid = pid_of(&pid_file).expect("pid");
    assert!(alive(pid), "the daemon runs");
    let vip: IpAddr = VIP.parse().expect("literal");
    within(Duration::from_secs(3), || has_vip(ns, vip))
        .unwrap_or_else(|| panic!("the daemon becomes Master\n{}", parent.log()));
    if !syslog {
        // Without syslog the daemon keeps logging to the stderr it was started with.
        within(Duration::from_secs(2), || {
            parent.log().contains("Entering MASTER STATE")
        })
        .unwrap_or_else(|| panic!("the daemon logs to stderr\n{}", parent.log()));
    }
    // In its own session, no longer a child of the command that started it.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    assert_eq!(
        fields.get(3),
        Some(&pid.to_string().as_str()),
        "session leader: {stat}"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    within(Duration::from_secs(5), || !alive(pid)).expect("the daemon stops on SIGTERM");
    assert!(!has_vip(ns, vip), "VIP removed at shutdown");
    assert!(!pid_file.exists(), "pid file removed at shutdown");
}
