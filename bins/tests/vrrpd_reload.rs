//! SIGHUP reload of a running instance: a changed priority and VIP list on the wire and in
//! the kernel, a new script user for running track scripts, and a changed instance whose
//! sockets cannot be opened (the old one keeps running), and VIP-only and priority changes
//! that keep the Master in place.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use common::{has_vip, within, write_script, Vrrpd};
use testkit::Capture;

const VIP1: &str = "198.18.0.100";
const VIP2: &str = "198.18.0.101";
const VIP3: &str = "198.18.0.102";

fn ip(s: &str) -> IpAddr {
    s.parse().expect("literal address")
}

fn instance(vrid: u8, priority: u8, vips: &[&str], extra: &str) -> String {
    let vips: Vec<String> = vips.iter().map(|v| format!("{v}/24")).collect();
    common::vrrp_instance("VI_1", vrid, priority, &vips, extra)
}

/// A VRRPv3 advert seen on the wire: source, priority, addresses.
fn adverts(frames: &[testkit::Frame]) -> Vec<(Ipv4Addr, u8, Vec<Ipv4Addr>)> {
    frames
        .iter()
        .filter(|f| f.is_vrrp())
        .filter_map(|f| {
            let (src, _) = f.ipv4_addrs()?;
            let p = f.ipv4_payload()?;
            let count = usize::from(*p.get(3)?);
            let addrs = (0..count)
                .map(|i| {
                    let a = p.get(8 + 4 * i..12 + 4 * i)?;
                    Some(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
                })
                .collect::<Option<Vec<_>>>()?;
            Some((src, *p.get(2)?, addrs))
        })
        .collect()
}

#[test]
fn reload_changes_priority_and_vips_of_a_running_instance() {
    let Some(lab) = common::lab("reload_changed", "vrlchg", &["a", "b"]) else {
        return;
    };
    let (a_ns, b_ns) = (lab.node("a").ns(), lab.node("b").ns());
    let a = Vrrpd::start(a_ns, &instance(131, 110, &[VIP1], "")).expect("a");
    let mut b = Vrrpd::start(b_ns, &instance(131, 100, &[VIP1], "")).expect("b");
    within(Duration::from_secs(3), || {
        has_vip(a_ns, ip(VIP1)) && b.state("VI_1").as_deref() == Some("BACKUP")
    })
    .unwrap_or_else(|| panic!("a master, b backup\na:\n{}\nb:\n{}", a.log(), b.log()));

    let capture = Capture::start(a_ns, "eth0", &["ip", "proto", "112"]).expect("tcpdump");
    // b: priority 100 -> 120 (above a), VIP list VIP1 -> VIP2, VIP3.
    b.reload(&instance(131, 120, &[VIP2, VIP3], ""));
    within(Duration::from_secs(3), || {
        has_vip(b_ns, ip(VIP2)) && has_vip(b_ns, ip(VIP3)) && !has_vip(a_ns, ip(VIP1))
    })
    .unwrap_or_else(|| {
        panic!(
            "b takes over with the new VIPs\na:\n{}\nb:\n{}",
            a.log(),
            b.log()
        )
    });
    assert!(
        !has_vip(b_ns, ip(VIP1)),
        "the old VIP is not installed on b"
    );
    assert_eq!(b.status()["reloads"], 1);
    let inst = b.status()["instances"][0].clone();
    assert_eq!(inst["base_priority"], 120, "{inst}");
    assert_eq!(inst["state"], "MASTER", "{inst}");

    std::thread::sleep(Duration::from_millis(300));
    let frames = capture.stop().expect("capture").frames;
    let b_ip = lab.node("b").ipv4();
    let from_b: Vec<_> = adverts(&frames)
        .into_iter()
        .filter(|(src, _, _)| *src == b_ip)
        .collect();
    let want: Vec<Ipv4Addr> = [VIP2, VIP3]
        .iter()
        .map(|v| v.parse().expect("literal"))
        .collect();
    assert!(
        from_b
            .iter()
            .any(|(_, prio, addrs)| *prio == 120 && *addrs == want),
        "b advertises priority 120 with VIP2, VIP3: {from_b:?}"
    );
    assert!(
        from_b.iter().all(|(_, prio, _)| *prio == 120),
        "only the new priority from b after the reload: {from_b:?}"
    );
}

#[test]
fn reload_with_a_new_script_user_reruns_track_scripts_as_that_user() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    // Each run leaves a file named after the uid it ran as.
    let script = write_script(
        dir.path(),
        "whoami.sh",
        &format!("touch {}/uid-$(id -u)", dir.path().display()),
        0o755,
    );
    let body = |global: &str| {
        format!(
            "global_defs {{\n{global}\n}}\nvrrp_script who {{\n    script \"{}\"\n    interval 1\n}}\n{}",
            script.display(),
            instance(132, 100, &[VIP1], "track_script {\n who\n }")
        )
    };
    let Some(lab) = common::lab("reload_script_user", "vrlusr", &["a"]) else {
        return;
    };
    let mut d = Vrrpd::on(&lab, "a", &body(""));
    let root = dir.path().join("uid-0");
    within(Duration::from_secs(3), || root.exists())
        .unwrap_or_else(|| panic!("the script runs as root first\n{}", d.log()));

    d.reload(&body("    script_user nobody"));
    let nobody = Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .expect("id");
    let nobody = String::from_utf8_lossy(&nobody.stdout).trim().to_string();
    let as_nobody = dir.path().join(format!("uid-{nobody}"));
    within(Duration::from_secs(4), || as_nobody.exists()).unwrap_or_else(|| {
        panic!(
            "after the reload the track script runs as nobody\n{}",
            d.log()
        )
    });
    assert_eq!(d.status()["reloads"], 1);
}

