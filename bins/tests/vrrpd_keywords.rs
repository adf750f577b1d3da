//! keepalived.conf keywords on the wire and in the kernel: VIP brd/scope/label,
//! track_interface with a weight, a non-default multicast group, sync group notify,
//! vrrp_script reverse and init_fail, VIPs with `dev` on a second interface.

mod common;

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{has_vip, within, Vrrpd};
use testkit::{exec_ok, Capture};

const VIP: &str = "198.18.0.100";

fn vip() -> IpAddr {
    VIP.parse().expect("literal address")
}

/// A veth pair `a`-`b` inside `ns`, both ends up (the namespace goes with the lab).
fn veth_pair_up(ns: &str, a: &str, b: &str) {
    exec_ok(
        ns,
        ["ip", "link", "add", a, "type", "veth", "peer", "name", b],
    )
    .expect("veth");
    for end in [a, b] {
        exec_ok(ns, ["ip", "link", "set", end, "up"]).expect("veth end up");
    }
}

fn instance(name: &str, vrid: u8, priority: u8, vips: &str, extra: &str) -> String {
    common::vrrp_instance(name, vrid, priority, &[vips], extra)
}

#[test]
fn vip_broadcast_scope_and_label_reach_the_kernel() {
    let Some(lab) = common::lab("vip_attrs", "vkwvip", &["a"]) else {
        return;
    };
    let ns = lab.node("a").ns();
    // Its own subnet: the kernel refuses a secondary address (one inside a subnet the
    // interface already has) whose scope differs from the primary's.
    let vips = "198.18.1.100/24 brd 198.18.1.255 scope link label eth0:vip\n 198.18.0.101/32";
    let d = Vrrpd::start(ns, &instance("VI_1", 91, 100, vips, "")).expect("vrrpd");
    let scoped: IpAddr = "198.18.1.100".parse().expect("literal");
    within(Duration::from_secs(3), || has_vip(ns, scoped)).unwrap_or_else(|| panic!("{}", d.log()));
    let json = exec_ok(ns, ["ip", "-j", "addr", "show", "dev", "eth0"]).expect("ip addr");
    let addrs: serde_json::Value = serde_json::from_str(&json).expect("json");
    let info = addrs[0]["addr_info"].as_array().expect("addr_info").clone();
    let find = |ip: &str| {
        info.iter()
            .find(|a| a["local"] == ip)
            .cloned()
            .unwrap_or_else(|| panic!("{ip} installed: {json}"))
    };
    let first = find("198.18.1.100");
    assert_eq!(first["prefixlen"], 24);
    assert_eq!(first["broadcast"], "198.18.1.255");
    assert_eq!(first["scope"], "link");
    assert_eq!(first["label"], "eth0:vip");
    let second = find("198.18.0.101");
    assert_eq!(
        second["prefixlen"], 32,
        "no prefix means /32, as keepalived"
    );
}

#[test]
fn track_interface_with_weight_moves_the_vip() {
    let Some(lab) = common::lab("track_interface", "vkwtif", &["a", "b"]) else {
        return;
    };
    let (a_ns, b_ns) = (lab.node("a").ns(), lab.node("b").ns());
    // An uplink for a to track: a veth pair inside a's namespace.
    veth_pair_up(a_ns, "up0", "up1");
    let a_conf = instance(
        "VI_1",
        92,
        110,
        VIP,
        "track_interface {\n up0 weight -20\n }",
    );
    let a = Vrrpd::start(a_ns, &a_conf).expect("a");
    let b = Vrrpd::start(b_ns, &instance("VI_1", 92, 100, VIP, "")).expect("b");
    within(Duration::from_secs(3), || {
        has_vip(a_ns, vip()) && !has_vip(b_ns, vip())
    })
    .unwrap_or_else(|| panic!("a master\n{}", a.log()));
    exec_ok(a_ns, ["ip", "link", "set", "up1", "down"]).expect("uplink carrier lost");
    within(Duration::from_secs(2), || {
        has_vip(b_ns, vip()) && !has_vip(a_ns, vip())
    })
    .unwrap_or_else(|| panic!("VIP moves to b\na:\n{}\nb:\n{}", a.log(), b.log()));
    assert_eq!(a.status()["instances"][0]["effective_priority"], 90);
    exec_ok(a_ns, ["ip", "link", "set", "up1", "up"]).expect("uplink back");
    within(Duration::from_secs(2), || {
        has_vip(a_ns, vip()) && !has_vip(b_ns, vip())
    })
    .unwrap_or_else(|| panic!("VIP back on a\n{}", a.log()));
}

