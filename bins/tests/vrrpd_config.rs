//! `vrrpd -t` on the keepalived.conf files of the documentation and tutorials (and on bad
//! ones), SIGHUP reload, notify scripts, script security, sync groups, link down, an
//! interface missing at start or deleted.

mod common;

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{has_vip, within, write_script, Vrrpd};
use testkit::Lab;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/keepalived")
}

fn check(file: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vrrpd"))
        .args(["-t", "-f"])
        .arg(file)
        .output()
        .expect("vrrpd runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn documentation_and_tutorial_configs_pass_the_check() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata())
        .expect("testdata")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.push(testdata().join("include/keepalived.conf"));
    assert!(files.len() >= 10, "samples present: {files:?}");
    for file in files {
        let (ok, stderr) = check(&file);
        assert!(ok, "{} should load: {stderr}", file.display());
        assert!(stderr.contains("configuration OK"), "{stderr}");
    }
}

#[test]
fn bad_configs_fail_the_check_with_a_position() {
    let dir = testdata().join("bad");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("bad dir") {
        let file = entry.expect("entry").path();
        if file.extension().is_none_or(|e| e != "conf") {
            continue;
        }
        n += 1;
        let (ok, stderr) = check(&file);
        assert!(!ok, "{} must be rejected", file.display());
        // file:line:col, as the parser reports it.
        let name = file.file_name().and_then(|f| f.to_str()).expect("name");
        let has_position = stderr.lines().any(|l| {
            l.split(name).nth(1).is_some_and(|rest| {
                let mut parts = rest.trim_start_matches(':').split(':');
                parts.next().is_some_and(|p| p.parse::<u32>().is_ok())
                    && parts
                        .next()
                        .is_some_and(|p| p.trim().parse::<u32>().is_ok())
            })
        });
        assert!(has_position, "{name}: error names file:line:col: {stderr}");
    }
    assert!(n >= 10);
    // A missing file is an error too, not a panic.
    let (ok, stderr) = check(Path::new("/nonexistent/keepalived.conf"));
    assert!(!ok);
    assert!(stderr.contains("/nonexistent/keepalived.conf"), "{stderr}");
}

#[test]
fn the_check_reports_every_error_once_with_its_place() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("two-errors.conf");
    std::fs::write(
        &file,
        "vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 300
    priority 300
    virtual_ipaddress {
        198.18.0.100/24
    }
}
",
    )
    .expect("conf");
    let out = Command::new(env!("CARGO_BIN_EXE_vrrpd"))
        .args(["-t", "-f"])
        .arg(&file)
        .output()
        .expect("vrrpd runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let place = |line_col: &str| format!("{}:{line_col}: ", file.display());
    for expected in [
        format!(
            "{}expected an integer 1..255 for virtual_router_id, found \"300\"",
            place("3:23")
        ),
        format!(
            "{}expected an integer 1..255 for priority, found \"300\"",
            place("4:14")
        ),
    ] {
        assert_eq!(
            stderr.matches(&expected).count(),
            1,
            "printed once: {expected}\n{stderr}"
        );
    }
    assert!(!stderr.contains("configuration OK"), "{stderr}");
}

const VIP1: &str = "198.18.0.101";
const VIP2: &str = "198.18.0.102";

fn ip(s: &str) -> IpAddr {
    s.parse().expect("literal address")
}

fn instance(name: &str, vrid: u8, priority: u8, vip: &str, extra: &str) -> String {
    common::vrrp_instance(name, vrid, priority, &[format!("{vip}/24")], extra)
}

