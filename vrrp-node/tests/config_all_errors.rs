//! `load_all` / `parse_str_all`: every error of a file in one run, each once, in file order,
//! with its place; no error reported again as the consequence of another.

use vrrp_node::config::{self, ConfigError};

/// Every error of `text` (named `k.conf`), rendered.
fn errors(text: &str) -> Vec<String> {
    match config::parse_str_all(text, "k.conf") {
        Ok(l) => panic!("should be refused, loaded {:?}", l.config),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_bad_vrid_and_a_bad_priority_are_both_reported() {
    let text = "vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 300
    priority 300
}
";
    assert_eq!(
        errors(text),
        [
            "k.conf:3:23: expected an integer 1..255 for virtual_router_id, found \"300\"",
            "k.conf:4:14: expected an integer 1..255 for priority, found \"300\"",
        ]
    );
    // The first-error API gives the first of them.
    let first = config::parse_str(text, "k.conf").expect_err("refused");
    assert!(
        matches!(first, ConfigError::InvalidValue { ref keyword, .. } if keyword == "virtual_router_id")
    );
}

#[test]
fn errors_of_every_block_come_in_file_order() {
    // global_defs is read first but stands last: its error still comes last.
    let text = "vrrp_script chk {
    script /bin/true
    interval -1
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        198.18.0.10/24
        198.18.0.300/24
        nonsense
    }
    track_script {
        chk
    }
    colour blue
}
vrrp_instance VI_2 {
    interface eth0
}
vrrp_sync_group G {
    group {
        VI_1
        VI_9
    }
}
bogus_top_level
global_defs {
    vrrp_version 7
}
";
    assert_eq!(
        errors(text),
        [
            "k.conf:3:14: expected a number of seconds 0..86400 for interval, found \"-1\"",
            "k.conf:10:9: expected an IP address with an optional /prefix for virtual_ipaddress, found \"198.18.0.300/24\"",
            "k.conf:11:9: expected an IP address with an optional /prefix for virtual_ipaddress, found \"nonsense\"",
            "k.conf:16:5: unknown keyword \"colour\" in vrrp_instance VI_1",
            "k.conf:18:15: vrrp_instance \"VI_2\" has no virtual_router_id",
            "k.conf:24:9: vrrp_sync_group \"G\" names unknown vrrp_instance \"VI_9\"",
            "k.conf:27:1: unknown keyword \"bogus_top_level\" in the top level",
            "k.conf:29:18: expected 2 or 3 for vrrp_version, found \"7\"",
        ]
    );
}

#[test]
fn one_mistake_is_reported_once() {
    // The bad script is still known by name (its tracker is not wrong too); the bad VRID
    // is not reported again as a missing one; the duplicate is named once.
    let text = "vrrp_script chk {
    interval 0
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 0
    track_script {
        chk
    }
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 2
}
";
    assert_eq!(
        errors(text),
        [
            "k.conf:1:13: vrrp_script \"chk\" has no script",
            "k.conf:1:13: vrrp_script \"chk\": interval must be above 0",
            "k.conf:6:23: expected an integer 1..255 for virtual_router_id, found \"0\"",
            "k.conf:11:15: vrrp_instance \"VI_1\" is already defined at line 4:15",
        ]
    );
}

#[test]
fn a_syntax_error_ends_the_reading() {
    // What follows an unterminated quote cannot be told apart: one error.
    let text = "global_defs {\n router_id \"lb1\n}\nvrrp_instance X {\n bogus\n}\n";
    let all = errors(text);
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(all[0].starts_with("k.conf:2:"), "{all:?}");
}
