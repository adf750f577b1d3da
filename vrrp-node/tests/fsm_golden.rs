//! Golden traces of the RFC scenarios: scripted input events and the actions they produce,
//! compared with the readable files in `tests/golden/`. Regenerate with `UPDATE_GOLDEN=1`
//! after an intended change, and review the diff.

use core::net::{IpAddr, Ipv4Addr};
use std::fmt::Write as _;
use std::path::PathBuf;

use vrrp_node::fsm::*;
use vrrp_proto::Version;

enum Step {
    /// Fire due timers up to this time (ms), then handle the event at it.
    Event(u64, Event),
    /// Fire due timers up to this time (ms).
    Until(u64),
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, 0, last))
}

fn at(ms: u64) -> Instant {
    Instant::ZERO + Duration::from_millis(ms)
}

fn advert(version: Version, from: u8, priority: u8, interval: u16) -> Event {
    Event::Advert(Advert {
        source: ip(from),
        version,
        vrid: 7,
        priority,
        max_advert_interval: interval,
    })
}

fn render_event(e: &Event) -> String {
    match e {
        Event::Advert(a) => format!(
            "advert from {} v{} vrid {} priority {} interval {}",
            a.source, a.version as u8, a.vrid, a.priority, a.max_advert_interval
        ),
        other => format!("{other:?}"),
    }
}

fn render_action(a: &Action) -> String {
    match a {
        Action::SendAdvert {
            priority,
            max_advert_interval,
        } => format!("send advert priority {priority} interval {max_advert_interval}"),
        Action::InstallVips => "install VIPs".into(),
        Action::RemoveVips => "remove VIPs".into(),
        Action::SendGarp { count, reason } => format!("send GARP x{count} ({reason:?})"),
        Action::Notify { state } => format!("notify {}", state.keepalived_name()),
        Action::Observe(Observation::StateChanged { from, to, reason }) => {
            format!("state {from} -> {to} ({reason:?})")
        }
        Action::Observe(Observation::AdvertDropped { source, reason }) => {
            format!("drop advert from {source}: {reason:?}")
        }
        Action::Observe(o) => format!("observe {o:?}"),
    }
}

fn drain_into(vr: &mut VirtualRouter, out: &mut String) {
    while let Some(a) = vr.poll_action() {
        let _ = writeln!(out, "           <- {}", render_action(&a));
    }
}

fn fire_until(vr: &mut VirtualRouter, end: Instant, out: &mut String) {
    while let Some(d) = vr.next_deadline().filter(|&d| d <= end) {
        let _ = writeln!(out, "{d}  timeout");
        vr.handle_timeout(d);
        drain_into(vr, out);
    }
}

fn run(title: &str, cfg: RouterConfig, steps: Vec<Step>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {title}");
    let _ = writeln!(
        out,
        "# config: v{} vrid {} priority {} address {} interval {} cs preempt {} preempt_delay {} initial {:?}",
        cfg.version as u8,
        cfg.vrid,
        cfg.priority,
        cfg.primary_address,
        cfg.advert_interval_cs,
        cfg.preempt,
        cfg.preempt_delay,
        cfg.initial_state
    );
    let mut vr = VirtualRouter::new(cfg).expect("valid golden config");
    for step in steps {
        let (end, ev) = match step {
            Step::Event(ms, ev) => (at(ms), Some(ev)),
            Step::Until(ms) => (at(ms), None),
        };
        fire_until(&mut vr, end, &mut out);
        if let Some(ev) = ev {
            let _ = writeln!(out, "{end}  {}", render_event(&ev));
            vr.handle(end, ev);
            drain_into(&mut vr, &mut out);
        }
    }
    let next = vr
        .next_deadline()
        .map_or_else(|| "none".to_string(), |d| d.to_string());
    let _ = writeln!(out, "# end: state {}, next deadline {next}", vr.state());
    out
}

fn golden(name: &str, actual: &str) {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "golden",
        &format!("{name}.trace"),
    ]
    .iter()
    .collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_GOLDEN=1 to create it\nactual:\n{actual}",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from line {} on (UPDATE_GOLDEN=1 regenerates)\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display(),
            first + 1
        );
    }
}

fn cfg(version: Version, priority: u8) -> RouterConfig {
    RouterConfig::new(7, version, priority, ip(10))
}

#[test]
fn startup_as_owner() {
    let t = run(
        "RFC 9568 6.4.1: the address owner (priority 255) goes Master at once, advertises every interval, and shuts down with priority 0",
        cfg(Version::V3, 255),
        vec![
            Step::Event(0, Event::Startup),
            Step::Event(3_500, Event::Shutdown),
            Step::Until(6_000),
        ],
    );
    golden("startup_owner", &t);
}