#[test]
fn vrrp_mcast_group4_is_used_on_the_wire() {
    let Some(lab) = common::lab("mcast_group", "vkwmc", &["a", "b"]) else {
        return;
    };
    let (a_ns, b_ns) = (lab.node("a").ns(), lab.node("b").ns());
    let global = "global_defs {\n    vrrp_mcast_group4 224.0.0.19\n}\n";
    let capture = Capture::start(b_ns, "eth0", &["ip", "proto", "112"]).expect("tcpdump");
    let a = Vrrpd::start(
        a_ns,
        &format!("{global}{}", instance("VI_1", 93, 110, VIP, "")),
    )
    .expect("a");
    let b = Vrrpd::start(
        b_ns,
        &format!("{global}{}", instance("VI_1", 93, 100, VIP, "")),
    )
    .expect("b");
    within(Duration::from_secs(3), || {
        has_vip(a_ns, vip()) && !has_vip(b_ns, vip()) && b.counter("VI_1", "advert_rcvd") > 3
    })
    .unwrap_or_else(|| panic!("a master, heard by b\na:\n{}\nb:\n{}", a.log(), b.log()));
    let frames = capture.stop().expect("capture").frames;
    let dsts: Vec<_> = frames
        .iter()
        .filter_map(|f| f.ipv4_addrs())
        .map(|(_, d)| d)
        .collect();
    assert!(!dsts.is_empty());
    assert!(
        dsts.iter()
            .all(|d| *d == std::net::Ipv4Addr::new(224, 0, 0, 19)),
        "every advert to 224.0.0.19: {dsts:?}"
    );
}

#[test]
fn sync_group_notify_runs_for_the_group() {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("group.out");
    let script = dir.path().join("group.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", out.display()),
    )
    .expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let Some(lab) = common::lab("group_notify", "vkwgn", &["a"]) else {
        return;
    };
    let conf = format!(
        "vrrp_sync_group G1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n    notify {}\n}}\n{}{}",
        script.display(),
        instance("VI_1", 94, 100, VIP, ""),
        instance("VI_2", 95, 100, "198.18.0.102/24", "")
    );
    let d = Vrrpd::on(&lab, "a", &conf);
    let read = || std::fs::read_to_string(&out).unwrap_or_default();
    within(Duration::from_secs(3), || {
        read().contains("GROUP G1 MASTER")
    })
    .unwrap_or_else(|| panic!("group notify: {:?}\n{}", read(), d.log()));
    assert!(
        read().contains("GROUP G1 BACKUP"),
        "the start as BACKUP too: {:?}",
        read()
    );
}

#[test]
fn script_reverse_and_init_fail() {
    let dir = tempfile::tempdir().expect("dir");
    let flag = dir.path().join("maintenance");
    let Some(lab) = common::lab("script_reverse", "vkwrev", &["a", "b"]) else {
        return;
    };
    let (a_ns, b_ns) = (lab.node("a").ns(), lab.node("b").ns());
    // `weight 20 reverse`: +20 while the script FAILS (no maintenance flag), so a (100)
    // outranks b (110) until the flag appears. init_fail: the script starts as failed.
    let a_conf = format!(
        "vrrp_script maint {{\n    script \"/usr/bin/test -e {}\"\n    interval 1\n    init_fail\n    weight 20 reverse\n}}\n{}",
        flag.display(),
        instance("VI_1", 96, 100, VIP, "track_script {\n maint\n }")
    );
    let a = Vrrpd::start(a_ns, &a_conf).expect("a");
    let b = Vrrpd::start(b_ns, &instance("VI_1", 96, 110, VIP, "")).expect("b");
    within(Duration::from_secs(3), || {
        has_vip(a_ns, vip()) && !has_vip(b_ns, vip())
    })
    .unwrap_or_else(|| panic!("a (100 + 20) master\na:\n{}", a.log()));
    assert_eq!(a.status()["instances"][0]["effective_priority"], 120);
    std::fs::write(&flag, "").expect("maintenance on");
    within(Duration::from_secs(4), || {
        has_vip(b_ns, vip()) && !has_vip(a_ns, vip())
    })
    .unwrap_or_else(|| {
        panic!(
            "b takes over when a's script succeeds\na:\n{}\nb:\n{}",
            a.log(),
            b.log()
        )
    });
    assert_eq!(a.status()["instances"][0]["effective_priority"], 100);
}

