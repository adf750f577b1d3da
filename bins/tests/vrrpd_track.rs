//! `vrrp_track_process` and `track_file` through the real daemon: a tracked process killed
//! with SIGKILL moves the VIP to the Backup at once (the kernel's exit event, not a poll),
//! and its return brings the Master back; a tracked file's value faults an instance or
//! moves its priority as it is written, renamed into place or deleted.

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{has_vip, within, Vrrpd};
use testkit::{spawn, ProcessGuard, Signal};

const VIP: &str = "198.18.0.100";

fn vip() -> IpAddr {
    VIP.parse().expect("literal address")
}

/// `vrrpd -t` takes both blocks and both lists, and calls none of them unimplemented.
#[test]
fn the_config_check_accepts_track_process_and_track_file() {
    let dir = tempfile::tempdir().expect("dir");
    let conf = dir.path().join("k.conf");
    let text = format!(
        "vrrp_track_process hap {{
    process haproxy
    quorum 1
    delay 0.2
}}
vrrp_track_file ops {{
    file {}/ops
    weight 0
}}
{}",
        dir.path().display(),
        common::vrrp_instance(
            "VI_1",
            50,
            100,
            &[format!("{VIP}/24")],
            "track_process {\n        hap\n    }\n    track_file {\n        ops\n    }"
        )
    );
    std::fs::write(&conf, text).expect("config written");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vrrpd"))
        .args(["-t", "-f"])
        .arg(&conf)
        .output()
        .expect("vrrpd -t runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("not implemented"), "{stderr}");
}