#[test]
fn a_changed_instance_that_cannot_open_keeps_the_old_one_running() {
    let Some(lab) = common::lab("reload_open_fails", "vrlopen", &["a"]) else {
        return;
    };
    let ns = lab.node("a").ns();
    let mut d = Vrrpd::start(ns, &instance(133, 100, &[VIP1], "")).expect("vrrpd");
    within(Duration::from_secs(3), || {
        has_vip(ns, ip(VIP1)) && d.state("VI_1").as_deref() == Some("MASTER")
    })
    .unwrap_or_else(|| panic!("master\n{}", d.log()));
    let sent_before = d.counter("VI_1", "advert_sent");
    // The file is valid, but the send socket cannot bind an address a does not have.
    d.reload(&instance(133, 120, &[VIP1], "mcast_src_ip 198.18.0.250"));
    within(Duration::from_secs(3), || {
        d.status()["reload_failures"] == 1
    })
    .unwrap_or_else(|| panic!("the failed reload is counted\n{}", d.log()));
    assert!(d.log().contains("reload failed"), "{}", d.log());
    assert_eq!(d.status()["reloads"], 0);
    let inst = d.status()["instances"][0].clone();
    assert_eq!(
        inst["state"], "MASTER",
        "old instance still running: {inst}"
    );
    assert_eq!(inst["base_priority"], 100, "{inst}");
    assert!(has_vip(ns, ip(VIP1)), "VIP kept");
    within(Duration::from_secs(2), || {
        d.counter("VI_1", "advert_sent") > sent_before + 5
    })
    .unwrap_or_else(|| panic!("still advertising\n{}", d.log()));
}