#[test]
fn a_vip_scope_the_kernel_refuses_is_reported_as_such() {
    let Some(lab) = common::lab("vip_scope_refused", "vkwscp", &["a"]) else {
        return;
    };
    let ns = lab.node("a").ns();
    // Inside a's own 198.18.0.0/24 (global scope): a link-scope secondary is refused.
    let d = Vrrpd::start(
        ns,
        &instance("VI_1", 97, 100, &format!("{VIP}/24 scope link"), ""),
    )
    .expect("vrrpd");
    within(Duration::from_secs(3), || {
        d.log().contains("secondary address must have the scope")
    })
    .unwrap_or_else(|| panic!("a specific error\n{}", d.log()));
    assert!(!has_vip(ns, vip()));
}

#[test]
fn vips_with_dev_go_on_that_interface_and_are_announced_there() {
    let Some(lab) = common::lab("vip_dev", "vkwdev", &["a"]) else {
        return;
    };
    let ns = lab.node("a").ns();
    // A second interface for a: one end of a veth pair, the other end to listen on.
    veth_pair_up(ns, "vd0", "vd1");
    let capture = Capture::start(ns, "vd1", &["arp"]).expect("tcpdump");
    let conf = format!(
        "vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 98
    priority 100
    advert_int 0.1
    version 3
    garp_master_delay 0
    virtual_ipaddress {{
        {VIP}/24
        198.18.2.100/24 dev vd0
    }}
    virtual_ipaddress_excluded {{
        198.18.3.100/24 dev vd0
    }}
}}
"
    );
    let d = Vrrpd::start(ns, &conf).expect("vrrpd");
    let on_dev: [IpAddr; 2] = [
        "198.18.2.100".parse().expect("literal"),
        "198.18.3.100".parse().expect("literal"),
    ];
    within(Duration::from_secs(5), || {
        has_vip(ns, vip())
            && testkit::addresses(ns, "vd0").is_ok_and(|a| on_dev.iter().all(|v| a.contains(v)))
    })
    .unwrap_or_else(|| {
        panic!(
            "VIPs on eth0 and vd0\n{}\n{}",
            exec_ok(ns, ["ip", "addr"]).unwrap_or_default(),
            d.log()
        )
    });
    let eth0 = testkit::addresses(ns, "eth0").expect("eth0 addresses");
    assert!(
        on_dev.iter().all(|v| !eth0.contains(v)),
        "dev VIPs not on eth0: {eth0:?}"
    );
    // The first burst: garp_master_repeat (5) per address.
    std::thread::sleep(Duration::from_millis(500));
    let frames = capture.stop().expect("capture").frames;
    let garps: Vec<_> = frames
        .iter()
        .filter_map(|f| f.gratuitous_arp_ip())
        .collect();
    for v in ["198.18.2.100", "198.18.3.100"] {
        let v: std::net::Ipv4Addr = v.parse().expect("literal");
        assert!(
            garps.contains(&v),
            "gratuitous ARP for {v} on vd0: {garps:?}\n{}",
            d.log()
        );
    }
    assert!(
        !garps.contains(&VIP.parse().expect("literal")),
        "the eth0 VIP is not announced on vd0: {garps:?}"
    );
}
