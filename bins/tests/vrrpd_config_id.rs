//! One keepalived.conf copied to every node (keepalived's conditional configuration and
//! parameter substitution), each `vrrpd` reading it as its own config id (`-i`): the check,
//! and two nodes on a bridge electing the one whose `@ID` line gives it the higher priority.

mod common;

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{has_vip, within, Vrrpd};

/// The VIP the file defines as `$VIP`.
const VIP: &str = "198.18.0.111";

/// The same file for both nodes: the priority by config id, the VIP a definition.
fn shared_conf() -> String {
    format!(
        "$VIP={VIP}
$IFACE=eth0
global_defs {{
    @lb1 router_id lb1_router
    @lb2 router_id lb2_router
}}
vrrp_instance VI_1 {{
    interface $IFACE
    virtual_router_id 91
    @lb1 priority 150
    @lb2 priority 100
    advert_int 0.1
    version 3
    virtual_ipaddress {{
        ${{VIP}}/24
    }}
}}
"
    )
}

fn vrrpd_check(file: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vrrpd"))
        .args(extra)
        .arg("-t")
        .arg("-f")
        .arg(file)
        .output()
        .expect("vrrpd runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_check_reads_the_file_as_the_node_given() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("keepalived.conf");
    std::fs::write(&file, shared_conf()).expect("conf");
    for id in ["lb1", "lb2"] {
        let (code, stderr) = vrrpd_check(&file, &["-i", id]);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "configuration OK for config-id {id} (1 instances, 0 scripts, "
            )),
            "{stderr}"
        );
    }
    // The long flag, as keepalived's.
    let (code, stderr) = vrrpd_check(&file, &["--config-id", "lb2"]);
    assert_eq!(code, Some(0), "{stderr}");
    // A config id is one word.
    let (code, stderr) = vrrpd_check(&file, &["-i", ""]);
    assert_eq!(code, Some(2), "{stderr}");

    // Preprocessing errors name file:line:col, each once; the check fails.
    let bad = dir.path().join("bad.conf");
    std::fs::write(
        &bad,
        format!("{}$X=${{X}}y\n@lb2 $Y ${{X}}\n", shared_conf()),
    )
    .expect("bad");
    let (code, stderr) = vrrpd_check(&bad, &["-i", "lb2"]);
    assert_eq!(code, Some(1), "{stderr}");
    let expected = format!(
        "{}:19:9: more than 1024 substitutions in one line (does a definition refer to itself?)",
        bad.display()
    );
    assert_eq!(stderr.matches(&expected).count(), 1, "{stderr}");
    // As lb1 the line is not read at all.
    let (code, stderr) = vrrpd_check(&bad, &["-i", "lb1"]);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn two_nodes_one_file_the_config_id_picks_the_master() {
    let Some(lab) = common::lab("two_nodes_one_file", "vcid", &["a", "b"]) else {
        return;
    };
    let conf = shared_conf();
    let start = |node: &str, id: &str| {
        Vrrpd::start_with(lab.node(node).ns(), &conf, &["-i", id])
            .unwrap_or_else(|e| panic!("vrrpd on {node}: {e}"))
    };
    let lb1 = start("a", "lb1");
    let mut lb2 = start("b", "lb2");
    let vip: IpAddr = VIP.parse().expect("literal address");
    let (ns1, ns2) = (lab.node("a").ns(), lab.node("b").ns());
    within(Duration::from_secs(3), || {
        lb1.state("VI_1").as_deref() == Some("MASTER")
            && lb2.state("VI_1").as_deref() == Some("BACKUP")
            && has_vip(ns1, vip)
    })
    .unwrap_or_else(|| {
        panic!(
            "lb1 Master with the VIP, lb2 Backup\nlb1:\n{}\nlb2:\n{}",
            lb1.log(),
            lb2.log()
        )
    });
    assert!(!has_vip(ns2, vip), "only the Master holds {VIP}");
    for (d, id, priority) in [(&lb1, "lb1", 150), (&lb2, "lb2", 100)] {
        let status = d.status();
        assert_eq!(status["config_id"], id);
        assert_eq!(status["router_id"], format!("{id}_router"));
        let vi = &status["instances"][0];
        assert_eq!(vi["base_priority"], priority, "{id}: {status}");
        assert_eq!(
            vi["vips"][0],
            format!("{VIP}/24"),
            "{id}: the substituted VIP"
        );
    }
    // A reload reads the file as the same node: lb2's line now outbids lb1.
    lb2.reload(&conf.replace("@lb2 priority 100", "@lb2 priority 200"));
    within(Duration::from_secs(3), || {
        has_vip(ns2, vip) && !has_vip(ns1, vip) && lb2.status()["reloads"] == 1
    })
    .unwrap_or_else(|| panic!("lb2 preempts after its reload\nlb2:\n{}", lb2.log()));
    assert_eq!(lb2.status()["instances"][0]["base_priority"], 200);
}