/// A copy of `sleep` under a name of its own, so that matching its name (comm) finds
/// exactly the processes this test starts.
fn unique_sleep(dir: &Path, prefix: &str) -> (PathBuf, String) {
    let name = format!("{prefix}{}", std::process::id() % 1_000_000);
    let sleep = ["/usr/bin/sleep", "/bin/sleep"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("a sleep binary");
    let path = dir.join(&name);
    std::fs::copy(sleep, &path).expect("sleep copied");
    (path, name)
}

fn start_tracked(ns: &str, path: &Path) -> ProcessGuard {
    let p = spawn(ns, [path.to_str().expect("utf-8 path"), "600"]).expect("tracked process");
    // Running its own program (not `ip netns exec` any more) before the test goes on.
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let comm = format!("/proc/{}/comm", p.pid());
    within(Duration::from_secs(3), || {
        std::fs::read_to_string(&comm).is_ok_and(|c| c.trim() == name)
    })
    .expect("tracked process running");
    p
}

/// Polls `cond` every millisecond (the VIP check itself takes a few) until it holds;
/// returns how long after `since` it did.
fn until(since: Instant, limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    while since.elapsed() <= limit {
        if cond() {
            return Some(since.elapsed());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

/// Two nodes on VRID 52 with `advert_int`: a (110) tracks a process `app` with weight 0
/// (keepalived's default: the quorum lost puts the instance in FAULT), b (100) does not.
/// (Fields drop in order: the processes before the lab they run in.)
struct Pair {
    a: Vrrpd,
    b: Vrrpd,
    /// The tracked process, and its program (a copy of sleep).
    app: ProcessGuard,
    sleep: PathBuf,
    lab: testkit::Lab,
    _dir: tempfile::TempDir,
}

impl Pair {
    fn start(test: &str, prefix: &str, advert_int: &str, a_extra: &str) -> Option<Pair> {
        let dir = tempfile::tempdir().expect("dir");
        let (sleep, comm) = unique_sleep(dir.path(), prefix);
        let lab = common::lab(test, prefix, &["a", "b"])?;
        let instance = |priority: u8, extra: &str| {
            format!(
                "vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 52
    priority {priority}
    advert_int {advert_int}
    version 3
    {extra}
    virtual_ipaddress {{
        {VIP}/24
    }}
}}
"
            )
        };
        let conf_a = format!(
            "vrrp_track_process app {{\n    process {comm}\n}}\n{}",
            instance(
                110,
                &format!("{a_extra}\n    track_process {{\n        app\n    }}")
            )
        );
        let app = start_tracked(lab.node("a").ns(), &sleep);
        // Process events are sent in the initial network namespace only; vrrpd subscribes
        // from /proc/1/ns/net by default, which this sandbox may not open: the test's own
        // is the initial one.
        let netns = format!("/proc/{}/ns/net", std::process::id());
        let a = Vrrpd::start_with(
            lab.node("a").ns(),
            &conf_a,
            &["--proc-events-netns", &netns],
        )
        .unwrap_or_else(|e| panic!("vrrpd on a: {e}"));
        let b = Vrrpd::on(&lab, "b", &instance(100, ""));
        let pair = Pair {
            lab,
            a,
            b,
            sleep,
            app,
            _dir: dir,
        };
        within(Duration::from_secs(6), || pair.a_is_master())
            .unwrap_or_else(|| panic!("a is the master\n{}", pair.logs()));
        Some(pair)
    }

    fn ns(&self, node: &str) -> &str {
        self.lab.node(node).ns()
    }

    fn a_is_master(&self) -> bool {
        has_vip(self.ns("a"), vip()) && !has_vip(self.ns("b"), vip())
    }

    fn logs(&self) -> String {
        format!("a:\n{}\nb:\n{}", self.a.log(), self.b.log())
    }

    /// Kills the tracked process with SIGKILL; how long until b holds the VIP, at most
    /// `bound`. a must then be in FAULT without the VIP, saying why.
    fn kill_and_time(&mut self, bound: Duration) -> Duration {
        let killed = Instant::now();
        self.app
            .signal(Signal::SIGKILL)
            .expect("kill -9 the tracked process");
        let took = until(killed, bound, || has_vip(self.ns("b"), vip())).unwrap_or_else(|| {
            panic!(
                "b holds the VIP within {bound:?} of the kill\n{}",
                self.logs()
            )
        });
        within(Duration::from_secs(1), || !has_vip(self.ns("a"), vip()))
            .unwrap_or_else(|| panic!("a gives the VIP up\n{}", self.logs()));
        assert_eq!(self.a.state("VI_1").as_deref(), Some("FAULT"));
        assert_eq!(self.b.state("VI_1").as_deref(), Some("MASTER"));
        assert!(
            self.a.log().contains("quorum lost for tracked process app"),
            "a says why\n{}",
            self.a.log()
        );
        took
    }
}

#[test]
fn sigkill_of_a_tracked_process_moves_the_vip_at_once_and_its_return_brings_the_master_back() {
    let Some(mut pair) = Pair::start("track_process_failover", "vtrkp", "0.05", "") else {
        return;
    };
    // The exit event puts a in FAULT at once, and a sends priority 0: b takes over after
    // its Skew_Time, (256 - 100) × 5 cs / 256 = 30 ms. 150 ms covers a loaded two-core
    // machine and is still below the 180 ms Master_Down_Interval that a silent master
    // would cost, so it fails if vrrpd noticed late or did not send priority 0.
    let took = pair.kill_and_time(Duration::from_millis(150));
    eprintln!(
        "track_process failover at advert_int 0.05: VIP on the backup {took:?} after kill -9"
    );

    // The process again: FAULT clears, and a (110) preempts b (100).
    pair.app = start_tracked(pair.ns("a"), &pair.sleep);
    within(Duration::from_secs(3), || pair.a_is_master())
        .unwrap_or_else(|| panic!("a is master again\n{}", pair.logs()));
    assert_eq!(pair.a.state("VI_1").as_deref(), Some("MASTER"));
    assert!(pair
        .a
        .log()
        .contains("quorum gained for tracked process app"));
}

#[test]
fn at_advert_int_1_the_backup_takes_over_within_one_interval_of_the_kill() {
    // `state MASTER`: a does not wait 3.6 s of Master_Down_Interval to become master.
    let Some(mut pair) = Pair::start("track_process_failover_1s", "vtrks", "1", "state MASTER")
    else {
        return;
    };
    // b's Skew_Time after priority 0 is (256 - 100) × 100 cs / 256 = 60 cs: one interval
    // plus 50 ms bounds it, where a silent master would cost 3.6 s.
    let took = pair.kill_and_time(Duration::from_millis(1050));
    eprintln!("track_process failover at advert_int 1: VIP on the backup {took:?} after kill -9");
}

#[test]
fn a_tracked_file_faults_with_weight_0_and_moves_the_priority_with_a_weight() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("maintenance");
    let Some(lab) = common::lab("track_file", "vtrkf", &["a"]) else {
        return;
    };
    let ns = lab.node("a").ns();
    let conf = format!(
        "track_file maint {{
    file {}
    weight 0
    init_file
}}
{}{}",
        file.display(),
        common::vrrp_instance(
            "VI_1",
            53,
            100,
            &[format!("{VIP}/24")],
            "track_file {\n        maint\n    }"
        ),
        common::vrrp_instance(
            "VI_2",
            54,
            100,
            &["198.18.0.101/24"],
            "track_file {\n        maint weight -10\n    }"
        ),
    );
    // A value there before the start: VI_1 starts in FAULT (not BACKUP first), and
    // init_file without overwrite leaves the file alone.
    std::fs::write(&file, "2\n").expect("write");
    let d = Vrrpd::start(ns, &conf).expect("vrrpd");
    let priority = |name: &str| {
        d.status()["instances"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["name"] == name).cloned())
            .and_then(|i| i["effective_priority"].as_u64())
    };
    within(Duration::from_secs(3), || {
        d.state("VI_1").as_deref() == Some("FAULT") && d.state("VI_2").as_deref() == Some("MASTER")
    })
    .unwrap_or_else(|| panic!("VI_1 in FAULT, VI_2 master\n{}", d.log()));
    assert!(
        !d.log().contains("Entering BACKUP STATE instance=VI_1"),
        "{}",
        d.log()
    );
    assert_eq!(priority("VI_2"), Some(80));
    assert_eq!(std::fs::read_to_string(&file).ok().as_deref(), Some("2\n"));
    std::fs::write(&file, "0").expect("write");
    within(Duration::from_secs(3), || has_vip(ns, vip()))
        .unwrap_or_else(|| panic!("master on 0\n{}", d.log()));
    assert_eq!(priority("VI_2"), Some(100));

    // Written in place: a non-zero value faults VI_1 (weight 0) and takes 3 × 10 off VI_2.
    std::fs::write(&file, "3\n").expect("write");
    within(Duration::from_secs(2), || {
        d.state("VI_1").as_deref() == Some("FAULT") && !has_vip(ns, vip())
    })
    .unwrap_or_else(|| panic!("FAULT on 3\n{}", d.log()));
    assert_eq!(priority("VI_2"), Some(70));
    assert_eq!(d.state("VI_2").as_deref(), Some("MASTER"));

    // Renamed into place: 0 is OK again.
    let tmp = dir.path().join("maintenance.tmp");
    std::fs::write(&tmp, "0").expect("write tmp");
    std::fs::rename(&tmp, &file).expect("rename");
    within(Duration::from_secs(2), || {
        d.state("VI_1").as_deref() == Some("MASTER") && has_vip(ns, vip())
    })
    .unwrap_or_else(|| panic!("MASTER on 0\n{}", d.log()));
    assert_eq!(priority("VI_2"), Some(100));

    // Deleted: keepalived reads a file that is gone as 0; written again, FAULT again.
    std::fs::write(&file, "1").expect("write");
    within(Duration::from_secs(2), || {
        d.state("VI_1").as_deref() == Some("FAULT")
    })
    .unwrap_or_else(|| panic!("FAULT on 1\n{}", d.log()));
    std::fs::remove_file(&file).expect("delete");
    within(Duration::from_secs(2), || {
        d.state("VI_1").as_deref() == Some("MASTER")
    })
    .unwrap_or_else(|| panic!("MASTER once deleted\n{}", d.log()));
    assert!(
        d.log().contains("tracked file maint now reads 0"),
        "{}",
        d.log()
    );
}