#[test]
fn sighup_reload_adds_and_removes_instances_and_keeps_the_config_on_error() {
    let Some(lab) = common::lab("reload", "vcfrl", &["a"]) else {
        return;
    };
    let ns = lab.node("a").ns();
    let one = instance("VI_1", 81, 100, VIP1, "");
    let mut d = Vrrpd::start(ns, &one).expect("vrrpd");
    within(Duration::from_secs(3), || has_vip(ns, ip(VIP1))).expect("VI_1 master");

    let two = format!("{one}{}", instance("VI_2", 82, 100, VIP2, ""));
    d.reload(&two);
    within(Duration::from_secs(3), || has_vip(ns, ip(VIP2)))
        .unwrap_or_else(|| panic!("VI_2 added by reload\n{}", d.log()));
    assert!(has_vip(ns, ip(VIP1)), "VI_1 untouched by the reload");
    assert_eq!(d.status()["reloads"], 1);

    d.reload(
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 300\n    priority 300\n}\n",
    );
    within(Duration::from_secs(3), || {
        d.status()["reload_failures"] == 1
    })
    .unwrap_or_else(|| panic!("bad reload counted\n{}", d.log()));
    assert!(d.log().contains("reload rejected"), "{}", d.log());
    // Every error is logged, each naming its line.
    for place in [":3:23: ", ":4:14: "] {
        assert_eq!(
            d.log().matches(place).count(),
            1,
            "the error at {place} logged once\n{}",
            d.log()
        );
    }
    assert!(
        has_vip(ns, ip(VIP1)) && has_vip(ns, ip(VIP2)),
        "running config kept"
    );
    assert_eq!(d.status()["instances"].as_array().map(Vec::len), Some(2));

    d.reload(&instance("VI_2", 82, 100, VIP2, ""));
    within(Duration::from_secs(3), || !has_vip(ns, ip(VIP1)))
        .unwrap_or_else(|| panic!("VI_1 removed by reload\n{}", d.log()));
    assert!(has_vip(ns, ip(VIP2)));
}

#[test]
fn notify_scripts_run_with_keepalived_arguments() {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("notify.out");
    let notify = write_script(
        dir.path(),
        "notify.sh",
        &format!("echo \"$@\" >> {}", out.display()),
        0o755,
    );
    let master = write_script(
        dir.path(),
        "master.sh",
        &format!("echo master-hook >> {}", out.display()),
        0o755,
    );
    let Some(lab) = common::lab("notify", "vcfnt", &["a"]) else {
        return;
    };
    let conf = instance(
        "VI_1",
        83,
        100,
        VIP1,
        &format!(
            "notify {}\n notify_master \"{}\"",
            notify.display(),
            master.display()
        ),
    );
    let mut d = Vrrpd::on(&lab, "a", &conf);
    let read = || std::fs::read_to_string(&out).unwrap_or_default();
    within(Duration::from_secs(3), || {
        read().contains("INSTANCE VI_1 MASTER 100")
    })
    .unwrap_or_else(|| panic!("notify ran: {:?}\n{}", read(), d.log()));
    within(Duration::from_secs(2), || read().contains("master-hook")).expect("notify_master ran");
    assert!(
        read().contains("INSTANCE VI_1 BACKUP 100"),
        "the start as BACKUP notified too"
    );
    d.proc.signal(testkit::Signal::SIGTERM).expect("SIGTERM");
    d.proc
        .wait_timeout(Duration::from_secs(3))
        .expect("wait")
        .expect("exits");
    within(Duration::from_secs(2), || {
        read().contains("INSTANCE VI_1 STOP")
    })
    .unwrap_or_else(|| panic!("notify on stop: {:?}", read()));
}

#[test]
fn script_security_refuses_a_world_writable_track_script() {
    let dir = tempfile::tempdir().expect("dir");
    let unsafe_script = write_script(dir.path(), "check.sh", "exit 0", 0o777);
    let Some(lab) = common::lab("script_security", "vcfsec", &["a"]) else {
        return;
    };
    let conf = format!(
        "global_defs {{\n    enable_script_security\n    script_user root\n}}\n\
         vrrp_script chk {{\n    script \"{}\"\n    interval 1\n}}\n{}",
        unsafe_script.display(),
        instance("VI_1", 84, 100, VIP1, "track_script {\n chk weight 0\n }")
    );
    let d = Vrrpd::on(&lab, "a", &conf);
    within(Duration::from_secs(3), || {
        d.log().contains("SECURITY VIOLATION")
    })
    .unwrap_or_else(|| panic!("refused\n{}", d.log()));
    within(Duration::from_secs(3), || {
        d.state("VI_1").as_deref() == Some("FAULT")
    })
    .unwrap_or_else(|| panic!("an insecure weight-0 script means FAULT\n{}", d.log()));
    assert!(!has_vip(lab.node("a").ns(), ip(VIP1)));
}

