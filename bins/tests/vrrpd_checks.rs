//! Receive checks and tracking on real sockets: unicast peers with multicast blocked,
//! PASS mismatches dropped and counted, track scripts moving the VIP or causing FAULT.

mod common;

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use common::{has_vip, within, Vrrpd};
use testkit::Lab;

const VIP: &str = "198.18.0.100";

fn vip() -> IpAddr {
    VIP.parse().expect("literal address")
}

fn instance(priority: u8, extra: &str) -> String {
    common::vrrp_instance(
        "VI_1",
        52,
        priority,
        &[format!("{VIP}/24")],
        &format!("state BACKUP\n    {extra}"),
    )
}

#[test]
fn unicast_peers_elect_and_fail_over_with_multicast_blocked() {
    let Some(lab) = common::lab("unicast", "vchuni", &["a", "b"]) else {
        return;
    };
    lab.set_multicast(false).expect("multicast blocked");
    // Node 0 is 198.18.0.1, node 1 is 198.18.0.2.
    let a_conf = instance(
        110,
        "unicast_src_ip 198.18.0.1\n unicast_peer {\n 198.18.0.2\n }",
    );
    let b_conf = instance(
        100,
        "unicast_src_ip 198.18.0.2\n unicast_peer {\n 198.18.0.1\n }",
    );
    let mut a = Vrrpd::on(&lab, "a", &a_conf);
    let b = Vrrpd::on(&lab, "b", &b_conf);
    within(Duration::from_secs(3), || {
        has_vip(lab.node("a").ns(), vip()) && !has_vip(lab.node("b").ns(), vip())
    })
    .unwrap_or_else(|| panic!("a alone is master\na:\n{}\nb:\n{}", a.log(), b.log()));
    // b hears a over unicast (the only way, with multicast blocked).
    assert!(
        within(Duration::from_secs(2), || b.counter("VI_1", "advert_rcvd")
            > 3)
        .is_some(),
        "b counts a's unicast adverts\nb:\n{}",
        b.log()
    );
    assert_eq!(b.state("VI_1").as_deref(), Some("BACKUP"));
    a.proc.signal(testkit::Signal::SIGKILL).expect("kill a");
    within(Duration::from_secs(2), || {
        has_vip(lab.node("b").ns(), vip())
    })
    .unwrap_or_else(|| panic!("b takes over\nb:\n{}", b.log()));
}

#[test]
fn multicast_blocked_without_unicast_splits_the_brain() {
    // The control for the test above: the block is real, so multicast-only peers can't
    // see each other and both become master.
    let Some(lab) = common::lab("multicast_blocked", "vchmc", &["a", "b"]) else {
        return;
    };
    lab.set_multicast(false).expect("multicast blocked");
    let _a = Vrrpd::on(&lab, "a", &instance(110, ""));
    let _b = Vrrpd::on(&lab, "b", &instance(100, ""));
    within(Duration::from_secs(3), || {
        has_vip(lab.node("a").ns(), vip()) && has_vip(lab.node("b").ns(), vip())
    })
    .expect("both become master when they cannot hear each other");
}

#[test]
fn pass_mismatch_is_dropped_and_counted() {
    let Some(lab) = common::lab("pass_mismatch", "vchpass", &["a", "b"]) else {
        return;
    };
    let v2 = |prio: u8, pass: &str| {
        format!(
            "vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 53
    priority {prio}
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass {pass}
    }}
    virtual_ipaddress {{
        {VIP}/24
    }}
}}
"
        )
    };
    let a = Vrrpd::on(&lab, "a", &v2(110, "secret1"));
    let b = Vrrpd::on(&lab, "b", &v2(100, "secret2"));
    // Neither accepts the other's adverts: both end up master.
    within(Duration::from_secs(7), || {
        has_vip(lab.node("a").ns(), vip()) && has_vip(lab.node("b").ns(), vip())
    })
    .unwrap_or_else(|| panic!("both master\na:\n{}\nb:\n{}", a.log(), b.log()));
    assert!(within(Duration::from_secs(3), || a
        .counter("VI_1", "drops.auth_failure")
        >= 1)
    .is_some());
    assert!(b.counter("VI_1", "drops.auth_failure") >= 1);
    assert_eq!(a.counter("VI_1", "advert_rcvd"), 0);
    assert_eq!(b.counter("VI_1", "advert_rcvd"), 0);
}

/// Config with a track script that passes while `flag` exists.
fn tracked(priority: u8, flag: &Path, weight: i32) -> String {
    format!(
        "vrrp_script chk_flag {{
    script \"/usr/bin/test -e {}\"
    interval 1
    fall 1
    rise 1
}}
{}",
        flag.display(),
        instance(
            priority,
            &format!("track_script {{\n chk_flag weight {weight}\n }}")
        )
    )
}