#[test]
fn a_reload_that_only_changes_vips_keeps_the_master_in_place() {
    let Some(lab) = common::lab("reload_in_place", "vrlkeep", &["a", "b"]) else {
        return;
    };
    let (a_ns, b_ns) = (lab.node("a").ns(), lab.node("b").ns());
    let mut a = Vrrpd::start(a_ns, &instance(134, 110, &[VIP1, VIP2], "")).expect("a");
    // b starts once a is Master: started together, their Master_Down_Timers differ by
    // 4 ms of skew, which a loaded machine does not honour, and b's start-up win would
    // count as a take-over.
    within(Duration::from_secs(3), || has_vip(a_ns, ip(VIP2)))
        .unwrap_or_else(|| panic!("a master\n{}", a.log()));
    let b = Vrrpd::start(b_ns, &instance(134, 100, &[VIP1, VIP2], "")).expect("b");
    within(Duration::from_secs(3), || {
        has_vip(a_ns, ip(VIP2)) && b.state("VI_1").as_deref() == Some("BACKUP")
    })
    .unwrap_or_else(|| panic!("a master, b backup\na:\n{}\nb:\n{}", a.log(), b.log()));
    // Past the start-up GARP bursts (garp_master_delay 5 s is not reached in this test).
    std::thread::sleep(Duration::from_millis(300));
    let capture = Capture::start(b_ns, "eth0", &["ip proto 112 or arp"]).expect("tcpdump");
    // VIP2 goes, VIP3 comes: nothing the state machine knows about.
    a.reload(&instance(134, 110, &[VIP1, VIP3], ""));
    within(Duration::from_secs(3), || {
        has_vip(a_ns, ip(VIP3)) && !has_vip(a_ns, ip(VIP2))
    })
    .unwrap_or_else(|| panic!("VIP list updated on a\n{}", a.log()));
    assert!(
        has_vip(a_ns, ip(VIP1)),
        "the VIP that stays was never removed"
    );
    std::thread::sleep(Duration::from_millis(500));
    let frames = capture.stop().expect("capture").frames;

    let status = a.status();
    let inst = &status["instances"][0];
    assert_eq!(status["reloads"], 1, "{status}");
    assert_eq!(inst["state"], "MASTER", "{inst}");
    assert_eq!(
        inst["counters"]["become_master"], 1,
        "no new election: {inst}"
    );
    assert_eq!(inst["counters"]["pri_zero_sent"], 0, "no hand-over: {inst}");
    assert_eq!(inst["counters"]["release_master"], 0, "{inst}");
    assert!(a.log().contains("updated in place"), "{}", a.log());
    assert_eq!(b.state("VI_1").as_deref(), Some("BACKUP"));
    assert_eq!(b.counter("VI_1", "become_master"), 0, "b never took over");

    let a_ip = lab.node("a").ipv4();
    let from_a: Vec<_> = adverts(&frames)
        .into_iter()
        .filter(|(src, _, _)| *src == a_ip)
        .collect();
    assert!(
        from_a.iter().all(|(_, prio, _)| *prio == 110),
        "no priority 0 from a: {from_a:?}"
    );
    let want: Vec<Ipv4Addr> = [VIP1, VIP3]
        .iter()
        .map(|v| v.parse().expect("literal"))
        .collect();
    assert!(
        from_a.last().is_some_and(|(_, _, addrs)| *addrs == want),
        "a advertises the new list: {from_a:?}"
    );
    let garps: Vec<Ipv4Addr> = frames
        .iter()
        .filter_map(|f| f.gratuitous_arp_ip())
        .collect();
    assert!(
        garps.contains(&VIP3.parse().expect("literal")),
        "the new VIP is announced: {garps:?}"
    );
    assert!(
        !garps.contains(&VIP1.parse().expect("literal")),
        "the kept VIP is not announced again: {garps:?}"
    );
}

fn group_conf(priority: u8, vi1_priority: u8, extra_instance: &str) -> String {
    let member = |name: &str, vrid: u8, prio: u8, vip: &str| {
        format!(
            "vrrp_instance {name} {{
    interface eth0
    virtual_router_id {vrid}
    priority {prio}
    advert_int 0.1
    version 3
    virtual_ipaddress {{
        {vip}/24
    }}
}}
"
        )
    };
    format!(
        "vrrp_sync_group G1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n}}\n{}{}{extra_instance}",
        member("VI_1", 137, vi1_priority, VIP1),
        member("VI_2", 138, priority, VIP2),
    )
}

#[test]
fn a_sync_group_still_takes_over_after_reloads() {
    let Some(lab) = common::lab("reload_sync_group", "vrlsg", &["a", "b"]) else {
        return;
    };
    let (a_ns, b_ns) = (lab.node("a").ns(), lab.node("b").ns());
    let mut a = Vrrpd::start(a_ns, &group_conf(110, 110, "")).expect("a");
    let mut b = Vrrpd::start(b_ns, &group_conf(100, 100, "")).expect("b");
    within(Duration::from_secs(3), || {
        has_vip(a_ns, ip(VIP1))
            && has_vip(a_ns, ip(VIP2))
            && b.state("VI_1").as_deref() == Some("BACKUP")
            && b.state("VI_2").as_deref() == Some("BACKUP")
    })
    .unwrap_or_else(|| panic!("a master of the group\na:\n{}\nb:\n{}", a.log(), b.log()));

    // 1. A reload of b that leaves the group alone: an instance outside it is added.
    let vi3 = "vrrp_instance VI_3 {
    interface eth0
    virtual_router_id 139
    priority 100
    advert_int 0.1
    version 3
    virtual_ipaddress {
        198.18.0.103/24
    }
}
";
    b.reload(&group_conf(100, 100, vi3));
    within(Duration::from_secs(3), || b.status()["reloads"] == 1)
        .unwrap_or_else(|| panic!("b reloaded\n{}", b.log()));
    // 2. One that restarts one member (VI_1's priority), the other kept running.
    b.reload(&group_conf(100, 101, vi3));
    within(Duration::from_secs(3), || {
        b.status()["reloads"] == 2 && b.state("VI_1").as_deref() == Some("BACKUP")
    })
    .unwrap_or_else(|| panic!("b reloaded again\n{}", b.log()));

    a.proc.signal(testkit::Signal::SIGKILL).expect("kill a");
    within(Duration::from_secs(3), || {
        has_vip(b_ns, ip(VIP1)) && has_vip(b_ns, ip(VIP2))
    })
    .unwrap_or_else(|| {
        panic!(
            "b's group takes over when a dies: {:?} {:?}\n{}",
            b.state("VI_1"),
            b.state("VI_2"),
            b.log()
        )
    });
}