#[test]
fn sync_group_members_fail_over_together() {
    let dir = tempfile::tempdir().expect("dir");
    let flag = dir.path().join("a-ok");
    std::fs::write(&flag, "").expect("flag");
    let Some(lab) = common::lab("sync_group", "vcfsg", &["a", "b"]) else {
        return;
    };
    let group = "vrrp_sync_group G1 {\n    group {\n        VI_1\n        VI_2\n    }\n}\n";
    let a_conf = format!(
        "vrrp_script chk {{\n    script \"/usr/bin/test -e {}\"\n    interval 1\n    fall 1\n}}\n{group}{}{}",
        flag.display(),
        instance("VI_1", 85, 110, VIP1, ""),
        // Only VI_2 tracks the script; the group takes VI_1 along.
        instance("VI_2", 86, 110, VIP2, "track_script {\n chk weight 0\n }"),
    );
    let b_conf = format!(
        "{group}{}{}",
        instance("VI_1", 85, 100, VIP1, ""),
        instance("VI_2", 86, 100, VIP2, "")
    );
    let a = Vrrpd::on(&lab, "a", &a_conf);
    let b = Vrrpd::on(&lab, "b", &b_conf);
    let (a_ns, b_ns) = (lab.node("a").ns(), lab.node("b").ns());
    within(Duration::from_secs(3), || {
        has_vip(a_ns, ip(VIP1)) && has_vip(a_ns, ip(VIP2))
    })
    .unwrap_or_else(|| panic!("a holds both\n{}", a.log()));
    std::fs::remove_file(&flag).expect("flag removed");
    within(Duration::from_secs(4), || {
        has_vip(b_ns, ip(VIP1)) && has_vip(b_ns, ip(VIP2)) && !has_vip(a_ns, ip(VIP1))
    })
    .unwrap_or_else(|| panic!("both move to b\na:\n{}\nb:\n{}", a.log(), b.log()));
    assert_eq!(
        a.state("VI_1").as_deref(),
        Some("FAULT"),
        "the group follows VI_2 into FAULT"
    );
}

#[test]
fn link_down_puts_the_master_in_fault_and_the_backup_takes_over() {
    let Some(lab) = common::lab("link_down", "vcfld", &["a", "b"]) else {
        return;
    };
    let (a_ns, b_ns) = (lab.node("a").ns(), lab.node("b").ns());
    let a = Vrrpd::start(a_ns, &instance("VI_1", 87, 110, VIP1, "")).expect("a");
    let b = Vrrpd::start(b_ns, &instance("VI_1", 87, 100, VIP1, "")).expect("b");
    within(Duration::from_secs(3), || {
        has_vip(a_ns, ip(VIP1)) && !has_vip(b_ns, ip(VIP1))
    })
    .expect("a master");
    lab.set_port("a", false).expect("a's link down");
    within(Duration::from_secs(2), || has_vip(b_ns, ip(VIP1)))
        .unwrap_or_else(|| panic!("b takes over\n{}", b.log()));
    within(Duration::from_secs(2), || {
        a.state("VI_1").as_deref() == Some("FAULT")
    })
    .unwrap_or_else(|| panic!("a in FAULT\n{}", a.log()));
    assert!(!has_vip(a_ns, ip(VIP1)), "FAULT releases the VIP");
    lab.set_port("a", true).expect("a's link up");
    // Back from FAULT as BACKUP, then preempts with its higher priority.
    within(Duration::from_secs(3), || {
        has_vip(a_ns, ip(VIP1)) && !has_vip(b_ns, ip(VIP1))
    })
    .unwrap_or_else(|| panic!("a back as master\n{}", a.log()));
}

/// Node `a` alone on its lab's bridge, running `VI_1` (`vrid`, priority 110, VIP1, the
/// `extra` lines), once it is Master holding the VIP; `None` when the test is skipped.
fn lone_master(test: &str, prefix: &str, vrid: u8, extra: &str) -> Option<(Lab, Vrrpd)> {
    let lab = common::lab(test, prefix, &["a"])?;
    let ns = lab.node("a").ns();
    let a = Vrrpd::start(ns, &instance("VI_1", vrid, 110, VIP1, extra)).expect("a");
    within(Duration::from_secs(3), || has_vip(ns, ip(VIP1))).expect("a master");
    Some((lab, a))
}

