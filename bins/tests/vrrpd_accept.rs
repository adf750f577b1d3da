//! `accept` / `no_accept`: under vrrp_strict a Master that is not the address owner drops
//! traffic to its VIPs (an nftables table `inet vrrpd`), unless the instance says `accept`.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::{has_vip, within, Vrrpd};
use testkit::{exec, Signal};

const VIP: &str = "198.18.0.100";

fn vip() -> IpAddr {
    VIP.parse().expect("literal address")
}

fn conf(vrid: u8, priority: u8, extra: &str) -> String {
    format!(
        "global_defs {{\n    vrrp_strict\n}}\n{}",
        common::vrrp_instance("VI_1", vrid, priority, &[format!("{VIP}/24")], extra)
    )
}

/// Whether one ping from `ns` to the VIP is answered within a second.
fn ping(ns: &str) -> bool {
    exec(ns, ["ping", "-c", "1", "-W", "1", VIP]).is_ok_and(|o| o.status.success())
}

fn table_exists(ns: &str) -> bool {
    exec(ns, ["nft", "list", "table", "inet", "vrrpd"]).is_ok_and(|o| o.status.success())
}

/// Runs one node as Master with `extra` in its instance, a client pings the VIP; returns
/// whether the pings were answered, and whether the nftables table existed meanwhile
/// (`None`: the test `test` is skipped).
fn master_answers(
    test: &str,
    prefix: &str,
    vrid: u8,
    priority: u8,
    extra: &str,
) -> Option<(bool, bool)> {
    let lab = common::lab(test, prefix, &["a", "c"])?;
    let (a_ns, c_ns) = (lab.node("a").ns(), lab.node("c").ns());
    let mut a = Vrrpd::start(a_ns, &conf(vrid, priority, extra)).expect("vrrpd");
    within(Duration::from_secs(3), || has_vip(a_ns, vip()))
        .unwrap_or_else(|| panic!("a master\n{}", a.log()));
    // The client reaches a itself in any case: the link works.
    assert!(
        exec(c_ns, ["ping", "-c", "1", "-W", "1", "198.18.0.1"]).is_ok_and(|o| o.status.success()),
        "c reaches a's own address"
    );
    // Three tries, so one lost first ping (ARP) does not decide.
    let answered = (0..3).any(|_| ping(c_ns));
    let table = table_exists(a_ns);
    a.proc
        .stop(Signal::SIGTERM, Duration::from_secs(5))
        .expect("stopped");
    assert!(
        !table_exists(a_ns),
        "the table is removed at shutdown\n{}",
        a.log()
    );
    Some((answered, table))
}

#[test]
fn strict_master_drops_traffic_to_the_vip_without_accept() {
    let Some((answered, table)) = master_answers("no_accept", "vaccno", 121, 100, "") else {
        return;
    };
    assert!(table, "table inet vrrpd installed while Master");
    assert!(
        !answered,
        "vrrp_strict without accept: the VIP must not answer"
    );
}

#[test]
fn strict_master_with_accept_answers_on_the_vip() {
    let Some((answered, table)) = master_answers("accept", "vaccyes", 122, 100, "accept") else {
        return;
    };
    assert!(!table, "accept: no table");
    assert!(answered, "accept: the VIP answers");
}

#[test]
fn the_address_owner_always_accepts() {
    let Some((answered, table)) = master_answers("accept_owner", "vaccown", 123, 255, "") else {
        return;
    };
    assert!(!table, "priority 255: no table");
    assert!(answered, "the address owner answers on the VIP");
}

#[test]
fn a_reload_that_adds_accept_opens_the_vip_without_a_new_election() {
    let Some(lab) = common::lab("accept_reload", "vaccrl", &["a", "c"]) else {
        return;
    };
    let (a_ns, c_ns) = (lab.node("a").ns(), lab.node("c").ns());
    let mut a = Vrrpd::start(a_ns, &conf(124, 100, "")).expect("vrrpd");
    within(Duration::from_secs(3), || {
        has_vip(a_ns, vip()) && table_exists(a_ns)
    })
    .unwrap_or_else(|| panic!("a master, table installed\n{}", a.log()));
    assert!(!(0..2).any(|_| ping(c_ns)), "no_accept: no answer");
    a.reload(&conf(124, 100, "accept"));
    within(Duration::from_secs(3), || !table_exists(a_ns))
        .unwrap_or_else(|| panic!("the table goes with accept\n{}", a.log()));
    assert!((0..3).any(|_| ping(c_ns)), "accept: the VIP answers");
    assert_eq!(a.counter("VI_1", "become_master"), 1, "{}", a.log());
    assert_eq!(a.counter("VI_1", "pri_zero_sent"), 0, "{}", a.log());
    a.reload(&conf(124, 100, "no_accept"));
    within(Duration::from_secs(3), || table_exists(a_ns))
        .unwrap_or_else(|| panic!("no_accept again\n{}", a.log()));
    assert!(!(0..2).any(|_| ping(c_ns)), "no_accept again: no answer");
}
