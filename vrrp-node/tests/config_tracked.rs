//! `vrrp_track_process`, `track_file` (`vrrp_track_file`) and the `track_process { }` /
//! `track_file { }` lines of instances and sync groups: every option with keepalived's
//! defaults, and each mistake refused at its exact place.

use std::path::Path;
use std::time::Duration;

use vrrp_node::config::{self, InitFile, LoadedConfig, ParamMatch, TrackRef, WarningKind};

fn load(text: &str) -> LoadedConfig {
    config::parse_str(text, "k.conf").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Every error of `text`, each rendered `file:line:col: message`.
fn errors(text: &str) -> Vec<String> {
    match config::parse_str_all(text, "k.conf") {
        Ok(l) => panic!("should be refused, loaded {:?}", l.config),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

const INSTANCE: &str = "vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
}
";

#[test]
fn a_track_process_takes_keepalived_defaults() {
    let loaded = load(&format!(
        "vrrp_track_process hap {{\n process haproxy\n}}\n{INSTANCE}"
    ));
    let p = loaded.config.track_process("hap").expect("hap");
    assert_eq!(p.process, "haproxy");
    assert!(p.params.is_empty());
    assert_eq!(p.param_match, ParamMatch::None);
    assert!(!p.full_command);
    assert_eq!((p.weight, p.weight_reverse), (0, false));
    assert_eq!((p.quorum, p.quorum_max), (1, u32::MAX));
    assert_eq!(
        (p.fork_delay, p.terminate_delay),
        (Duration::ZERO, Duration::ZERO)
    );
    assert!(p.quorum_met(1) && p.quorum_met(1000) && !p.quorum_met(0));
    assert_eq!(p.span.line, 1);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn every_track_process_option_is_read() {
    let text = format!(
        "vrrp_track_process hap {{
    process \"/usr/sbin/ha proxy\" -f \"/etc/h a.cfg\"
    param_match partial
    weight -20 reverse
    quorum 2
    quorum_max 4
    delay 0.5
    terminate_delay 1.000001
}}
vrrp_track_process nginx {{
    full_command
    process /usr/sbin/nginx
    fork_delay 2
    delay 3
}}
{INSTANCE}"
    );
    let loaded = load(&text);
    let p = loaded.config.track_process("hap").expect("hap");
    // A quoted string is one element (keepalived.conf(5)).
    assert_eq!(p.process, "/usr/sbin/ha proxy");
    assert_eq!(p.params, ["-f", "/etc/h a.cfg"]);
    assert_eq!(p.param_match, ParamMatch::Partial);
    assert!(p.full_command, "parameters compare the command line");
    assert_eq!((p.weight, p.weight_reverse), (-20, true));
    assert_eq!((p.quorum, p.quorum_max), (2, 4));
    assert!(!p.quorum_met(1) && p.quorum_met(2) && p.quorum_met(4) && !p.quorum_met(5));
    assert_eq!(p.fork_delay, Duration::from_millis(500));
    assert_eq!(p.terminate_delay, Duration::from_micros(1_000_001));
    // `delay` sets both; the later line wins.
    let n = loaded.config.track_process("nginx").expect("nginx");
    assert!(n.full_command);
    assert_eq!(n.param_match, ParamMatch::None);
    assert_eq!(
        (n.fork_delay, n.terminate_delay),
        (Duration::from_secs(3), Duration::from_secs(3))
    );
}

#[test]
fn param_match_forms() {
    let case = |lines: &str| {
        let loaded = load(&format!("vrrp_track_process p {{\n{lines}\n}}\n{INSTANCE}"));
        let p = loaded.config.track_process("p").expect("p").clone();
        (p.param_match, p.full_command, p.params)
    };
    // Parameters alone: exact.
    assert_eq!(
        case("process sleep 30"),
        (ParamMatch::Exact, true, vec!["30".to_string()])
    );
    // param_match alone: exact with no parameters at all.
    assert_eq!(
        case("process sleep\nparam_match"),
        (ParamMatch::Exact, true, vec![])
    );
    assert_eq!(
        case("param_match initial\nprocess sleep 3"),
        (ParamMatch::Initial, true, vec!["3".to_string()])
    );
    assert_eq!(
        case("process sleep 3\nparam_match exact"),
        (ParamMatch::Exact, true, vec!["3".to_string()])
    );
}

#[test]
fn quorum_max_zero_alone_means_up_while_none_runs() {
    let loaded = load(&format!(
        "vrrp_track_process p {{\n process x\n quorum_max 0\n}}\n{INSTANCE}"
    ));
    let p = loaded.config.track_process("p").expect("p");
    assert_eq!((p.quorum, p.quorum_max), (0, 0));
    assert!(p.quorum_met(0) && !p.quorum_met(1));
}

#[test]
fn track_file_blocks_and_their_older_name() {
    let text = format!(
        "track_file a {{
    file /run/a
}}
vrrp_track_file b {{
    file \"/run/b b\"
    weight -300 reverse
    init_file 7 overwrite
}}
track_file c {{
    file /run/c
    init_file
}}
track_file d {{
    file /run/d
    init_file overwrite
}}
track_file e {{
    file /run/e
    init_file -3
}}
{INSTANCE}"
    );
    let loaded = load(&text);
    let f = |n: &str| loaded.config.track_file(n).expect(n).clone();
    let a = f("a");
    assert_eq!(a.path, Path::new("/run/a"));
    assert_eq!((a.weight, a.weight_reverse, a.init_file), (1, false, None));
    let b = f("b");
    assert_eq!(b.path, Path::new("/run/b b"));
    assert_eq!((b.weight, b.weight_reverse), (-300, true));
    assert_eq!(
        b.init_file,
        Some(InitFile {
            value: 7,
            overwrite: true
        })
    );
    assert_eq!(
        f("c").init_file,
        Some(InitFile {
            value: 0,
            overwrite: false
        })
    );
    assert_eq!(
        f("d").init_file,
        Some(InitFile {
            value: 0,
            overwrite: true
        })
    );
    assert_eq!(
        f("e").init_file,
        Some(InitFile {
            value: -3,
            overwrite: false
        })
    );
}

