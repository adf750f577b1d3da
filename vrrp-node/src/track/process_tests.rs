use std::time::Duration as StdDuration;

use super::*;
use crate::config::Span;

fn tracker(name: &str, process: &str) -> VrrpTrackProcess {
    VrrpTrackProcess::new(name.into(), Span::nowhere(), process.into())
}

fn named(comm: &[u8]) -> Identity<'_> {
    Identity {
        comm,
        cmdline: None,
    }
}

fn command<'a>(comm: &'a [u8], cmdline: &'a [u8]) -> Identity<'a> {
    Identity {
        comm,
        cmdline: Some(cmdline),
    }
}

fn ms(n: u64) -> Instant {
    Instant::from_micros(n * 1000)
}

fn changes(t: &mut ProcessTable) -> Vec<(String, bool, u32)> {
    std::iter::from_fn(|| t.poll_change())
        .map(|s| (s.name, s.up, s.count))
        .collect()
}

fn state(t: &ProcessTable, name: &str) -> (bool, u32) {
    let s = t.states().into_iter().find(|s| s.name == name).expect(name);
    (s.up, s.count)
}

#[test]
fn names_match_exactly_and_commands_by_argv0_and_parameters() {
    let by_name = Matcher::new(&tracker("t", "haproxy"));
    assert!(by_name.matches(&named(b"haproxy")));
    // Not a pattern: pgrep "^haproxy$".
    assert!(!by_name.matches(&named(b"haproxy2")));
    assert!(!by_name.matches(&named(b"hap")));

    let mut cfg = tracker("t", "/usr/sbin/haproxy");
    cfg.full_command = true;
    let full = Matcher::new(&cfg);
    assert!(full.matches(&command(b"haproxy", b"/usr/sbin/haproxy\0-f\0/etc/h.cfg\0")));
    assert!(!full.matches(&command(b"haproxy", b"haproxy\0-f\0")));
    assert!(!full.matches(&named(b"haproxy")), "no command line read");

    let with = |params: &[&str], m: ParamMatch| {
        let mut c = tracker("t", "sleep");
        c.params = params.iter().map(|p| p.to_string()).collect();
        c.param_match = m;
        c.full_command = true;
        Matcher::new(&c)
    };
    let run = |m: &Matcher, cmdline: &[u8]| m.matches(&command(b"sleep", cmdline));
    let exact = with(&["30"], ParamMatch::Exact);
    assert!(run(&exact, b"sleep\x0030\0"));
    assert!(!run(&exact, b"sleep\x00300\0"));
    assert!(!run(&exact, b"sleep\x0030\0x\0"));
    let none_at_all = with(&[], ParamMatch::Exact);
    assert!(run(&none_at_all, b"sleep\0"));
    assert!(!run(&none_at_all, b"sleep\x0030\0"));
    let partial = with(&["-f", "a"], ParamMatch::Partial);
    assert!(run(&partial, b"sleep\0-f\0a\0-d\0"));
    assert!(!run(&partial, b"sleep\0-f\0ab\0"));
    let initial = with(&["-f", "a"], ParamMatch::Initial);
    assert!(run(&initial, b"sleep\0-f\0abc\0"));
    assert!(!run(&initial, b"sleep\0-g\0a\0"));
    let any = with(&[], ParamMatch::None);
    assert!(run(&any, b"sleep\0whatever\0"));
}

#[test]
fn a_scan_counts_and_sets_states_without_reporting_changes() {
    let mut quorum2 = tracker("two", "worker");
    quorum2.quorum = 2;
    let mut none = tracker("none", "bad");
    (none.quorum, none.quorum_max) = (0, 0);
    let mut t = ProcessTable::new(&[tracker("hap", "haproxy"), quorum2, none]);
    // Before any scan, nothing runs: only "none" is met.
    assert_eq!(state(&t, "hap"), (false, 0));
    assert_eq!(state(&t, "none"), (true, 0));
    t.scan([
        (10, named(b"haproxy")),
        (11, named(b"worker")),
        (12, named(b"bash")),
        (13, named(b"bad")),
    ]);
    assert_eq!(state(&t, "hap"), (true, 1));
    assert_eq!(state(&t, "two"), (false, 1));
    assert_eq!(state(&t, "none"), (false, 1));
    assert!(changes(&mut t).is_empty());
    assert!(t.wants_comm() && !t.wants_cmdline());
}

#[test]
fn an_exit_loses_the_quorum_at_once_without_terminate_delay() {
    let mut t = ProcessTable::new(&[tracker("hap", "haproxy")]);
    t.scan([(10, named(b"haproxy"))]);
    t.exit(ms(5), 10);
    assert_eq!(changes(&mut t), [("hap".into(), false, 0)]);
    assert_eq!(t.next_deadline(), None);
    // An unknown pid's exit changes nothing.
    t.exit(ms(6), 99);
    assert!(changes(&mut t).is_empty());
    t.exec(ms(7), 11, &named(b"haproxy"));
    assert_eq!(changes(&mut t), [("hap".into(), true, 1)]);
}

