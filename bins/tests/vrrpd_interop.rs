//! Interoperation with the real keepalived (Debian's 2.2.7) as the other node, VRRPv2 with
//! PASS and VRRPv3: each side fails over to the other and back. And the v3/IPv4 checksum
//! forms: which one keepalived 2.2.7 accepts.
//! Both daemons read the very same keepalived.conf text.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::{has_vip, within, Vrrpd};
use testkit::{keepalived, KeepalivedConf, Lab, ProcessGuard, Signal, VrrpInstance};

const VIP: &str = "198.18.0.100";

fn vip() -> IpAddr {
    VIP.parse().expect("literal address")
}

fn conf(version: u8, priority: u8, checksum_as_v2: bool) -> String {
    let mut i = VrrpInstance::new("VI_1", "eth0", 71, priority);
    i.version = Some(version);
    i.vips.push(format!("{VIP}/24"));
    if version == 2 {
        i.auth_pass = Some("halpass1".into());
        i.advert_int = "1".into();
    } else {
        i.advert_int = "0.1".into();
    }
    if checksum_as_v2 {
        // vrrpd only: keepalived 2.2.7 does not know the keyword (it warns and ignores it).
        i.extra.push("v3_checksum_as_v2".into());
    }
    // Without this, keepalived repeats GARPs 5 s after a takeover; not needed here.
    i.extra.push("garp_master_delay 0".into());
    KeepalivedConf {
        instances: vec![i],
        ..Default::default()
    }
    .render()
}

fn keepalived_log(k: &ProcessGuard) -> String {
    k.log()
}

/// Two nodes for a test that runs keepalived beside vrrpd; `None` when the test is
/// skipped (not root, or no keepalived, outside CI).
fn keepalived_lab(test: &str, prefix: &str) -> Option<Lab> {
    if !testkit::require_root(test) || !have_keepalived() {
        return None;
    }
    common::lab(test, prefix, &["a", "b"])
}

/// vrrpd (priority 110) against keepalived (100), then keepalived (110) against vrrpd (100).
fn fail_over_both_ways(test: &str, prefix: &str, version: u8) {
    let Some(lab) = keepalived_lab(test, prefix) else {
        return;
    };
    let limit = if version == 2 {
        Duration::from_secs(6)
    } else {
        Duration::from_secs(3)
    };
    vrrpd_master_then_keepalived(&lab, version, limit);
    keepalived_master_then_vrrpd(&lab, version, limit);
}

/// vrrpd is master; keepalived takes over when it dies; vrrpd preempts back.
fn vrrpd_master_then_keepalived(lab: &Lab, version: u8, limit: Duration) {
    let (a_ns, b_ns) = (lab.node("a").ns(), lab.node("b").ns());
    let mut ours = Vrrpd::start(a_ns, &conf(version, 110, false)).expect("vrrpd");
    let theirs = keepalived(b_ns, &conf(version, 100, false)).expect("keepalived");
    within(limit, || has_vip(a_ns, vip()) && !has_vip(b_ns, vip())).unwrap_or_else(|| {
        panic!(
            "vrrpd alone is master\nvrrpd:\n{}\nkeepalived:\n{}",
            ours.log(),
            keepalived_log(&theirs)
        )
    });
    // Once settled, keepalived is a quiet Backup: vrrpd keeps advertising and hears nothing.
    // (At start-up both are BACKUP and either may be Master for a moment.)
    let quiet = if version == 2 { 3500 } else { 600 };
    let (heard, sent) = (
        ours.counter("VI_1", "advert_rcvd"),
        ours.counter("VI_1", "advert_sent"),
    );
    std::thread::sleep(Duration::from_millis(quiet));
    assert_eq!(
        ours.counter("VI_1", "advert_rcvd"),
        heard,
        "keepalived stays quiet as backup\nvrrpd:\n{}\nkeepalived:\n{}",
        ours.log(),
        keepalived_log(&theirs)
    );
    assert!(
        ours.counter("VI_1", "advert_sent") >= sent + 3,
        "vrrpd keeps advertising"
    );
    ours.proc.signal(Signal::SIGTERM).expect("SIGTERM vrrpd");
    ours.proc
        .wait_timeout(Duration::from_secs(3))
        .expect("wait")
        .expect("vrrpd exits");
    within(limit, || has_vip(b_ns, vip()) && !has_vip(a_ns, vip()))
        .unwrap_or_else(|| panic!("keepalived takes over\n{}", keepalived_log(&theirs)));
    let ours = Vrrpd::start(a_ns, &conf(version, 110, false)).expect("vrrpd again");
    within(limit, || has_vip(a_ns, vip()) && !has_vip(b_ns, vip())).unwrap_or_else(|| {
        panic!(
            "vrrpd preempts keepalived\nvrrpd:\n{}\nkeepalived:\n{}",
            ours.log(),
            keepalived_log(&theirs)
        )
    });
    // vrrpd accepted keepalived's adverts while it was backup: nothing dropped.
    let status = ours.status();
    let drops = &status["instances"][0]["counters"]["drops"];
    assert!(
        drops["checksum_err"] == 0 && drops["auth_failure"] == 0,
        "no keepalived advert dropped: {drops}"
    );
}