#[test]
fn instances_and_sync_groups_name_them_with_their_own_weights() {
    let text = "vrrp_track_process hap {
    process haproxy
    weight 5 reverse
}
track_file ops {
    file /run/ops
    weight 0
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    track_process {
        hap weight 10
    }
    track_file {
        ops weight -254 reverse
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 2
    track_process {
        hap weight -3 noreverse
    }
}
vrrp_sync_group G {
    group {
        VI_1 VI_2
    }
    track_process {
        hap weight 0
    }
    track_file {
        ops
    }
}
";
    let loaded = load(text);
    let vi1 = loaded.config.instance("VI_1").expect("VI_1");
    let line = |t: &TrackRef| {
        (
            t.name.clone(),
            t.weight,
            t.weight_reverse,
            t.span.line,
            t.span.column,
        )
    };
    assert_eq!(
        line(&vi1.track_processes[0]),
        ("hap".into(), Some(10), None, 13, 9)
    );
    assert_eq!(
        line(&vi1.track_files[0]),
        ("ops".into(), Some(-254), Some(true), 16, 9)
    );
    // Reverse is the block's unless the line says: keepalived keeps it with a new weight.
    assert_eq!(vi1.track_processes[0].resolve(5, true), (10, true));
    let vi2 = loaded.config.instance("VI_2").expect("VI_2");
    assert_eq!(vi2.track_processes[0].resolve(5, true), (-3, false));
    let g = &loaded.config.sync_groups[0];
    assert_eq!(
        line(&g.track_processes[0]),
        ("hap".into(), Some(0), None, 31, 9)
    );
    assert_eq!(line(&g.track_files[0]), ("ops".into(), None, None, 34, 9));
    // Weight 0 in force on both group lines: nothing to warn about.
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn a_weight_in_a_sync_group_is_said_to_be_ignored() {
    let text = "vrrp_track_process hap {
    process haproxy
    weight 5
}
track_file ops {
    file /run/ops
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
}
vrrp_sync_group G {
    group {
        VI_1
    }
    track_process {
        hap
    }
    track_file {
        ops
    }
}
";
    let loaded = load(text);
    let w: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        [
            "k.conf:17:9: track_process: weight 5 of \"hap\" ignored in vrrp_sync_group \"G\": a failure faults every member (sync_group_tracking_weight is not implemented)",
            "k.conf:20:9: track_file: weight 1 of \"ops\" ignored in vrrp_sync_group \"G\": a failure faults every member (sync_group_tracking_weight is not implemented)",
        ]
    );
    assert!(loaded
        .warnings
        .iter()
        .all(|w| w.kind == WarningKind::Adjusted));
}

