//! Scripts and delays through the real daemon: notify_backup/notify_fault/notify_stop, a
//! track script that times out, the warning about the missing default script user, and
//! preempt_delay on the wire.

mod common;

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{has_vip, within, write_script, Vrrpd};
use testkit::{Capture, Signal};

const VIP: &str = "198.18.0.100";

fn vip() -> IpAddr {
    VIP.parse().expect("literal address")
}

fn instance(vrid: u8, priority: u8, extra: &str) -> String {
    common::vrrp_instance("VI_1", vrid, priority, &[format!("{VIP}/24")], extra)
}

const NO_USER: &str = "default script user 'keepalived_script' does not exist";

/// Whether the system has keepalived's default script user (then vrrpd does not warn).
fn has_keepalived_script_user() -> bool {
    std::process::Command::new("getent")
        .args(["passwd", "keepalived_script"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn notify_backup_fault_and_stop_scripts_run() {
    let dir = tempfile::tempdir().expect("dir");
    let hook = |state: &str| {
        let file = dir.path().join(format!("{state}.ran"));
        let s = write_script(
            dir.path(),
            &format!("{state}.sh"),
            &format!("echo {state} >> {}", file.display()),
            0o755,
        );
        (s, file)
    };
    let (backup, backup_ran) = hook("backup");
    let (fault, fault_ran) = hook("fault");
    let (stop, stop_ran) = hook("stop");
    let Some(lab) = common::lab("notify_states", "vscnot", &["a"]) else {
        return;
    };
    let ns = lab.node("a").ns();
    let conf = instance(
        161,
        100,
        &format!(
            "notify_backup {}\n    notify_fault {}\n    notify_stop {}",
            backup.display(),
            fault.display(),
            stop.display()
        ),
    );
    let mut d = Vrrpd::start(ns, &conf).expect("vrrpd");
    within(Duration::from_secs(3), || backup_ran.exists())
        .unwrap_or_else(|| panic!("notify_backup at the start as BACKUP\n{}", d.log()));
    within(Duration::from_secs(3), || has_vip(ns, vip()))
        .unwrap_or_else(|| panic!("master\n{}", d.log()));
    assert!(!fault_ran.exists() && !stop_ran.exists());

    lab.set_port("a", false).expect("a's link down");
    within(Duration::from_secs(3), || fault_ran.exists())
        .unwrap_or_else(|| panic!("notify_fault when the link goes\n{}", d.log()));
    assert_eq!(d.state("VI_1").as_deref(), Some("FAULT"));
    lab.set_port("a", true).expect("a's link up");
    within(Duration::from_secs(3), || {
        d.state("VI_1").as_deref() == Some("MASTER")
    })
    .unwrap_or_else(|| panic!("master again\n{}", d.log()));
    assert!(!stop_ran.exists());

    d.proc
        .stop(Signal::SIGTERM, Duration::from_secs(5))
        .expect("stopped");
    within(Duration::from_secs(2), || stop_ran.exists())
        .unwrap_or_else(|| panic!("notify_stop at shutdown\n{}", d.log()));
    let backups = std::fs::read_to_string(&backup_ran).unwrap_or_default();
    assert!(
        backups.lines().count() >= 2,
        "BACKUP at the start and again after FAULT: {backups:?}"
    );
}

#[test]
fn a_track_script_that_times_out_counts_as_failed() {
    let Some(lab) = common::lab("script_timeout", "vsctmo", &["a"]) else {
        return;
    };
    let ns = lab.node("a").ns();
    let conf = format!(
        "vrrp_script slow {{\n    script \"/bin/sleep 10\"\n    interval 2\n    timeout 1\n    weight 0\n}}\n{}",
        instance(162, 100, "track_script {\n slow\n }")
    );
    let d = Vrrpd::start(ns, &conf).expect("vrrpd");
    within(Duration::from_secs(5), || {
        d.state("VI_1").as_deref() == Some("FAULT")
    })
    .unwrap_or_else(|| panic!("a timed-out weight-0 script means FAULT\n{}", d.log()));
    assert!(d.log().contains("timed out"), "{}", d.log());
    assert!(!has_vip(ns, vip()));
    // The killed script is not left running.
    let pgrep = testkit::exec(ns, ["pgrep", "-f", "^/bin/sleep 10$"]).expect("pgrep");
    let left: Vec<String> = String::from_utf8_lossy(&pgrep.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    // Another run may be in flight (interval 2 s, timeout 1 s): at most one.
    assert!(left.len() <= 1, "timed-out runs killed: {left:?}");
}

#[test]
fn the_missing_default_script_user_is_logged_for_track_and_notify_scripts() {
    if has_keepalived_script_user() {
        eprintln!("keepalived_script exists here: vrrpd has nothing to warn about; skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let notify = write_script(dir.path(), "n.sh", "true", 0o755);
    let Some(lab) = common::lab("script_user_missing", "vscusr", &["a"]) else {
        return;
    };
    let ns = lab.node("a").ns();
    let cases = [
        (
            "track script",
            format!(
                "vrrp_script ok {{\n    script \"/bin/true\"\n}}\n{}",
                instance(163, 100, "track_script {\n ok\n }")
            ),
            true,
        ),
        (
            "notify only",
            instance(163, 100, &format!("notify_master {}", notify.display())),
            true,
        ),
        ("no scripts", instance(163, 100, ""), false),
    ];
    for (what, conf, warned) in cases {
        let mut d = Vrrpd::start(ns, &conf).expect("vrrpd");
        within(Duration::from_secs(3), || {
            d.log().contains("instance started")
        })
        .unwrap_or_else(|| panic!("{what}: started\n{}", d.log()));
        assert_eq!(d.log().contains(NO_USER), warned, "{what}:\n{}", d.log());
        d.proc
            .stop(Signal::SIGTERM, Duration::from_secs(5))
            .expect("stopped");
    }
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

#[test]
fn preempt_delay_holds_back_a_preempting_restart_on_the_wire() {
    let Some(lab) = common::lab("preempt_delay", "vscpd", &["a", "b"]) else {
        return;
    };
    let (a_ns, b_ns) = (lab.node("a").ns(), lab.node("b").ns());
    let a_ip = lab.node("a").ipv4();
    let b = Vrrpd::start(b_ns, &instance(164, 100, "")).expect("b");
    within(Duration::from_secs(3), || has_vip(b_ns, vip()))
        .unwrap_or_else(|| panic!("b master\n{}", b.log()));
    let capture = Capture::start(b_ns, "eth0", &["ip", "proto", "112"]).expect("tcpdump");
    // a outranks b but waits 2 s after its start before it preempts.
    let started = since_epoch();
    let a = Vrrpd::start(
        a_ns,
        &instance(164, 110, "state BACKUP\n    preempt_delay 2"),
    )
    .expect("a");
    within(Duration::from_secs(5), || has_vip(a_ns, vip()))
        .unwrap_or_else(|| panic!("a preempts in the end\na:\n{}\nb:\n{}", a.log(), b.log()));
    let took = since_epoch().saturating_sub(started);
    std::thread::sleep(Duration::from_millis(200));
    let frames = capture.stop().expect("capture").frames;
    let first_from_a = frames
        .iter()
        .filter(|f| f.is_vrrp())
        .find(|f| f.ipv4_addrs().is_some_and(|(src, _)| src == a_ip))
        .map(|f| f.ts.saturating_sub(started))
        .unwrap_or_else(|| panic!("an advert from a\na:\n{}", a.log()));
    assert!(
        first_from_a >= Duration::from_millis(1900),
        "a's first advert {first_from_a:?} after its start, not before preempt_delay (2 s)\n{}",
        a.log()
    );
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(4),
        "a takes over after about 2 s, took {took:?}"
    );
    // Until then b stayed Master: its adverts kept coming during the delay.
    let b_ip = lab.node("b").ipv4();
    let b_during = frames
        .iter()
        .filter(|f| f.is_vrrp() && f.ts >= started + Duration::from_millis(500))
        .filter(|f| f.ts < started + Duration::from_millis(1800))
        .filter(|f| f.ipv4_addrs().is_some_and(|(src, _)| src == b_ip))
        .count();
    assert!(b_during >= 8, "b advertises during a's delay: {b_during}");
}
