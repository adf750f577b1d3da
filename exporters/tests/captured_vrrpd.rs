//! vrrpd's `/status` (captured from two vrrpd on a veth pair: node a Master of VI_1, Backup
//! of VI_2) published as the keepalived families.

mod common;

use common::{captured, published, vrrp_state};

#[test]
fn vrrpds_status_is_published_with_keepalived_names_and_vrrpds_own_counters() {
    let status = exporters::vrrpd::parse(&captured("vrrpd-status.json")).expect("status reads");
    let report = exporters::vrrpd::report(&status).expect("states known");
    let s = published(&report);
    let state = |iname: &str, vrid: &str, vip: &str| vrrp_state(&s, iname, vrid, vip);
    assert_eq!(state("VI_1", "51", "198.18.6.100/24"), Some(2.0));
    assert_eq!(state("VI_1", "51", "198.18.6.101/24"), Some(2.0));
    assert_eq!(state("VI_2", "52", "198.18.6.102/24"), Some(1.0));
    let vi1 = [("iname", "VI_1"), ("intf", "eth0"), ("vrid", "51")];
    assert_eq!(s.value("keepalived_become_master_total", &vi1), Some(1.0));
    assert!(s.value("keepalived_advert_sent_total", &vi1) > Some(10.0));
    // keepalived's names, with keepalived-exporter's help; vrrpd's additions too.
    assert_eq!(
        s.helps["keepalived_auth_failure_total"],
        "Authentication failure"
    );
    for extra in [
        "become_backup",
        "garp_sent",
        "checksum_err",
        "fsm_lower_priority",
    ] {
        let name = format!("keepalived_{extra}_total");
        assert_eq!(
            s.types.get(&name).map(String::as_str),
            Some("counter"),
            "{name}"
        );
    }
    // No state label on any counter: rate() keeps one series across a failover.
    for (name, labels) in s.samples.keys() {
        if name.ends_with("_total") {
            assert!(labels.iter().all(|(k, _)| k != "state"), "{name}");
        }
    }
}

#[test]
fn a_state_vrrpd_does_not_publish_is_refused_by_name() {
    let text = captured("vrrpd-status.json").replacen("\"MASTER\"", "\"DANCING\"", 1);
    let status = exporters::vrrpd::parse(&text).expect("still JSON");
    let err = exporters::vrrpd::report(&status).expect_err("unknown state");
    assert_eq!(err.to_string(), "instance VI_1: unknown state \"DANCING\"");
    assert!(exporters::vrrpd::parse("<html>").is_err());
}