/// A reload that changes the priority of a running Master keeps its state, as keepalived
/// does: no priority 0, no new election; lowered below the Backup, the Backup preempts it by
/// the protocol (it ignores the lower adverts and times the Master out), still with no
/// priority 0 from the old Master.
#[test]
fn a_priority_change_keeps_the_master_and_a_lower_one_lets_the_backup_preempt() {
    let Some(lab) = common::lab("reload_priority_in_place", "vrlprio", &["a", "b"]) else {
        return;
    };
    let (a_ns, b_ns) = (lab.node("a").ns(), lab.node("b").ns());
    let mut a = Vrrpd::start(a_ns, &instance(135, 110, &[VIP1], "")).expect("a");
    let b = Vrrpd::start(b_ns, &instance(135, 100, &[VIP1], "")).expect("b");
    within(Duration::from_secs(3), || {
        has_vip(a_ns, ip(VIP1)) && b.state("VI_1").as_deref() == Some("BACKUP")
    })
    .unwrap_or_else(|| panic!("a master, b backup\na:\n{}\nb:\n{}", a.log(), b.log()));
    // Under load b may have been Master for a moment at start, before it heard a: what
    // counts is that the reload below gives it no new term.
    let b_terms = b.counter("VI_1", "become_master");
    let a_terms = a.status()["instances"][0]["counters"]["become_master"].clone();
    let capture = Capture::start(b_ns, "eth0", &["ip", "proto", "112"]).expect("tcpdump");

    // 110 -> 105: still above b.
    a.reload(&instance(135, 105, &[VIP1], ""));
    within(Duration::from_secs(3), || {
        a.status()["instances"][0]["effective_priority"] == 105
    })
    .unwrap_or_else(|| panic!("a takes priority 105\n{}", a.log()));
    std::thread::sleep(Duration::from_millis(500));
    let inst = a.status()["instances"][0].clone();
    assert_eq!(inst["state"], "MASTER", "{inst}");
    assert_eq!(
        inst["counters"]["become_master"], a_terms,
        "no new election: {inst}"
    );
    assert_eq!(inst["counters"]["pri_zero_sent"], 0, "no hand-over: {inst}");
    assert!(has_vip(a_ns, ip(VIP1)), "the VIP stayed on a");
    assert_eq!(
        b.counter("VI_1", "become_master"),
        b_terms,
        "b never took over"
    );
    assert!(a.log().contains("updated in place"), "{}", a.log());

    // 105 -> 90: below b, which preempts.
    a.reload(&instance(135, 90, &[VIP1], ""));
    within(Duration::from_secs(3), || {
        b.state("VI_1").as_deref() == Some("MASTER") && a.state("VI_1").as_deref() == Some("BACKUP")
    })
    .unwrap_or_else(|| panic!("b preempts\na:\n{}\nb:\n{}", a.log(), b.log()));
    within(Duration::from_secs(2), || {
        has_vip(b_ns, ip(VIP1)) && !has_vip(a_ns, ip(VIP1))
    })
    .unwrap_or_else(|| panic!("the VIP moves to b\na:\n{}\nb:\n{}", a.log(), b.log()));
    let frames = capture.stop().expect("capture").frames;
    let a_ip = lab.node("a").ipv4();
    let prios: Vec<u8> = adverts(&frames)
        .into_iter()
        .filter(|(src, _, _)| *src == a_ip)
        .map(|(_, prio, _)| prio)
        .collect();
    assert!(prios.contains(&105) && prios.contains(&90), "{prios:?}");
    assert!(!prios.contains(&0), "never a priority 0 from a: {prios:?}");
    assert_eq!(a.counter("VI_1", "pri_zero_sent"), 0);
    assert_eq!(a.status()["reloads"], 2);
}
