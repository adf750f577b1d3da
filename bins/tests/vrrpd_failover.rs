//! Two `vrrpd` on a bridge in namespaces the test creates: election, failover on SIGKILL
//! within Master_Down_Interval, preemption and nopreempt, graceful hand-over with priority
//! 0, and the gratuitous ARPs of a new master on the wire.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::{has_vip, v3_master_down, within, Vrrpd};
use testkit::{Capture, Lab, Signal};

const VIP: &str = "198.18.0.100";

fn vip() -> IpAddr {
    VIP.parse().expect("literal address")
}

/// One instance: `extra` lines go inside the block.
fn conf(priority: u8, advert_int: &str, version: u8, extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int {advert_int}
    version {version}
    {extra}
    virtual_ipaddress {{
        {VIP}/24
    }}
}}
"
    )
}

/// Waits until exactly `owner` holds the VIP among `nodes`.
fn sole_owner(lab: &Lab, owner: &str, limit: Duration) -> Option<Duration> {
    within(limit, || {
        lab.nodes()
            .iter()
            .all(|n| has_vip(n.ns(), vip()) == (n.name() == owner))
    })
}

#[test]
fn v3_sigkill_master_then_backup_takes_over_within_master_down_interval_and_preempts_back() {
    let Some(lab) = common::lab("v3_sigkill_failover", "vfov3", &["a", "b"]) else {
        return;
    };
    let conf_a = conf(110, "0.1", 3, "");
    let mut a = Vrrpd::on(&lab, "a", &conf_a);
    let b = Vrrpd::on(&lab, "b", &conf(100, "0.1", 3, ""));
    sole_owner(&lab, "a", Duration::from_secs(3)).unwrap_or_else(|| {
        panic!(
            "a becomes the only master\na:\n{}\nb:\n{}",
            a.log(),
            b.log()
        )
    });
    assert_eq!(b.state("VI_1").as_deref(), Some("BACKUP"));

    a.proc.signal(Signal::SIGKILL).expect("kill a");
    // b's timer runs from the last advert it heard, so the takeover comes at most
    // Master_Down_Interval after the kill; 100 ms covers polling and netlink.
    let bound = v3_master_down(100, 10) + Duration::from_millis(100);
    let took = within(bound, || has_vip(lab.node("b").ns(), vip()));
    assert!(
        took.is_some(),
        "b holds the VIP within {bound:?}\nb:\n{}",
        b.log()
    );
    assert_eq!(b.state("VI_1").as_deref(), Some("MASTER"));

    // Restart a: it removes the VIP its killed run left, then preempts b.
    drop(a);
    let a = Vrrpd::on(&lab, "a", &conf_a);
    sole_owner(&lab, "a", Duration::from_secs(3))
        .unwrap_or_else(|| panic!("a preempts back\na:\n{}\nb:\n{}", a.log(), b.log()));
    assert_eq!(b.state("VI_1").as_deref(), Some("BACKUP"));
    assert!(b.counter("VI_1", "release_master") >= 1);
}

