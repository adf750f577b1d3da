//! One keepalived.conf for every node (keepalived.conf(5), "Conditional configuration" and
//! "Parameter substitution"): what each config id reads, definitions across includes, and
//! errors that still point at the original file:line:col.

use std::fs;
use std::path::PathBuf;

use vrrp_node::config::{self, ConfigError, LoadOptions, LoadedConfig, ParamProblem};

const PAIR: &str = "\
$VIP=198.51.100.10
$IFACE=eth0
global_defs {
    @lb1 router_id lb1_router
    @lb2 router_id lb2_router
}
vrrp_instance VI_1 {
    interface $IFACE
    virtual_router_id 51
    @lb1 priority 150
    @^lb1 priority 100
    unicast_peer {
        @^lb1 192.0.2.1
        @^lb2 192.0.2.2
    }
    virtual_ipaddress {
        ${VIP}/24 dev ${IFACE}
        ~SEQ(N, 11, 12) 198.51.100.${N}/24
    }
}
";

fn as_node(text: &str, id: &str) -> LoadedConfig {
    config::parse_str_all_with(text, "k.conf", &LoadOptions::with_config_id(id))
        .unwrap_or_else(|e| panic!("as {id}: {e}"))
}

#[test]
fn each_node_reads_its_own_lines() {
    for (id, router, priority, peer) in [
        ("lb1", Some("lb1_router"), 150, "192.0.2.2"),
        ("lb2", Some("lb2_router"), 100, "192.0.2.1"),
        ("lb3", None, 100, "192.0.2.1"),
    ] {
        let l = as_node(PAIR, id);
        assert!(l.warnings.is_empty(), "{id}: {:?}", l.warnings);
        assert_eq!(l.config.global.router_id.as_deref(), router, "{id}");
        let vi = l.config.instance("VI_1").expect("VI_1");
        assert_eq!(vi.priority, priority, "{id}");
        assert_eq!(vi.interface, "eth0");
        let vips: Vec<String> = vi
            .virtual_ipaddresses
            .iter()
            .map(|v| format!("{}/{}", v.addr, v.prefix_len))
            .collect();
        assert_eq!(
            vips,
            ["198.51.100.10/24", "198.51.100.11/24", "198.51.100.12/24"]
        );
        let peers: Vec<String> = vi.unicast_peers.iter().map(|p| p.to_string()).collect();
        if id == "lb3" {
            assert_eq!(peers, ["192.0.2.1", "192.0.2.2"]);
        } else {
            assert_eq!(peers, [peer], "{id}");
        }
    }
    // The substituted VIP points at its reference, the copies of ~SEQ into the file.
    let vi = as_node(PAIR, "lb1").config.instances.remove(0);
    let place = |i: usize| {
        let s = &vi.virtual_ipaddresses[i].span;
        (s.line, s.column)
    };
    assert_eq!([place(0), place(1)], [(17, 9), (18, 25)]);
}

#[test]
fn a_condition_on_a_block_opener_is_for_that_line_only() {
    // keepalived drops the line, not the block: its closing brace is then one too many.
    let text = "@lb1 vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n}\n";
    let err = config::parse_str_all_with(text, "k.conf", &LoadOptions::with_config_id("lb2"))
        .expect_err("unbalanced");
    let first = err.first().to_string();
    assert_eq!(first, "k.conf:4:1: unexpected \"}\" with no open block");
    // A whole block goes with a multi-line definition.
    let text = "$VI= \\\nvrrp_instance VI_1 { \\\n interface eth0 \\\n virtual_router_id 51 \\\n}\n\n@lb1 $VI\n";
    assert_eq!(as_node(text, "lb1").config.instances.len(), 1);
    assert_eq!(as_node(text, "lb2").config.instances.len(), 0);
}

#[test]
fn errors_point_at_the_original_place() {
    let text =
        "$P=300\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority $P\n}\n";
    let err = config::parse_str_all_with(text, "k.conf", &LoadOptions::with_config_id("a"))
        .expect_err("out of range");
    assert_eq!(
        err.first().to_string(),
        "k.conf:5:11: expected an integer 1..255 for priority, found \"300\""
    );
    // Text from a multi-line definition points at the reference that brought it.
    let text = "$VI= \\\nvrrp_instance VI_1 { \\\n interface eth0 \\\n virtual_router_id 300 \\\n}\n\n  $VI\n";
    let err = config::parse_str_all_with(text, "k.conf", &LoadOptions::with_config_id("a"))
        .expect_err("out of range");
    assert_eq!(
        err.first().to_string(),
        "k.conf:7:3: expected an integer 1..255 for virtual_router_id, found \"300\""
    );
    // Preprocessing errors are typed, every one reported once, in file order.
    let text = "global_defs {\n router_id ${ID\n}\n$=x\n";
    let errors = config::parse_str_all_with(text, "k.conf", &LoadOptions::with_config_id("a"))
        .expect_err("two errors");
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(matches!(
        errors.first(),
        ConfigError::Parameter {
            problem: ParamProblem::Unterminated { .. },
            span,
        } if (span.line, span.column) == (2, 12)
    ));
    assert!(all[1].starts_with("k.conf:4:1: \"$=x\" is not a parameter definition"));
}

/// A fresh directory, removed on drop.
struct TempTree(PathBuf);

impl TempTree {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("halb-cond-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        TempTree(dir)
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn definitions_carry_across_includes_in_reading_order() {
    let t = TempTree::new("inc");
    fs::create_dir_all(t.0.join("conf.d")).expect("mkdir");
    let main = t.0.join("keepalived.conf");
    fs::write(
        &main,
        "$IFACE=eth1\ninclude conf.d/*.conf\n$IFACE=eth2\n\
         vrrp_instance VI_2 {\n interface $IFACE\n virtual_router_id 2\n priority $PRIO\n}\n",
    )
    .expect("main");
    fs::write(
        t.0.join("conf.d/vi1.conf"),
        "@lb1 $PRIO=200\n@^lb1 $PRIO=50\n\
         vrrp_instance VI_1 {\n interface $IFACE\n virtual_router_id 1\n notify_master \"${_PWD}/up.sh\"\n}\n",
    )
    .expect("included");
    let load = |id: &str| {
        config::load_all_with(&main, &LoadOptions::with_config_id(id))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let l = load("lb1");
    let (vi1, vi2) = (&l.config.instances[0], &l.config.instances[1]);
    assert_eq!(
        (vi1.interface.as_str(), vi2.interface.as_str()),
        ("eth1", "eth2")
    );
    assert_eq!(vi2.priority, 200, "defined in the included file");
    let dir = fs::canonicalize(t.0.join("conf.d")).expect("dir");
    assert_eq!(
        vi1.notify.master.as_deref(),
        Some(&[format!("{}/up.sh", dir.display())][..]),
        "${{_PWD}} is the included file's directory"
    );
    assert_eq!(load("lb2").config.instances[1].priority, 50);
}
