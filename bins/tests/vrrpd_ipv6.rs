//! VRRPv3 over IPv6: election, failover, unsolicited neighbour advertisements, and the
//! configured multicast group (vrrp_mcast_group6) on the wire.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::{has_vip, v3_master_down, within, Vrrpd};
use testkit::{Capture, Lab, Signal};

const VIP: &str = "fd00:198:18::100";

fn vip() -> IpAddr {
    VIP.parse().expect("literal address")
}

fn conf(priority: u8) -> String {
    format!(
        "vrrp_instance VI_6 {{
    state BACKUP
    interface eth0
    virtual_router_id 61
    priority {priority}
    advert_int 0.1
    version 3
    virtual_ipaddress {{
        {VIP}/64
    }}
}}
"
    )
}

/// Waits until every node has its link-local address (it comes up with the link): VRRPv3
/// over IPv6 sends from it.
fn wait_for_link_local(lab: &Lab) {
    within(Duration::from_secs(3), || {
        lab.nodes().iter().all(|n| {
            testkit::addresses(n.ns(), "eth0").is_ok_and(|a| {
                a.iter()
                    .any(|ip| matches!(ip, IpAddr::V6(v6) if v6.is_unicast_link_local()))
            })
        })
    })
    .expect("link-local addresses");
}

#[test]
fn ipv6_v3_failover_with_unsolicited_na() {
    let Some(lab) = common::lab("ipv6_failover", "v6fo", &["a", "b"]) else {
        return;
    };
    wait_for_link_local(&lab);
    // Give DAD a moment to finish.
    std::thread::sleep(Duration::from_millis(1200));
    let mut a = Vrrpd::on(&lab, "a", &conf(110));
    let b = Vrrpd::on(&lab, "b", &conf(100));
    within(Duration::from_secs(3), || {
        has_vip(lab.node("a").ns(), vip()) && !has_vip(lab.node("b").ns(), vip())
    })
    .unwrap_or_else(|| panic!("a alone is master\na:\n{}\nb:\n{}", a.log(), b.log()));
    assert!(
        within(Duration::from_secs(2), || b.counter("VI_6", "advert_rcvd")
            > 3)
        .is_some(),
        "b hears a's IPv6 adverts\nb:\n{}",
        b.log()
    );
    let capture = Capture::start(lab.node("b").ns(), "eth0", &["icmp6"]).expect("tcpdump");
    a.proc.signal(Signal::SIGKILL).expect("kill a");
    let bound = v3_master_down(100, 10) + Duration::from_millis(100);
    within(bound, || has_vip(lab.node("b").ns(), vip()))
        .unwrap_or_else(|| panic!("b takes over within {bound:?}\nb:\n{}", b.log()));
    std::thread::sleep(Duration::from_millis(100));
    let frames = capture.stop().expect("capture").frames;
    let nas = frames
        .iter()
        .filter(|f| f.neighbour_advert_target() == Some(VIP.parse().expect("literal")))
        .count();
    assert!(
        nas >= 5,
        "b announced the VIP with unsolicited NAs, saw {nas}"
    );
    assert_eq!(b.counter("VI_6", "drops.checksum_err"), 0);
}

/// `vrrp_mcast_group6`: adverts go to the configured group, and the peer that joined it
/// hears them.
#[test]
fn vrrp_mcast_group6_is_used_on_the_wire() {
    let Some(lab) = common::lab("mcast_group6", "v6mcg", &["a", "b"]) else {
        return;
    };
    wait_for_link_local(&lab);
    let group: std::net::Ipv6Addr = "ff02::112".parse().expect("literal");
    let global = format!("global_defs {{\n    vrrp_mcast_group6 {group}\n}}\n");
    let capture =
        Capture::start(lab.node("b").ns(), "eth0", &["ip6", "proto", "112"]).expect("tcpdump");
    let a = Vrrpd::on(&lab, "a", &format!("{global}{}", conf(110)));
    let b = Vrrpd::on(&lab, "b", &format!("{global}{}", conf(100)));
    within(Duration::from_secs(3), || {
        has_vip(lab.node("a").ns(), vip())
            && !has_vip(lab.node("b").ns(), vip())
            && b.counter("VI_6", "advert_rcvd") > 3
    })
    .unwrap_or_else(|| panic!("a master, heard by b\na:\n{}\nb:\n{}", a.log(), b.log()));
    let frames = capture.stop().expect("capture").frames;
    let dsts: Vec<_> = frames
        .iter()
        .filter_map(|f| f.ipv6_addrs())
        .map(|(_, d)| d)
        .collect();
    assert!(!dsts.is_empty(), "adverts captured");
    assert!(
        dsts.iter().all(|d| *d == group),
        "every advert to {group}: {dsts:?}"
    );
}