#[test]
fn nopreempt_leaves_the_new_master_in_place() {
    let Some(lab) = common::lab("nopreempt", "vfonp", &["a", "b"]) else {
        return;
    };
    let conf_a = conf(110, "0.1", 3, "nopreempt");
    let mut a = Vrrpd::on(&lab, "a", &conf_a);
    // a first: with nopreempt, a b that won the race at start would stay Master.
    sole_owner(&lab, "a", Duration::from_secs(3)).expect("a master first");
    let b = Vrrpd::on(&lab, "b", &conf(100, "0.1", 3, "nopreempt"));
    within(Duration::from_secs(3), || {
        b.state("VI_1").as_deref() == Some("BACKUP")
    })
    .expect("b Backup");
    a.proc.signal(Signal::SIGKILL).expect("kill a");
    assert!(
        a.proc
            .wait_timeout(Duration::from_secs(2))
            .expect("wait")
            .is_some(),
        "a is dead"
    );
    within(Duration::from_secs(3), || {
        has_vip(lab.node("b").ns(), vip())
    })
    .unwrap_or_else(|| panic!("b takes over\nb:\n{}", b.log()));
    // Nobody removed what the killed run installed: the leftover is there...
    assert!(
        has_vip(lab.node("a").ns(), vip()),
        "the killed a leaves its VIP behind"
    );
    drop(a);
    let a = Vrrpd::on(&lab, "a", &conf_a);
    // ...until a starts again, as Backup, and removes it.
    within(Duration::from_secs(2), || {
        a.state("VI_1").as_deref() == Some("BACKUP") && !has_vip(lab.node("a").ns(), vip())
    })
    .unwrap_or_else(|| panic!("a restarts as Backup without the leftover\na:\n{}", a.log()));
    // Many Master_Down_Intervals later, the higher-priority a has still not preempted.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        has_vip(lab.node("b").ns(), vip()),
        "b keeps the VIP\na:\n{}",
        a.log()
    );
    assert!(!has_vip(lab.node("a").ns(), vip()));
    assert_eq!(a.state("VI_1").as_deref(), Some("BACKUP"));
    assert_eq!(b.state("VI_1").as_deref(), Some("MASTER"));
}

#[test]
fn v2_with_pass_auth_fails_over_within_master_down_interval() {
    let Some(lab) = common::lab("v2_failover", "vfov2", &["a", "b"]) else {
        return;
    };
    let auth = "authentication {\n auth_type PASS\n auth_pass halpass1\n }";
    let mut a = Vrrpd::on(&lab, "a", &conf(110, "1", 2, auth));
    let b = Vrrpd::on(&lab, "b", &conf(100, "1", 2, auth));
    sole_owner(&lab, "a", Duration::from_secs(6)).expect("a becomes master");
    a.proc.signal(Signal::SIGKILL).expect("kill a");
    // v2: Master_Down_Interval = 3 s + (256 - 100)/256 s.
    let bound = Duration::from_micros(3_000_000 + 156 * 1_000_000 / 256 + 100_000);
    assert!(
        within(bound, || has_vip(lab.node("b").ns(), vip())).is_some(),
        "b takes over within {bound:?}\nb:\n{}",
        b.log()
    );
    assert!(b.counter("VI_1", "advert_rcvd") >= 1);
    assert_eq!(b.counter("VI_1", "drops.auth_failure"), 0);
}

#[test]
fn sigterm_hands_over_with_priority_zero_and_a_gratuitous_arp() {
    let Some(lab) = common::lab("sigterm_handover", "vfoterm", &["a", "b"]) else {
        return;
    };
    // advert_int 1 (v3): without the priority-0 advert, b would wait over 3 s.
    let mut a = Vrrpd::on(&lab, "a", &conf(110, "1", 3, ""));
    let b = Vrrpd::on(&lab, "b", &conf(100, "1", 3, ""));
    sole_owner(&lab, "a", Duration::from_secs(6)).expect("a becomes master");
    let capture = Capture::start(lab.node("b").ns(), "eth0", &["arp"]).expect("tcpdump");

    a.proc.signal(Signal::SIGTERM).expect("SIGTERM a");
    let status = a
        .proc
        .wait_timeout(Duration::from_secs(3))
        .expect("wait")
        .expect("a exits");
    assert!(status.success(), "a exits 0 on SIGTERM:\n{}", a.log());
    assert!(!has_vip(lab.node("a").ns(), vip()), "a removed its VIP");
    // Skew_Time for priority 100 at 1 s is 609 ms; far below Master_Down_Interval (3.6 s).
    let took = within(Duration::from_millis(609 + 300), || {
        has_vip(lab.node("b").ns(), vip())
    });
    assert!(
        took.is_some(),
        "b takes over after Skew_Time\nb:\n{}",
        b.log()
    );
    assert!(b.counter("VI_1", "pri_zero_rcvd") >= 1);

    std::thread::sleep(Duration::from_millis(200));
    let frames = capture.stop().expect("capture read").frames;
    let b_mac = lab.node("b").mac().to_string();
    let garps: Vec<_> = frames
        .iter()
        .filter(|f| f.gratuitous_arp_ip() == Some("198.18.0.100".parse().expect("literal")))
        .filter(|f| f.eth_src().map(mac_string).as_deref() == Some(b_mac.as_str()))
        .collect();
    assert!(
        garps.len() >= 5,
        "b sent its garp_master_repeat (5) gratuitous ARPs, saw {} of {} frames",
        garps.len(),
        frames.len()
    );
}