/// a (110) tracks a script that passes while `flag` exists, with `weight`; b (100) tracks
/// nothing. Returns once a is master (`None`: the test `test` is skipped).
struct TrackedPair {
    lab: Lab,
    a: Vrrpd,
    b: Vrrpd,
    flag: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn tracked_pair(test: &str, prefix: &str, weight: i32) -> Option<TrackedPair> {
    let lab = common::lab(test, prefix, &["a", "b"])?;
    let dir = tempfile::tempdir().expect("dir");
    let flag = dir.path().join("a-healthy");
    std::fs::write(&flag, "").expect("flag");
    let a = Vrrpd::on(&lab, "a", &tracked(110, &flag, weight));
    let b = Vrrpd::on(&lab, "b", &instance(100, ""));
    within(Duration::from_secs(3), || {
        has_vip(lab.node("a").ns(), vip())
    })
    .unwrap_or_else(|| panic!("a master\na:\n{}", a.log()));
    Some(TrackedPair {
        lab,
        a,
        b,
        flag,
        _dir: dir,
    })
}

#[test]
fn failing_track_script_with_negative_weight_moves_the_vip_and_back() {
    let Some(TrackedPair {
        lab,
        a,
        b,
        flag,
        _dir,
    }) = tracked_pair("track_weight", "vchtrk", -20)
    else {
        return;
    };

    std::fs::remove_file(&flag).expect("flag removed");
    // One script interval, then a advertises 90 < 100 and b preempts.
    within(Duration::from_secs(4), || {
        has_vip(lab.node("b").ns(), vip()) && !has_vip(lab.node("a").ns(), vip())
    })
    .unwrap_or_else(|| panic!("VIP moves to b\na:\n{}\nb:\n{}", a.log(), b.log()));
    let status = a.status();
    assert_eq!(status["instances"][0]["effective_priority"], 90);
    assert_eq!(status["instances"][0]["state"], "BACKUP");

    std::fs::write(&flag, "").expect("flag back");
    within(Duration::from_secs(4), || {
        has_vip(lab.node("a").ns(), vip()) && !has_vip(lab.node("b").ns(), vip())
    })
    .unwrap_or_else(|| panic!("VIP returns to a\na:\n{}", a.log()));
    assert_eq!(a.status()["instances"][0]["effective_priority"], 110);
}

#[test]
fn failing_track_script_with_weight_zero_puts_the_instance_in_fault() {
    let Some(TrackedPair {
        lab,
        a,
        b,
        flag,
        _dir,
    }) = tracked_pair("track_fault", "vchflt", 0)
    else {
        return;
    };
    std::fs::remove_file(&flag).expect("flag removed");
    within(Duration::from_secs(4), || {
        a.state("VI_1").as_deref() == Some("FAULT")
    })
    .unwrap_or_else(|| panic!("a in FAULT\na:\n{}", a.log()));
    assert!(
        !has_vip(lab.node("a").ns(), vip()),
        "FAULT releases the VIP"
    );
    within(Duration::from_secs(2), || {
        has_vip(lab.node("b").ns(), vip())
    })
    .unwrap_or_else(|| panic!("b takes over\nb:\n{}", b.log()));
    // a left Master with a priority-0 advert, so b did not wait for Master_Down_Interval.
    assert!(b.counter("VI_1", "pri_zero_rcvd") >= 1);
}

#[test]
fn address_list_mismatch_is_counted_and_dropped_only_under_vrrp_strict() {
    let Some(lab) = common::lab("addr_list", "vchaddr", &["a", "b"]) else {
        return;
    };
    // a is strict and lists one VIP; b lists two and has the higher priority.
    let a_conf = format!("global_defs {{\n    vrrp_strict\n}}\n{}", instance(110, ""));
    let b_conf = instance(120, "").replace(
        &format!("{VIP}/24\n"),
        &format!("{VIP}/24\n        198.18.0.101/24\n"),
    );
    let a = Vrrpd::on(&lab, "a", &a_conf);
    let b = Vrrpd::on(&lab, "b", &b_conf);
    // b's adverts never count for a, so a ends up master beside b.
    within(Duration::from_secs(3), || {
        has_vip(lab.node("a").ns(), vip()) && has_vip(lab.node("b").ns(), vip())
    })
    .unwrap_or_else(|| panic!("both master\na:\n{}\nb:\n{}", a.log(), b.log()));
    within(Duration::from_secs(2), || {
        a.counter("VI_1", "drops.addr_list_err") > 2 && b.counter("VI_1", "drops.addr_list_err") > 2
    })
    .expect("both count the mismatch");
    assert_eq!(a.counter("VI_1", "advert_rcvd"), 0, "strict a drops them");
    assert!(
        b.counter("VI_1", "advert_rcvd") > 2,
        "non-strict b still takes them"
    );
}