#[test]
fn a_path_or_long_name_without_full_command_is_warned_about() {
    let text = format!(
        "vrrp_track_process a {{\n process /usr/sbin/haproxy\n}}
vrrp_track_process b {{\n process a-name-of-16-char\n}}
vrrp_track_process c {{\n process /usr/sbin/haproxy\n full_command\n}}
vrrp_track_process d {{\n process fifteen-chars-k\n}}
{INSTANCE}"
    );
    let loaded = load(&text);
    let places: Vec<(u32, u32, WarningKind)> = loaded
        .warnings
        .iter()
        .map(|w| (w.span.line, w.span.column, w.kind.clone()))
        .collect();
    assert_eq!(
        places,
        [(2, 10, WarningKind::Ignored), (5, 10, WarningKind::Ignored)]
    );
    assert!(loaded.warnings[0].message.contains("add full_command"));
}

#[test]
fn these_keywords_are_no_longer_reported_as_not_implemented() {
    let text = "vrrp_track_process p {\n process x\n}\nvrrp_track_file f {\n file /f\n}
vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n track_process {\n  p\n }\n track_file {\n  f\n }\n}
vrrp_sync_group G {\n group {\n  VI_1\n }\n track_process {\n  p\n }\n track_file {\n  f weight 0\n }\n}\n";
    let loaded = load(text);
    assert!(
        loaded
            .warnings
            .iter()
            .all(|w| w.kind != WarningKind::NotImplemented),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn mistakes_in_the_blocks_are_refused_where_they_are() {
    let text = "vrrp_track_process a {
    quorum 3
    quorum_max 2
}
vrrp_track_process b {
    process x
    process y
    param_match middle
    weight 255
    delay 3601
    quorum 0
    colour blue
}
track_file c {
    weight 1 sideways
    init_file many
}
track_file b {
    file /x
}
track_file b {
    file /y
}
";
    assert_eq!(
        errors(&format!("{text}{INSTANCE}")),
        [
            "k.conf:1:20: vrrp_track_process \"a\" has no process",
            "k.conf:3:16: quorum_max 2 is below quorum 3 in vrrp_track_process \"a\"",
            "k.conf:7:5: process is already set for vrrp_track_process \"b\" at line 6:5",
            "k.conf:8:17: expected initial or partial for param_match, found \"middle\"",
            "k.conf:9:12: expected an integer -254..254 for weight, found \"255\"",
            "k.conf:10:11: expected a number of seconds 0..3600 for delay, found \"3601\"",
            "k.conf:11:12: expected an integer 1..65535 for quorum, found \"0\"",
            "k.conf:12:5: unknown keyword \"colour\" in vrrp_track_process b",
            "k.conf:14:12: track_file \"c\" has no file",
            "k.conf:15:14: unexpected argument \"sideways\" for weight",
            "k.conf:16:15: expected an integer -2147483648..2147483647 for init_file, found \"many\"",
            "k.conf:21:12: track_file \"b\" is already defined at line 18:12",
        ]
    );
}

#[test]
fn references_to_unknown_blocks_and_bad_lines_are_refused_where_they_are() {
    let text = "vrrp_track_process p {
    process x
}
track_file f {
    file /f
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    track_process {
        nope
    }
    track_file {
        p
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 2
    track_process {
        p weight
        p weight 1 sideways
    }
    track_file {
        f
        f
        f weight -255
    }
}
vrrp_sync_group G {
    group {
        VI_1 VI_2
    }
    track_process {
        f
    }
    track_file {
        missing weight 0
    }
}
";
    assert_eq!(
        errors(text),
        [
            "k.conf:11:9: track_process \"nope\" names no vrrp_track_process",
            "k.conf:14:9: track_file \"p\" names no track_file block",
            "k.conf:21:11: missing value for weight: expected an integer -254..254",
            "k.conf:22:20: unexpected argument \"sideways\" for track_process",
            "k.conf:26:9: track_file \"f\" is already listed at line 25:9",
            "k.conf:27:18: expected an integer -254..254 for weight, found \"-255\"",
            "k.conf:35:9: track_process \"f\" names no vrrp_track_process",
            "k.conf:38:9: track_file \"missing\" names no track_file block",
        ]
    );
}

#[test]
fn a_block_with_an_error_is_still_known_by_name() {
    // The bad block is reported once; the instance naming it is not wrong too.
    let text = "vrrp_track_process p {\n quorum 0\n process x\n}\ntrack_file f {\n weight x\n file /f\n}
vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n track_process {\n  p\n }\n track_file {\n  f\n }\n}\n";
    assert_eq!(
        errors(text),
        [
            "k.conf:2:9: expected an integer 1..65535 for quorum, found \"0\"",
            "k.conf:6:9: expected an integer -2147483647..2147483647 for weight, found \"x\"",
        ]
    );
}