fn mac_string(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn garp_repeat_delay_and_refresh_as_configured() {
    let Some(lab) = common::lab("garp_timing", "vfogarp", &["a"]) else {
        return;
    };
    let ns = lab.node("a").ns();
    let capture = Capture::start(ns, "eth0", &["arp"]).expect("tcpdump");
    let extra = "garp_master_repeat 2\n garp_master_delay 1\n garp_master_refresh 1\n garp_master_refresh_repeat 3";
    let a = Vrrpd::start(ns, &conf(100, "0.1", 3, extra)).expect("vrrpd");
    within(Duration::from_secs(3), || has_vip(ns, vip())).expect("master");
    std::thread::sleep(Duration::from_millis(2600));
    let frames: Vec<Duration> = capture
        .stop()
        .expect("capture")
        .frames
        .iter()
        .filter(|f| f.gratuitous_arp_ip() == Some("198.18.0.100".parse().expect("literal")))
        .map(|f| f.ts)
        .collect();
    let Some(&t0) = frames.first() else {
        panic!("no gratuitous ARP\n{}", a.log());
    };
    let at = |from_ms: u64, to_ms: u64| {
        frames
            .iter()
            .filter(|t| {
                let d = t.saturating_sub(t0);
                d >= Duration::from_millis(from_ms) && d < Duration::from_millis(to_ms)
            })
            .count()
    };
    // The transition burst: garp_master_repeat.
    assert_eq!(at(0, 100), 2, "transition burst of 2: {frames:?}");
    // One second later, the delayed burst (2) and the first refresh (3), give or take
    // which comes first.
    assert_eq!(
        at(900, 1200),
        2 + 3,
        "delayed burst + refresh at 1 s: {frames:?}"
    );
    // Then refreshes only.
    assert_eq!(at(1900, 2200), 3, "refresh at 2 s: {frames:?}");
}

/// Starts a (v3, 0.1 s) master `a` and backup `b` with `--vip-lifetime SECS`, waits for a
/// to be the sole owner, SIGKILLs a and returns the lab and b, with a's VIP left behind.
fn kill_master_with_lifetime(test: &str, prefix: &str, secs: &str) -> Option<(Lab, Vrrpd)> {
    let lab = common::lab(test, prefix, &["a", "b"])?;
    let extra = ["--vip-lifetime", secs];
    let start = |node: &str, prio| {
        Vrrpd::start_with(lab.node(node).ns(), &conf(prio, "0.1", 3, ""), &extra)
            .unwrap_or_else(|e| panic!("vrrpd on {node}: {e}"))
    };
    let mut a = start("a", 110);
    let b = start("b", 100);
    sole_owner(&lab, "a", Duration::from_secs(3))
        .unwrap_or_else(|| panic!("a becomes the only master\na:\n{}", a.log()));
    a.proc.signal(Signal::SIGKILL).expect("kill a");
    within(Duration::from_secs(1), || {
        has_vip(lab.node("b").ns(), vip())
    })
    .unwrap_or_else(|| panic!("b takes over\nb:\n{}", b.log()));
    Some((lab, b))
}

#[test]
fn a_killed_masters_vip_expires_from_its_node_after_the_vip_lifetime() {
    let Some((lab, b)) = kill_master_with_lifetime("vip_lifetime", "vlft", "1") else {
        return;
    };
    // Asked for 1 s, the lifetime is 2 s (never under 4 advert intervals + 1 s), renewed
    // every third of it while a lived; the kernel's expiry check runs on whole seconds, so the
    // address goes 1 to 3 s after the kill.
    let gone = within(Duration::from_millis(3500), || {
        !has_vip(lab.node("a").ns(), vip())
    });
    assert!(gone.is_some(), "a's VIP expired");
    eprintln!("a's VIP left its node {gone:?} after the kill");
    // b, alive, keeps renewing its own.
    std::thread::sleep(Duration::from_millis(2000));
    assert!(
        has_vip(lab.node("b").ns(), vip()),
        "b keeps its VIP\n{}",
        b.log()
    );
}

#[test]
fn with_vip_lifetime_0_a_killed_masters_vip_stays_as_with_keepalived() {
    let Some((lab, _b)) = kill_master_with_lifetime("vip_lifetime0", "vlf0", "0") else {
        return;
    };
    std::thread::sleep(Duration::from_millis(3500));
    assert!(has_vip(lab.node("a").ns(), vip()), "a's VIP is still there");
}

#[test]
fn keepalived_dump_signals_leave_the_master_running() {
    let Some(lab) = common::lab("dump_signals", "vfdmp", &["a"]) else {
        return;
    };
    let mut a = Vrrpd::on(&lab, "a", &conf(110, "0.1", 3, ""));
    sole_owner(&lab, "a", Duration::from_secs(3)).expect("a master");
    // keepalived-exporter and cron jobs send these for keepalived's dumps; their default
    // action would end the daemon without a priority 0 advert.
    a.proc.signal(Signal::SIGUSR1).expect("SIGUSR1");
    a.proc.signal(Signal::SIGUSR2).expect("SIGUSR2");
    std::thread::sleep(Duration::from_millis(300));
    assert!(a.proc.is_running(), "vrrpd still runs\n{}", a.log());
    assert_eq!(a.state("VI_1").as_deref(), Some("MASTER"));
    assert!(a.log().contains("SIGUSR1"), "logged\n{}", a.log());
}

#[test]
fn every_one_of_many_masters_keeps_its_vip_past_the_vip_lifetime() {
    // The Masters renew their VIPs each on its own deadline, spread over ten phases, every
    // third of the lifetime: none may be left out, or its VIP goes when its lifetime ends (2 s).
    let Some(lab) = common::lab("vip_renewal_many", "vlfm", &["a"]) else {
        return;
    };
    let vips: Vec<IpAddr> = (101..=125)
        .map(|i| format!("198.18.0.{i}").parse().expect("literal address"))
        .collect();
    let conf: String = vips
        .iter()
        .enumerate()
        .map(|(i, vip)| {
            format!(
                "vrrp_instance VI_{n} {{
    state MASTER
    interface eth0
    virtual_router_id {n}
    priority 150
    advert_int 0.1
    version 3
    virtual_ipaddress {{
        {vip}/24
    }}
}}
",
                n = i + 1
            )
        })
        .collect();
    let ns = lab.node("a").ns();
    let a = Vrrpd::start_with(ns, &conf, &["--vip-lifetime", "1"]).expect("vrrpd on a");
    let missing = || {
        let have = testkit::addresses(ns, "eth0").unwrap_or_default();
        vips.iter()
            .filter(|v| !have.contains(v))
            .copied()
            .collect::<Vec<_>>()
    };
    within(Duration::from_secs(3), || missing().is_empty())
        .unwrap_or_else(|| panic!("a master of all 25\n{}", a.log()));
    // Twice the lifetime: each VIP must have been renewed at least once.
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(4) {
        let gone = missing();
        assert!(
            gone.is_empty(),
            "{gone:?} expired after {:?}\n{}",
            start.elapsed(),
            a.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
