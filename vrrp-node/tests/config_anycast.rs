//! `anycast_route` (a halb extension): its settings and defaults, the tracks it shares with
//! instances, and each mistake refused at its exact place.

use std::net::IpAddr;

use vrrp_node::config::{self, LoadedConfig};

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

const TRACKED: &str = "vrrp_track_process proxy {
    process lbproxy
}
track_file maint {
    file /tmp/halb-maint
    weight 0
}
vrrp_script chk {
    script /bin/true
}
";

#[test]
fn an_anycast_route_reads_every_setting_and_tracks_what_instances_track() {
    let loaded = load(&format!(
        "{TRACKED}anycast_route web {{
    prefix 198.18.200.0/24
    interface eth1
    priority 150
    track_process {{
        proxy
    }}
    track_file {{
        maint weight -10
    }}
    track_script {{
        chk weight -20
    }}
    track_interface {{
        eth0
    }}
}}
"
    ));
    let a = &loaded.config.anycast_routes[0];
    assert_eq!(a.name, "web");
    assert_eq!(a.prefix, "198.18.200.0".parse::<IpAddr>().expect("literal"));
    assert_eq!(
        (a.prefix_len, a.interface.as_str(), a.priority),
        (24, "eth1", 150)
    );
    assert_eq!(a.track_processes[0].name, "proxy");
    assert_eq!(a.track_files[0].weight, Some(-10));
    assert_eq!(
        (a.track_scripts[0].name.as_str(), a.track_scripts[0].weight),
        ("chk", Some(-20))
    );
    assert_eq!(a.track_interfaces[0].name, "eth0");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn a_bare_prefix_is_a_host_route_on_lo_at_priority_100() {
    let loaded = load("anycast_route v6 {\n prefix fd00:198:18::200\n}\n");
    let a = &loaded.config.anycast_routes[0];
    assert_eq!(
        (a.prefix_len, a.interface.as_str(), a.priority),
        (128, "lo", 100)
    );
    assert!(loaded.config.instances.is_empty());
}

#[test]
fn mistakes_are_refused_where_they_are() {
    let cases = [
        ("anycast_route a {\n interface lo\n}\n", "k.conf:1:15: anycast_route \"a\" has no prefix"),
        (
            "anycast_route a {\n prefix 198.18.200.1/24\n}\n",
            "k.conf:2:9: expected a network address (host bits zero) with its /prefix for \
             prefix, found \"198.18.200.1/24\"",
        ),
        (
            "anycast_route a {\n prefix 198.18.200.1/33\n}\n",
            "k.conf:2:9: expected a prefix length 0..32 after the / for prefix, found \
             \"198.18.200.1/33\"",
        ),
        (
            "anycast_route a {\n prefix 198.18.200.1\n track_process {\n  nope\n }\n}\n",
            "k.conf:4:3: track_process \"nope\" names no vrrp_track_process",
        ),
        (
            "anycast_route a {\n prefix 198.18.200.1\n track_script {\n  nope\n }\n}\n",
            "k.conf:4:3: track_script \"nope\" names no vrrp_script",
        ),
        (
            "anycast_route a {\n prefix 198.18.200.1\n}\nanycast_route b {\n prefix 198.18.200.1/32\n}\n",
            "k.conf:4:15: anycast_route \"b\": prefix 198.18.200.1/32 is already announced by \
             the block at line 1:15",
        ),
        (
            "anycast_route a {\n prefix 198.18.200.1\n}\nanycast_route a {\n prefix 198.18.200.2\n}\n",
            "k.conf:4:15: anycast_route \"a\" is already defined at line 1:15",
        ),
        (
            "anycast_route a {\n prefix 198.18.200.1\n priority 0\n}\n",
            "k.conf:3:11: expected an integer 1..255 for priority, found \"0\"",
        ),
        (
            "anycast_route a {\n prefix 198.18.200.1\n metric 5\n}\n",
            "k.conf:3:2: unknown keyword \"metric\" in anycast_route a",
        ),
    ];
    for (text, expected) in cases {
        let errs = errors(text);
        assert!(
            errs.iter().any(|e| e == expected),
            "{text}\nexpected: {expected}\ngot: {errs:#?}"
        );
    }
}
