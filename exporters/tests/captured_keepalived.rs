//! keepalived 2.2.7's data, stats and JSON dumps (captured from Debian's keepalived with
//! testdata's keepalived.conf.tmpl on two nodes: node a Master of VI_1 and Backup of VI_2;
//! node b after a's graceful stop; node b with its link down) read into the keepalived
//! families.

mod common;

use common::{captured, published, vrrp_state, Scrape};
use exporters::keepalived::{self, data, json, stats, VrrpReport, VrrpState};

fn from_files(dir: &str) -> VrrpReport {
    let d = data::parse(&captured(&format!("{dir}/keepalived.data"))).expect("data reads");
    let s = stats::parse(&captured(&format!("{dir}/keepalived.stats"))).expect("stats read");
    keepalived::join(d, s).expect("the files agree")
}

fn from_json(dir: &str) -> VrrpReport {
    json::parse(&captured(&format!("{dir}/keepalived.json"))).expect("json reads")
}

fn state_of(s: &Scrape, iname: &str, vip: &str) -> Option<f64> {
    vrrp_state(s, iname, if iname == "VI_1" { "51" } else { "52" }, vip)
}

fn counter(s: &Scrape, name: &str, iname: &str) -> Option<f64> {
    let vrid = if iname == "VI_1" { "51" } else { "52" };
    s.value(name, &[("iname", iname), ("intf", "eth0"), ("vrid", vrid)])
}

#[test]
fn the_master_publishes_each_vip_with_its_instances_state() {
    let s = published(&from_files("keepalived-2.2.7/master"));
    assert_eq!(state_of(&s, "VI_1", "198.18.5.100/24"), Some(2.0));
    assert_eq!(state_of(&s, "VI_1", "198.18.5.101/24"), Some(2.0));
    assert_eq!(state_of(&s, "VI_2", "198.18.5.102/24"), Some(1.0));
    assert_eq!(
        counter(&s, "keepalived_become_master_total", "VI_1"),
        Some(1.0)
    );
    assert!(counter(&s, "keepalived_advert_sent_total", "VI_1") > Some(50.0));
    assert!(counter(&s, "keepalived_advert_rcvd_total", "VI_2") > Some(50.0));
    assert_eq!(
        counter(&s, "keepalived_garp_delay_total", "VI_1"),
        Some(5.0)
    );
    assert_eq!(s.types["keepalived_auth_failure_total"], "counter");
    assert_eq!(
        s.helps["keepalived_pri_zero_rcvd_total"],
        "Priority zero received"
    );
    // chk_true succeeds (GOOD = 1), chk_false fails (BAD = 0); both idle between runs.
    assert_eq!(
        s.value("keepalived_script_status", &[("name", "chk_true")]),
        Some(1.0)
    );
    assert_eq!(
        s.value("keepalived_script_status", &[("name", "chk_false")]),
        Some(0.0)
    );
    assert_eq!(
        s.value("keepalived_script_state", &[("name", "chk_false")]),
        Some(0.0)
    );
}

#[test]
fn after_the_masters_stop_the_backup_counts_its_priority_zero_advert_and_takes_over() {
    let s = published(&from_files("keepalived-2.2.7/after-failover"));
    assert_eq!(state_of(&s, "VI_1", "198.18.5.100/24"), Some(2.0));
    assert_eq!(
        counter(&s, "keepalived_pri_zero_rcvd_total", "VI_1"),
        Some(1.0)
    );
    assert_eq!(
        counter(&s, "keepalived_become_master_total", "VI_1"),
        Some(1.0)
    );
}

#[test]
fn a_link_down_is_fault() {
    let report = from_files("keepalived-2.2.7/fault");
    assert!(report.instances.iter().all(|i| i.state == VrrpState::Fault));
    let s = published(&report);
    assert_eq!(state_of(&s, "VI_2", "198.18.5.102/24"), Some(3.0));
}

#[test]
fn the_json_dump_says_what_the_data_and_stats_files_say() {
    for dir in ["master", "after-failover", "fault"] {
        let dir = format!("keepalived-2.2.7/{dir}");
        let (files, json) = (from_files(&dir), from_json(&dir));
        assert_eq!(files.instances.len(), 2, "{dir}");
        for (f, j) in files.instances.iter().zip(&json.instances) {
            assert_eq!(
                (&f.iname, &f.intf, f.vrid, f.state),
                (&j.iname, &j.intf, j.vrid, j.state),
                "{dir}"
            );
            assert_eq!(f.vips, j.vips, "{dir}");
            // Every keepalived statistic, from both dumps (taken a moment apart: the
            // advert counters may differ by the adverts of that moment).
            assert_eq!(f.counters.len(), 14, "{dir}");
            for ((fname, fv), (jname, jv)) in f.counters.iter().zip(&j.counters) {
                assert_eq!(fname, jname);
                if !fname.starts_with("advert_") {
                    assert_eq!(fv, jv, "{dir} {} {fname}", f.iname);
                }
            }
        }
    }
}

#[test]
fn damaged_files_are_refused_with_the_place() {
    let stats = captured("keepalived-2.2.7/master/keepalived.stats")
        .replace("Received: 0", "Received: lots");
    let err = stats::parse(&stats).expect_err("not a number");
    assert!(
        err.to_string().starts_with("keepalived.stats: line "),
        "{err}"
    );
    assert!(err.to_string().contains("\"lots\""), "{err}");
    let data = captured("keepalived-2.2.7/master/keepalived.data")
        .replace("State = MASTER", "State = DANCING");
    let err = data::parse(&data).expect_err("unknown state");
    assert_eq!(
        err.to_string(),
        "instance VI_1: unknown VRRP state \"DANCING\""
    );
    let d = data::parse(&captured("keepalived-2.2.7/master/keepalived.data")).expect("data");
    let mut s = stats::parse(&captured("keepalived-2.2.7/master/keepalived.stats")).expect("stats");
    s.pop();
    let err = keepalived::join(d, s).expect_err("one instance missing from stats");
    assert!(
        err.to_string().contains("list different instances"),
        "{err}"
    );
    assert!(json::parse("[{\"data\":{}}]").is_err());
}