/// Link changes are read when the kernel announces them (RTMGRP_LINK), not at a poll: the
/// links are polled only every 10 s now, so three carrier losses in a row each seen
/// within 400 ms would happen by chance with a poll alone in far under 1% of runs.
#[test]
fn a_link_change_is_seen_when_the_kernel_announces_it() {
    let Some((lab, a)) = lone_master("link_events", "vcfle", 88, "") else {
        return;
    };
    let ns = lab.node("a").ns();
    for round in 0..3 {
        lab.set_port("a", false).expect("a's link down");
        let seen = within(Duration::from_secs(3), || {
            a.state("VI_1").as_deref() == Some("FAULT")
        })
        .unwrap_or_else(|| panic!("round {round}: a in FAULT\n{}", a.log()));
        assert!(
            seen < Duration::from_millis(400),
            "round {round}: FAULT {seen:?} after the carrier went\n{}",
            a.log()
        );
        lab.set_port("a", true).expect("a's link up");
        within(Duration::from_secs(3), || has_vip(ns, ip(VIP1)))
            .unwrap_or_else(|| panic!("round {round}: a master again\n{}", a.log()));
    }
}

/// The addresses of every interface in `ns`, as `ip -o addr` prints them.
fn all_addresses(ns: &str) -> String {
    testkit::exec_ok(ns, ["ip", "-o", "addr"]).expect("ip addr")
}