/// Without process events there is no tracking of processes (keepalived has no fallback
/// either): the daemon says why and stops, and a reload that adds a tracked process is
/// refused while the running configuration goes on.
#[test]
fn without_process_events_a_tracked_process_is_refused_not_ignored() {
    let Some(lab) = common::lab("track_process_refused", "vtrkr", &["a"]) else {
        return;
    };
    let ns = lab.node("a").ns();
    let tracked = format!(
        "vrrp_track_process app {{\n    process nothing\n}}\n{}",
        common::vrrp_instance(
            "VI_1",
            55,
            100,
            &[format!("{VIP}/24")],
            "track_process {\n        app\n    }"
        )
    );
    // The lab's namespace has no connector, and the one to subscribe from does not exist.
    let args = ["--proc-events-netns", "/nonexistent/ns/net"];
    let mut d = Vrrpd::start_with(ns, &tracked, &args).expect("vrrpd");
    let status = d.proc.wait_timeout(Duration::from_secs(5)).expect("wait");
    assert!(
        status.is_some_and(|s| !s.success()),
        "vrrpd stops\n{}",
        d.log()
    );
    assert!(
        d.log().contains(
            "vrrp_track_process: process events are sent in the initial network namespace only"
        ) && d.log().contains("/nonexistent/ns/net failed"),
        "{}",
        d.log()
    );

    let plain = common::vrrp_instance("VI_1", 55, 100, &[format!("{VIP}/24")], "");
    let mut d = Vrrpd::start_with(ns, &plain, &args).expect("vrrpd");
    within(Duration::from_secs(3), || has_vip(ns, vip()))
        .unwrap_or_else(|| panic!("master\n{}", d.log()));
    d.reload(&tracked);
    within(Duration::from_secs(3), || {
        d.log().contains("reload failed, running instances kept")
    })
    .unwrap_or_else(|| panic!("reload refused\n{}", d.log()));
    assert!(d.proc.is_running(), "still running\n{}", d.log());
    assert_eq!(d.state("VI_1").as_deref(), Some("MASTER"));
}