/// keepalived is master; vrrpd takes over when it dies; keepalived preempts back.
fn keepalived_master_then_vrrpd(lab: &Lab, version: u8, limit: Duration) {
    let (a_ns, b_ns) = (lab.node("a").ns(), lab.node("b").ns());
    let mut theirs = keepalived(a_ns, &conf(version, 110, false)).expect("keepalived");
    // Remove what the killed vrrpd left, as its restart would.
    let _ = testkit::exec(
        a_ns,
        ["ip", "addr", "del", &format!("{VIP}/24"), "dev", "eth0"],
    );
    let ours = Vrrpd::start(b_ns, &conf(version, 100, false)).expect("vrrpd");
    within(limit, || has_vip(a_ns, vip()) && !has_vip(b_ns, vip())).unwrap_or_else(|| {
        panic!(
            "keepalived alone is master\nvrrpd:\n{}\nkeepalived:\n{}",
            ours.log(),
            keepalived_log(&theirs)
        )
    });
    assert!(
        within(limit, || ours.counter("VI_1", "advert_rcvd") > 2).is_some(),
        "vrrpd accepts keepalived's adverts\nvrrpd:\n{}",
        ours.log()
    );
    theirs
        .signal_group(Signal::SIGKILL)
        .expect("kill keepalived");
    within(limit, || has_vip(b_ns, vip()))
        .unwrap_or_else(|| panic!("vrrpd takes over\nvrrpd:\n{}", ours.log()));
    let _ = testkit::exec(
        a_ns,
        ["ip", "addr", "del", &format!("{VIP}/24"), "dev", "eth0"],
    );
    let theirs = keepalived(a_ns, &conf(version, 110, false)).expect("keepalived again");
    within(limit, || has_vip(a_ns, vip()) && !has_vip(b_ns, vip())).unwrap_or_else(|| {
        panic!(
            "keepalived preempts vrrpd\nvrrpd:\n{}\nkeepalived:\n{}",
            ours.log(),
            keepalived_log(&theirs)
        )
    });
    assert_eq!(ours.state("VI_1").as_deref(), Some("BACKUP"));
}

fn have_keepalived() -> bool {
    let found = std::process::Command::new("keepalived")
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("keepalived is not installed: CI must install it (apt-get install keepalived)");
        }
        eprintln!("SKIPPED: keepalived is not installed");
    }
    found
}

#[test]
fn interop_with_keepalived_v2_pass() {
    fail_over_both_ways("interop_v2", "vkav2", 2);
}

#[test]
fn interop_with_keepalived_v3_pseudo_header_checksum() {
    fail_over_both_ways("interop_v3", "vkav3", 3);
}

/// keepalived 2.2.7 knows only the pseudo-header form for v3 over IPv4 (the keyword
/// `v3_checksum_as_v2` came later): a vrrpd set to RFC 9568's message-only form is dropped
/// by it, and both become master; vrrpd still accepts keepalived's form. This is why
/// vrrpd sends the pseudo-header form by default.
#[test]
fn keepalived_2_2_7_drops_rfc9568_checksums_and_vrrpd_accepts_both() {
    let Some(lab) = keepalived_lab("interop_v3_csum", "vkav3c") else {
        return;
    };
    let (a_ns, b_ns) = (lab.node("a").ns(), lab.node("b").ns());
    let ours = Vrrpd::start(a_ns, &conf(3, 110, true)).expect("vrrpd");
    let theirs = keepalived(b_ns, &conf(3, 100, false)).expect("keepalived");
    within(Duration::from_secs(3), || {
        has_vip(a_ns, vip()) && has_vip(b_ns, vip())
    })
    .unwrap_or_else(|| panic!("both masters\nkeepalived:\n{}", keepalived_log(&theirs)));
    within(Duration::from_secs(2), || {
        keepalived_log(&theirs).contains("Invalid VRRPv3 checksum")
    })
    .unwrap_or_else(|| {
        panic!(
            "keepalived rejects our checksum\n{}",
            keepalived_log(&theirs)
        )
    });
    // keepalived's Master re-arms its advert timer on every packet it receives, even one it
    // rejects (vrrp_init_instance_sands after each read), and ours come at least every
    // interval: it may send no more than the advert it sends on entering MASTER. One accepted
    // advert of keepalived's, and no checksum drop, is the proof that we take its form.
    assert!(
        within(Duration::from_secs(3), || ours
            .counter("VI_1", "advert_rcvd")
            >= 1)
        .is_some(),
        "vrrpd accepts keepalived's pseudo-header adverts\nvrrpd:\n{}\nkeepalived:\n{}",
        ours.log(),
        keepalived_log(&theirs)
    );
    assert_eq!(ours.counter("VI_1", "drops.checksum_err"), 0);
}