/// Creates `vx0` in `ns`, a veth (its peer up, so it has carrier) with `addr`.
fn create_vx0(ns: &str, addr: &str) {
    for argv in [
        &[
            "ip", "link", "add", "vx0", "type", "veth", "peer", "name", "vx0p",
        ][..],
        &["ip", "addr", "add", addr, "dev", "vx0"],
        &["ip", "link", "set", "vx0p", "up"],
        &["ip", "link", "set", "vx0", "up"],
    ] {
        testkit::exec_ok(ns, argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    }
}

#[test]
fn a_missing_interface_is_a_fault_until_it_appears_and_again_once_deleted() {
    const VIP: &str = "198.18.1.100";
    let Some(lab) = common::lab("missing_interface", "vcfmif", &["a"]) else {
        return;
    };
    let ns = lab.node("a").ns();
    let conf = instance("VI_1", 88, 100, VIP, "").replace("interface eth0", "interface vx0");
    // The check warns and passes, as keepalived's does.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("vx0.conf");
    std::fs::write(&file, &conf).expect("conf");
    let path = file.to_str().expect("utf-8 path");
    let checked = testkit::exec(ns, [env!("CARGO_BIN_EXE_vrrpd"), "-t", "-f", path]).expect("-t");
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert!(checked.status.success(), "-t passes\n{stderr}");
    assert!(
        stderr.contains("interface vx0 for vrrp_instance VI_1 does not exist"),
        "-t warns\n{stderr}"
    );

    let mut d = Vrrpd::start(ns, &conf).expect("vrrpd");
    within(Duration::from_secs(3), || {
        d.state("VI_1").as_deref() == Some("FAULT")
    })
    .unwrap_or_else(|| panic!("FAULT while vx0 is missing\n{}", d.log()));
    std::thread::sleep(Duration::from_millis(500));
    assert!(d.proc.is_running(), "stays up\n{}", d.log());
    assert_eq!(d.state("VI_1").as_deref(), Some("FAULT"));
    assert!(
        !d.log().contains("interface vx0: interface vx0"),
        "{}",
        d.log()
    );

    // The interface appears: out of FAULT, BACKUP, then MASTER as nobody else is.
    create_vx0(ns, "198.18.1.1/24");
    within(Duration::from_secs(3), || {
        testkit::addresses(ns, "vx0").is_ok_and(|a| a.contains(&ip(VIP)))
    })
    .unwrap_or_else(|| panic!("VIP on vx0 once it exists\n{}", d.log()));
    assert_eq!(d.state("VI_1").as_deref(), Some("MASTER"), "{}", d.log());
    let log = d.log();
    let backup = log.find("Entering BACKUP STATE");
    let master = log.find("Entering MASTER STATE");
    assert!(
        backup.is_some() && backup < master,
        "BACKUP, then MASTER\n{log}"
    );

    // Deleted: FAULT again, the VIP gone with it.
    testkit::exec_ok(ns, ["ip", "link", "del", "vx0"]).expect("vx0 deleted");
    within(Duration::from_secs(3), || {
        d.state("VI_1").as_deref() == Some("FAULT")
    })
    .unwrap_or_else(|| panic!("FAULT once vx0 is deleted\n{}", d.log()));
    assert!(!all_addresses(ns).contains(VIP), "{}", all_addresses(ns));

    // Created again (a new interface index): MASTER on it again.
    create_vx0(ns, "198.18.1.1/24");
    within(Duration::from_secs(3), || {
        testkit::addresses(ns, "vx0").is_ok_and(|a| a.contains(&ip(VIP)))
    })
    .unwrap_or_else(|| panic!("VIP back on the new vx0\n{}", d.log()));
    assert!(d.proc.is_running());
    d.reload(&conf); // the SIGHUP path sees the same instance: nothing to restart
    within(Duration::from_secs(3), || d.status()["reloads"] == 1).expect("reloaded");
    assert_eq!(d.state("VI_1").as_deref(), Some("MASTER"), "{}", d.log());
}

#[test]
fn scripts_run_as_script_user() {
    let dir = tempfile::tempdir().expect("dir");
    // nobody must be able to write its answer here.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = dir.path().join("uid");
    let notify = write_script(
        dir.path(),
        "whoami.sh",
        &format!("id -u > {}", out.display()),
        0o755,
    );
    let Some(lab) = common::lab("script_user", "vcfusr", &["a"]) else {
        return;
    };
    let conf = format!(
        "global_defs {{\n    script_user nobody\n}}\n{}",
        instance(
            "VI_1",
            88,
            100,
            VIP1,
            &format!("notify_master {}", notify.display())
        )
    );
    let d = Vrrpd::on(&lab, "a", &conf);
    let uid = within(Duration::from_secs(3), || out.exists())
        .and_then(|_| {
            within(Duration::from_secs(1), || {
                std::fs::read_to_string(&out).is_ok_and(|s| !s.trim().is_empty())
            })
        })
        .map(|_| std::fs::read_to_string(&out).expect("uid file"))
        .unwrap_or_else(|| panic!("notify_master ran\n{}", d.log()));
    let nobody = Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .expect("id");
    assert_eq!(uid.trim(), String::from_utf8_lossy(&nobody.stdout).trim());
    assert_ne!(uid.trim(), "0", "not as root");
}

#[test]
fn a_vrrp_script_runs_as_its_own_user() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = dir.path().join("uid");
    let check = write_script(
        dir.path(),
        "check.sh",
        &format!("id -u > {}", out.display()),
        0o755,
    );
    let Some(lab) = common::lab("script_own_user", "vcfsown", &["a"]) else {
        return;
    };
    // script_user is root; the script's own `user` wins for that script.
    let conf = format!(
        "global_defs {{\n    script_user root\n}}\nvrrp_script chk {{\n    script \"{}\"\n    interval 1\n    user nobody\n}}\n{}",
        check.display(),
        instance("VI_1", 89, 100, VIP1, "track_script {\n chk\n }")
    );
    let d = Vrrpd::on(&lab, "a", &conf);
    within(Duration::from_secs(4), || {
        std::fs::read_to_string(&out).is_ok_and(|s| !s.trim().is_empty())
    })
    .unwrap_or_else(|| panic!("the track script ran\n{}", d.log()));
    let uid = std::fs::read_to_string(&out).expect("uid file");
    let nobody = Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .expect("id");
    assert_eq!(uid.trim(), String::from_utf8_lossy(&nobody.stdout).trim());
}

/// `dont_track_primary`: the instance's own link going down does not mean FAULT (the
/// control is `link_down_puts_the_master_in_fault_and_the_backup_takes_over`).
#[test]
fn dont_track_primary_keeps_the_master_out_of_fault_on_link_down() {
    let Some((lab, a)) = lone_master("dont_track_primary", "vcfdtp", 91, "dont_track_primary")
    else {
        return;
    };
    let a_ns = lab.node("a").ns();
    lab.set_port("a", false).expect("a's link down");
    let faulted = within(Duration::from_secs(2), || {
        a.state("VI_1").as_deref() == Some("FAULT")
    });
    assert!(
        faulted.is_none(),
        "no FAULT with dont_track_primary\n{}",
        a.log()
    );
    assert_eq!(a.state("VI_1").as_deref(), Some("MASTER"), "{}", a.log());
    assert!(has_vip(a_ns, ip(VIP1)), "the VIP stays");
}
