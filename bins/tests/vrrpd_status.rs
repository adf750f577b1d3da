//! The status endpoint: every counter present from the start (drop reasons too, with 0),
//! transitions per target state, counters kept across a reload that restarts an instance.

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use common::{has_vip, within, Vrrpd};

const VIP: &str = "198.18.0.100";

fn vip() -> IpAddr {
    VIP.parse().expect("literal address")
}

fn conf(priority: u8) -> String {
    conf_with(priority, "")
}

fn conf_with(priority: u8, extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 141
    priority {priority}
    advert_int 0.1
    version 3
    garp_master_delay 0
    {extra}
    virtual_ipaddress {{
        {VIP}/24
    }}
}}
"
    )
}

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Every counter keepalived names, and every drop reason, present (zeros included).
fn assert_every_counter(counters: &serde_json::Value) {
    let want: BTreeSet<String> = [
        "advert_rcvd",
        "advert_sent",
        "pri_zero_rcvd",
        "pri_zero_sent",
        "become_master",
        "become_backup",
        "become_fault",
        "release_master",
        "transitions",
        "garp_sent",
        "send_errors",
        "drops",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(keys(counters), want, "{counters}");
    let want_drops: BTreeSet<String> = [
        "packet_len_err",
        "ip_header_err",
        "ip_ttl_err",
        "version_err",
        "invalid_type_rcvd",
        "checksum_err",
        "invalid_authtype",
        "authtype_mismatch",
        "auth_failure",
        "advert_interval_err",
        "addr_list_err",
        "fsm_not_running",
        "fsm_in_fault",
        "fsm_wrong_vrid",
        "fsm_wrong_version",
        "fsm_own_address",
        "fsm_address_family",
        "fsm_zero_interval",
        "fsm_interval_mismatch",
        "fsm_lower_priority",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(keys(&counters["drops"]), want_drops, "{counters}");
}

#[test]
fn status_has_every_counter_and_counts_transitions_by_state() {
    let Some(lab) = common::lab("status_counters", "vstcnt", &["a", "b"]) else {
        return;
    };
    let (a_ns, b_ns) = (lab.node("a").ns(), lab.node("b").ns());
    let mut a = Vrrpd::start(a_ns, &conf(110)).expect("a");
    let b = Vrrpd::start(b_ns, &conf(100)).expect("b");
    within(Duration::from_secs(3), || {
        has_vip(a_ns, vip()) && b.state("VI_1").as_deref() == Some("BACKUP")
    })
    .unwrap_or_else(|| panic!("a master\na:\n{}\nb:\n{}", a.log(), b.log()));

    // The full set of keys, on the Backup that has dropped nothing yet.
    let counters = b.status()["instances"][0]["counters"].clone();
    assert_every_counter(&counters);
    assert_eq!(counters["drops"]["auth_failure"], 0);
    assert_eq!(counters["become_backup"], 1, "{counters}");
    assert_eq!(counters["become_master"], 0, "{counters}");

    let inst = a.status()["instances"][0].clone();
    assert_eq!(inst["vips"], serde_json::json!([format!("{VIP}/24")]));
    assert_eq!(inst["counters"]["become_backup"], 1, "{inst}");
    assert_eq!(inst["counters"]["become_master"], 1, "{inst}");
    within(Duration::from_secs(2), || {
        a.counter("VI_1", "garp_sent") >= 5
    })
    .unwrap_or_else(|| panic!("GARPs counted\n{}", a.log()));

    // A reload that changes what a sends (the checksum form: a new socket plan, so not a
    // change in place) restarts its instance: the old one sends priority 0 and releases
    // Master; the new one starts with the old counters and becomes Master again.
    a.reload(&conf_with(110, "v3_checksum_as_v2"));
    within(Duration::from_secs(3), || {
        a.counter("VI_1", "become_master") == 2 && has_vip(a_ns, vip())
    })
    .unwrap_or_else(|| panic!("a master again\na:\n{}\nb:\n{}", a.log(), b.log()));
    let c = a.status()["instances"][0]["counters"].clone();
    assert!(c["pri_zero_sent"].as_u64() >= Some(1), "{c}");
    assert!(c["release_master"].as_u64() >= Some(1), "{c}");
    assert_eq!(c["become_fault"], 0, "{c}");
    assert!(b.counter("VI_1", "pri_zero_rcvd") >= 1);
}
