//! Each bad config in testdata/keepalived/bad is refused with the exact place and message.

use std::path::PathBuf;

use vrrp_node::config::{self, ConfigError};

fn bad(rel: &str) -> (ConfigError, PathBuf) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/keepalived/bad")
        .join(rel);
    match config::load(&path) {
        Ok(l) => panic!("{rel} should be refused, loaded {:?}", l.config),
        Err(e) => (e, path),
    }
}

/// Asserts the error's span and its full rendering `file:line:col: message`.
fn check(rel: &str, line: u32, column: u32, message: &str) {
    let (err, path) = bad(rel);
    let span = err
        .span()
        .unwrap_or_else(|| panic!("{rel}: no span in {err}"));
    assert_eq!(&*span.file, path.as_path(), "{rel}");
    assert_eq!((span.line, span.column), (line, column), "{rel}: {err}");
    assert_eq!(
        err.to_string(),
        format!("{}:{line}:{column}: {message}", path.display()),
        "{rel}"
    );
}

#[test]
fn vrid_out_of_range() {
    check(
        "vrid_range.conf",
        4,
        23,
        "expected an integer 1..255 for virtual_router_id, found \"300\"",
    );
    let (err, _) = bad("vrid_range.conf");
    match err {
        ConfigError::InvalidValue {
            keyword,
            expected,
            found,
            ..
        } => {
            assert_eq!(keyword, "virtual_router_id");
            assert_eq!(expected, "an integer 1..255");
            assert_eq!(found, "300");
        }
        other => panic!("wrong variant {other:?}"),
    }
}

#[test]
fn version_2_with_ipv6() {
    check(
        "v2_ipv6.conf",
        5,
        13,
        "VRRP version 2 does not support IPv6 addresses; use version 3",
    );
}

#[test]
fn decimal_advert_int_with_version_2() {
    check(
        "v2_decimal_advert.conf",
        5,
        16,
        "expected whole seconds 1..255 with VRRP version 2 (decimals need version 3) for advert_int, found \"0.5\"",
    );
}

#[test]
fn advert_int_out_of_v3_range() {
    check(
        "v3_advert_range.conf",
        6,
        16,
        "expected 0.01..40.95 seconds with VRRP version 3 for advert_int, found \"41\"",
    );
}

#[test]
fn duplicate_instance_name() {
    check(
        "dup_instance.conf",
        10,
        15,
        "vrrp_instance \"VI_1\" is already defined at line 2:15",
    );
}

#[test]
fn duplicate_vrid_on_one_interface_and_family() {
    check(
        "dup_vrid.conf",
        10,
        15,
        "virtual_router_id 5 on eth0 (IPv4) is already used by vrrp_instance \"VI_1\" at line 2:15",
    );
}

#[test]
fn unknown_track_script() {
    check(
        "unknown_track_script.conf",
        10,
        9,
        "track_script \"chk_b\" names no vrrp_script",
    );
}

#[test]
fn sync_group_with_unknown_instance() {
    check(
        "sync_unknown_instance.conf",
        12,
        14,
        "vrrp_sync_group \"G\" names unknown vrrp_instance \"VI_9\"",
    );
}

#[test]
fn unknown_keyword() {
    check(
        "unknown_keyword.conf",
        5,
        5,
        "unknown keyword \"priorty\" in vrrp_instance VI_1",
    );
}

#[test]
fn strict_forbids_unicast_and_auth() {
    check(
        "strict_unicast.conf",
        8,
        9,
        "unicast_peer is not allowed with vrrp_strict",
    );
    check(
        "strict_auth.conf",
        7,
        5,
        "authentication is not allowed with vrrp_strict (RFC 5798 removed it)",
    );
    // keepalived resets these with an error and runs on; what the operator wrote is not
    // quietly changed here.
    check(
        "strict_lower_prio.conf",
        9,
        5,
        "garp_lower_prio_repeat other than 0 is not allowed with vrrp_strict",
    );
    check(
        "strict_higher_prio_advert.conf",
        5,
        5,
        "higher_prio_send_advert is not allowed with vrrp_strict",
    );
}

#[test]
fn syntax_errors() {
    check("unclosed_brace.conf", 2, 20, "this \"{\" is never closed");
    check(
        "stray_brace.conf",
        2,
        1,
        "unexpected \"}\" with no open block",
    );
    check(
        "unterminated_quote.conf",
        3,
        12,
        "unterminated quoted string",
    );
}