/// A reload that adds a tracked process counts it before the instance uses it: one not
/// running faults the instance (kept running, updated in place); dropping it again clears
/// the fault.
#[test]
fn a_reload_adds_and_drops_a_tracked_process() {
    let Some(lab) = common::lab("track_process_reload", "vtrkl", &["a"]) else {
        return;
    };
    let ns = lab.node("a").ns();
    let plain = common::vrrp_instance("VI_1", 56, 100, &[format!("{VIP}/24")], "");
    let tracked = format!(
        "vrrp_track_process gone {{\n    process vtrk-none{}\n}}\n{}",
        std::process::id() % 1000,
        common::vrrp_instance(
            "VI_1",
            56,
            100,
            &[format!("{VIP}/24")],
            "track_process {\n        gone\n    }"
        )
    );
    let netns = format!("/proc/{}/ns/net", std::process::id());
    let mut d = Vrrpd::start_with(ns, &plain, &["--proc-events-netns", &netns]).expect("vrrpd");
    within(Duration::from_secs(3), || has_vip(ns, vip()))
        .unwrap_or_else(|| panic!("master\n{}", d.log()));
    d.reload(&tracked);
    within(Duration::from_secs(3), || {
        d.state("VI_1").as_deref() == Some("FAULT") && !has_vip(ns, vip())
    })
    .unwrap_or_else(|| panic!("FAULT once the missing process is tracked\n{}", d.log()));
    d.reload(&plain);
    within(Duration::from_secs(3), || has_vip(ns, vip()))
        .unwrap_or_else(|| panic!("master again untracked\n{}", d.log()));
    assert!(d
        .log()
        .contains("tracked process counted track_process=gone running=0"));
}