#[test]
fn terminate_delay_holds_a_loss_and_a_restart_in_time_cancels_it() {
    let mut cfg = tracker("hap", "haproxy");
    cfg.terminate_delay = StdDuration::from_millis(500);
    let mut t = ProcessTable::new(&[cfg]);
    t.scan([(10, named(b"haproxy"))]);
    t.exit(ms(1000), 10);
    assert!(changes(&mut t).is_empty());
    assert_eq!(t.next_deadline(), Some(ms(1500)));
    // Restarted within the delay (keepalived cancels its timer): no change ever.
    t.exec(ms(1200), 11, &named(b"haproxy"));
    assert!(changes(&mut t).is_empty());
    assert_eq!(t.next_deadline(), None);
    t.handle_timeout(ms(1500));
    assert!(changes(&mut t).is_empty());
    // Gone for good: down when the delay ends, not before.
    t.exit(ms(2000), 11);
    t.handle_timeout(ms(2499));
    assert!(changes(&mut t).is_empty());
    t.handle_timeout(ms(2500));
    assert_eq!(changes(&mut t), [("hap".into(), false, 0)]);
    assert_eq!(t.next_deadline(), None);
}

#[test]
fn fork_delay_holds_a_gain_by_fork_but_not_by_exec() {
    let mut cfg = tracker("w", "worker");
    cfg.quorum = 2;
    cfg.fork_delay = StdDuration::from_millis(300);
    let mut t = ProcessTable::new(&[cfg]);
    t.scan([(10, named(b"worker"))]);
    t.fork(ms(100), 10, 20);
    assert_eq!(state(&t, "w"), (false, 2));
    assert!(changes(&mut t).is_empty());
    assert_eq!(t.next_deadline(), Some(ms(400)));
    t.handle_timeout(ms(400));
    assert_eq!(changes(&mut t), [("w".into(), true, 2)]);
    // The child exits (a fork/exec that went elsewhere): lost at once.
    t.exit(ms(500), 20);
    assert_eq!(changes(&mut t), [("w".into(), false, 1)]);
    // A new worker started by exec counts at once.
    t.exec(ms(600), 30, &named(b"worker"));
    assert_eq!(changes(&mut t), [("w".into(), true, 2)]);
    // A fork of an untracked parent is nobody's business.
    t.fork(ms(700), 99, 100);
    assert_eq!(state(&t, "w"), (true, 2));
}

#[test]
fn a_fork_then_an_exit_within_fork_delay_never_reports() {
    let mut cfg = tracker("w", "worker");
    cfg.quorum = 2;
    cfg.fork_delay = StdDuration::from_millis(300);
    let mut t = ProcessTable::new(&[cfg]);
    t.scan([(10, named(b"worker"))]);
    t.fork(ms(100), 10, 20);
    t.exit(ms(150), 20);
    t.handle_timeout(ms(400));
    assert!(changes(&mut t).is_empty());
    assert_eq!(state(&t, "w"), (false, 1));
}

#[test]
fn quorum_max_loses_the_quorum_when_too_many_run() {
    let mut cfg = tracker("one", "single");
    cfg.quorum_max = 1;
    let mut t = ProcessTable::new(&[cfg]);
    t.scan([(10, named(b"single"))]);
    t.exec(ms(1), 11, &named(b"single"));
    assert_eq!(changes(&mut t), [("one".into(), false, 2)]);
    t.exit(ms(2), 10);
    assert_eq!(changes(&mut t), [("one".into(), true, 1)]);
}

#[test]
fn an_exec_or_a_rename_away_stops_the_count() {
    let mut t = ProcessTable::new(&[tracker("hap", "haproxy")]);
    t.scan([(10, named(b"haproxy"))]);
    t.comm(ms(1), 10, b"haproxy-old");
    assert_eq!(changes(&mut t), [("hap".into(), false, 0)]);
    t.comm(ms(2), 10, b"haproxy");
    assert_eq!(changes(&mut t), [("hap".into(), true, 1)]);
    // The same exec twice counts it once.
    t.exec(ms(3), 10, &named(b"haproxy"));
    assert!(changes(&mut t).is_empty());
    t.exec(ms(4), 10, &named(b"sh"));
    assert_eq!(changes(&mut t), [("hap".into(), false, 0)]);
    t.exit(ms(5), 10);
    assert!(changes(&mut t).is_empty());
}

#[test]
fn a_rename_does_not_concern_command_line_trackers() {
    let mut cfg = tracker("cmd", "/bin/sleep");
    cfg.full_command = true;
    let mut t = ProcessTable::new(&[cfg, tracker("name", "sleep")]);
    assert!(t.wants_comm() && t.wants_cmdline());
    t.exec(ms(1), 10, &command(b"sleep", b"/bin/sleep\x005\0"));
    assert_eq!(
        changes(&mut t),
        [("cmd".into(), true, 1), ("name".into(), true, 1)]
    );
    t.comm(ms(2), 10, b"renamed");
    assert_eq!(changes(&mut t), [("name".into(), false, 0)]);
    assert_eq!(state(&t, "cmd"), (true, 1));
    t.exit(ms(3), 10);
    assert_eq!(changes(&mut t), [("cmd".into(), false, 0)]);
}