#[test]
fn address_errors() {
    check(
        "bad_prefix.conf",
        7,
        9,
        "expected a prefix length 0..32 after the / for virtual_ipaddress, found \"198.18.0.1/33\"",
    );
    check(
        "mixed_family.conf",
        8,
        9,
        "virtual_ipaddress fd00:198:18::1 is IPv6 but the instance's first address is IPv4; use another instance for the other family (or virtual_ipaddress_excluded)",
    );
    check(
        "bad_mcast_group.conf",
        3,
        23,
        "expected an IPv4 multicast address for vrrp_mcast_group4, found \"198.18.0.9\"",
    );
}

#[test]
fn script_weight_out_of_range() {
    check(
        "script_weight_range.conf",
        4,
        12,
        "expected an integer -253..253 for weight, found \"300\"",
    );
}

#[test]
fn include_cycle() {
    check(
        "include_cycle.conf",
        2,
        1,
        "include \"include_cycle.conf\": include cycle: include_cycle.conf is already being read",
    );
}

#[test]
fn missing_file_is_an_io_error() {
    let err = config::load(std::path::Path::new("/nonexistent/keepalived.conf"))
        .expect_err("no such file");
    assert!(matches!(err, ConfigError::Io { .. }));
    assert!(err.span().is_none());
    assert!(err
        .to_string()
        .starts_with("/nonexistent/keepalived.conf: "));
}