#[test]
fn startup_as_backup() {
    let t = run(
        "RFC 9568 6.4.1/6.4.2: a non-owner starts as Backup and keeps resetting Master_Down_Timer (3 s + skew 0.60 s) on the Master's adverts",
        cfg(Version::V3, 100),
        vec![
            Step::Event(0, Event::Startup),
            Step::Event(500, advert(Version::V3, 20, 200, 100)),
            Step::Event(1_500, advert(Version::V3, 20, 200, 100)),
            Step::Event(2_500, advert(Version::V3, 20, 200, 100)),
            Step::Until(6_000),
        ],
    );
    golden("startup_backup", &t);
}

#[test]
fn master_down_v2() {
    let t = run(
        "RFC 3768 6.4.2: v2 Backup takes over 3 * 1 s + (256-100)/256 s = 3.609375 s after the last advert",
        cfg(Version::V2, 100),
        vec![
            Step::Event(0, Event::Startup),
            Step::Event(1_000, advert(Version::V2, 20, 200, 1)),
            Step::Event(2_000, advert(Version::V2, 20, 200, 1)),
            Step::Event(3_000, advert(Version::V2, 20, 200, 1)),
            Step::Until(8_000),
        ],
    );
    golden("master_down_v2", &t);
}

#[test]
fn preemption() {
    let t = run(
        "RFC 9568 6.4.2/6.4.3: a preempting Backup ignores a lower Master, takes over at Master_Down_Interval, answers the lower advert at once, yields to a higher one",
        cfg(Version::V3, 200),
        vec![
            Step::Event(0, Event::Startup),
            Step::Event(1_000, advert(Version::V3, 20, 100, 100)),
            Step::Event(2_000, advert(Version::V3, 20, 100, 100)),
            Step::Event(4_000, advert(Version::V3, 20, 100, 100)),
            Step::Event(4_500, advert(Version::V3, 30, 250, 100)),
            Step::Until(5_000),
        ],
    );
    golden("preemption", &t);
}

#[test]
fn nopreempt() {
    let mut c = cfg(Version::V3, 200);
    c.preempt = false;
    let t = run(
        "keepalived nopreempt: a higher Backup accepts a lower Master and stays Backup",
        c,
        vec![
            Step::Event(0, Event::Startup),
            Step::Event(1_000, advert(Version::V3, 20, 100, 100)),
            Step::Event(2_000, advert(Version::V3, 20, 100, 100)),
            Step::Event(3_000, advert(Version::V3, 20, 100, 100)),
            Step::Until(6_000),
        ],
    );
    golden("nopreempt", &t);
}

#[test]
fn equal_priority() {
    let t = run(
        "RFC 9568 6.4.3: two Masters of equal priority: the lower primary address yields",
        cfg(Version::V3, 100),
        vec![
            Step::Event(0, Event::Startup),
            Step::Until(3_600),
            Step::Event(3_700, advert(Version::V3, 9, 100, 100)),
            Step::Event(3_800, advert(Version::V3, 11, 100, 100)),
            Step::Until(4_000),
        ],
    );
    golden("equal_priority", &t);
}

#[test]
fn priority_zero() {
    let t = run(
        "RFC 9568 6.4.2: a priority-0 advert makes the Backup take over after Skew_Time (0.60 s) instead of Master_Down_Interval",
        cfg(Version::V3, 100),
        vec![
            Step::Event(0, Event::Startup),
            Step::Event(1_000, advert(Version::V3, 20, 200, 100)),
            Step::Event(1_500, advert(Version::V3, 20, 0, 100)),
            Step::Until(3_000),
        ],
    );
    golden("priority_zero", &t);
}

#[test]
fn v3_interval_learning() {
    let t = run(
        "RFC 9568 6.4.2: a v3 Backup learns Master_Adver_Interval (50 cs) from the Master: MDI = 150 + 156*50/256 = 180 cs; as Master it advertises its own 100 cs",
        cfg(Version::V3, 100),
        vec![
            Step::Event(0, Event::Startup),
            Step::Event(1_000, advert(Version::V3, 20, 200, 50)),
            Step::Event(1_500, advert(Version::V3, 20, 200, 50)),
            Step::Until(4_000),
        ],
    );
    golden("v3_interval_learning", &t);
}

#[test]
fn track_fault_and_recovery() {
    let mut c = cfg(Version::V3, 100);
    c.tracks = vec![TrackConfig::new(-30), TrackConfig::new(0)];
    let t = run(
        "keepalived tracking: weight -30 lowers the advertised priority; a failing weight-0 check is FAULT (priority 0, VIPs removed); recovery is Backup",
        c,
        vec![
            Step::Event(0, Event::Startup),
            Step::Until(3_600),
            Step::Event(3_700, Event::Track { id: TrackId(0), up: false }),
            Step::Event(3_800, Event::Track { id: TrackId(1), up: false }),
            Step::Event(3_900, advert(Version::V3, 20, 50, 100)),
            Step::Event(4_000, Event::Track { id: TrackId(1), up: true }),
            Step::Until(4_100),
        ],
    );
    golden("track_fault", &t);
}