/// Inline cases: (config text, expected rendering with the virtual name "k.conf").
///
/// Long because it is a table, one error per entry, checked in one loop.
#[test]
fn inline_errors() {
    let inst = |body: &str| {
        format!(
            "vrrp_instance VI {{\n interface eth0\n virtual_router_id 7\n{body}\n virtual_ipaddress {{\n  198.18.0.1/24\n }}\n}}\n"
        )
    };
    let cases: Vec<(String, &str)> = vec![
        ("bogus_top {\n}\n".into(), "k.conf:1:1: unknown keyword \"bogus_top\" in the top level"),
        (
            "global_defs {\n vrrp_version 4\n}\n".into(),
            "k.conf:2:15: expected 2 or 3 for vrrp_version, found \"4\"",
        ),
        (
            "global_defs {\n router_id\n}\n".into(),
            "k.conf:2:2: missing value for router_id: expected a name",
        ),
        (
            "global_defs {\n router_id a b\n}\n".into(),
            "k.conf:2:14: unexpected argument \"b\" for router_id",
        ),
        (
            "vrrp_instance VI {\n virtual_router_id 7\n}\n".into(),
            "k.conf:1:15: vrrp_instance \"VI\" has no interface",
        ),
        (inst(" state master"), "k.conf:4:8: expected MASTER or BACKUP for state, found \"master\""),
        (inst(" priority 0"), "k.conf:4:11: expected an integer 1..255 for priority, found \"0\""),
        (inst(" priority 1e2"), "k.conf:4:11: expected an integer 1..255 for priority, found \"1e2\""),
        (
            inst(" advert_int 0.005"),
            "k.conf:4:13: expected a number of seconds with at most 2 decimals for advert_int, found \"0.005\"",
        ),
        (
            inst(" preempt_delay 1001"),
            "k.conf:4:16: expected a number of seconds 0..1000 for preempt_delay, found \"1001\"",
        ),
        (
            inst(" unicast_src_ip 198.18.0.300"),
            "k.conf:4:17: expected an IPv4 or IPv6 address for unicast_src_ip, found \"198.18.0.300\"",
        ),
        (
            inst(" unicast_src_ip fd00:198:18::2"),
            "k.conf:4:17: unicast_src_ip fd00:198:18::2 is IPv6 but the instance is IPv4",
        ),
        (
            inst(" authentication {\n  auth_type MD5\n }"),
            "k.conf:5:13: expected PASS or AH for auth_type, found \"MD5\"",
        ),
        (
            inst(" authentication {\n  auth_type PASS\n }"),
            "k.conf:4:2: missing value for authentication: expected auth_pass in the block",
        ),
        (inst(" priority"), "k.conf:4:2: missing value for priority: expected an integer 1..255"),
        (inst(" priority 5 {\n }"), "k.conf:4:2: priority takes no block"),
        (
            inst(" unicast_peer 198.18.0.2"),
            "k.conf:4:15: unexpected argument \"198.18.0.2\" for unicast_peer",
        ),
        (
            inst(" interface eth0_with_a_long_name"),
            "k.conf:4:12: expected an interface name of 1..15 characters for interface, found \"eth0_with_a_long_name\"",
        ),
        (
            inst(" nopreempt yes"),
            "k.conf:4:12: unexpected argument \"yes\" for nopreempt",
        ),
        (
            inst(" virtual_ipaddress_excluded {\n  fd00:198:18::9/64 brd fd00:198:18::ff\n }"),
            "k.conf:5:21: brd applies to IPv4 addresses only",
        ),
        (
            inst(" virtual_ipaddress_excluded {\n  198.18.0.9/24 label lo:x\n }"),
            "k.conf:5:3: label \"lo:x\" must be \"eth0\" or start with \"eth0:\"",
        ),
        (
            inst(" virtual_ipaddress_excluded {\n  198.18.0.9/24 color red\n }"),
            "k.conf:5:17: unexpected argument \"color\" for virtual_ipaddress_excluded",
        ),
        (
            inst(" track_interface {\n  eth1 weight 254\n }"),
            "k.conf:5:15: expected an integer -253..253 for weight, found \"254\"",
        ),
        (
            "vrrp_script s {\n interval 1\n}\n".into(),
            "k.conf:1:13: vrrp_script \"s\" has no script",
        ),
        (
            "vrrp_script s {\n script /bin/true\n}\nvrrp_script s {\n script /bin/false\n}\n".into(),
            "k.conf:4:13: vrrp_script \"s\" is already defined at line 1:13",
        ),
        (
            "vrrp_script s {\n script \"\"\n}\n".into(),
            "k.conf:2:9: expected a command line for script, found \"\"",
        ),
        (
            "vrrp_script s {\n script /bin/true\n interval 0\n}\n".into(),
            "k.conf:1:13: vrrp_script \"s\": interval must be above 0",
        ),
        (
            format!("{}vrrp_sync_group G {{\n group {{\n  VI\n }}\n}}\nvrrp_sync_group H {{\n group {{\n  VI\n }}\n}}\n", inst("")),
            "k.conf:16:3: vrrp_instance \"VI\" is already in vrrp_sync_group \"G\"",
        ),
        (
            "vrrp_sync_group G {\n notify_master /x\n}\n".into(),
            "k.conf:1:17: vrrp_sync_group \"G\" has no group { } of instances",
        ),
        ("include\n".into(), "k.conf:1:1: missing value for include: expected a file name or glob pattern"),
        ("{\n}\n".into(), "k.conf:1:1: expected a keyword before \"{\""),
    ];
    let mut wrong = Vec::new();
    for (text, expected) in &cases {
        match config::parse_str(text, "k.conf") {
            Ok(_) => wrong.push(format!("loaded, expected {expected}:\n{text}")),
            Err(e) if e.to_string() != *expected => {
                wrong.push(format!("got      {e}\nexpected {expected}\n{text}"))
            }
            Err(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n---\n"));
}

#[test]
fn v3_auth_is_ignored_with_a_warning() {
    let l = config::parse_str(
        "vrrp_instance VI {\n interface eth0\n virtual_router_id 7\n version 3\n authentication {\n  auth_type PASS\n  auth_pass x\n }\n}\n",
        "k.conf",
    )
    .expect("loads");
    assert_eq!(l.config.instances[0].authentication, None);
    assert_eq!(
        l.warnings[0].to_string(),
        "k.conf:5:2: authentication: VRRP version 3 has no authentication; ignored"
    );
}

#[test]
fn global_v2_moves_ipv6_instance_to_v3_with_a_warning() {
    let l = config::parse_str(
        "global_defs {\n vrrp_version 2\n}\nvrrp_instance VI {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress {\n  fd00:198:18::7/64\n }\n}\n",
        "k.conf",
    )
    .expect("loads");
    assert_eq!(l.config.instances[0].version, config::VrrpVersion::V3);
    assert_eq!(
        l.warnings[0].to_string(),
        "k.conf:4:15: vrrp_version: vrrp_instance \"VI\" is IPv6; using VRRP version 3"
    );
}

#[test]
fn nopreempt_with_state_master_warns() {
    let l = config::parse_str(
        "vrrp_instance VI {\n state MASTER\n nopreempt\n interface eth0\n virtual_router_id 7\n}\n",
        "k.conf",
    )
    .expect("loads");
    assert!(!l.config.instances[0].preempt);
    assert_eq!(
        l.warnings[0].to_string(),
        "k.conf:3:2: nopreempt: nopreempt has no effect with state MASTER; use state BACKUP"
    );
}
