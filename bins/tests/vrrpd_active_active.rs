//! Active/active on three nodes from one keepalived.conf: six VIPs, one VRRP instance
//! each, whose priorities rotate over the nodes (`@ID` lines, read with `vrrpd -i`), so
//! every node is Master of two VIPs, and a node's two VIPs have different first Backups. A
//! proxy on every node answers its name on all addresses; a client reaches each VIP. When a
//! node dies its VIPs spread over both survivors (with one Backup order for all, both would
//! land on one node: 4 VIPs there), so none holds more than ⌈K/(N−1)⌉ = 3; when it comes
//! back it takes its VIPs again.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::{has_vip, within, Vrrpd};
use testkit::{spawn, Lab, ProcessGuard};

const NODES: [&str; 3] = ["n1", "n2", "n3"];
const VIPS: [&str; 6] = [
    "198.18.0.101",
    "198.18.0.102",
    "198.18.0.103",
    "198.18.0.104",
    "198.18.0.105",
    "198.18.0.106",
];

fn vip(k: usize) -> IpAddr {
    VIPS[k].parse().expect("literal address")
}

/// The Master of instance `k` (0-based) and its first Backup: node k mod 3 masters VIPs k
/// and k+3, whose first Backups are the next node and the one after.
fn order(k: usize) -> (usize, usize) {
    let master = k % 3;
    (master, (master + 1 + k / 3) % 3)
}

/// Instance `k`: its Master at 150, its first Backup at 125, the third node at 100. The
/// same text for every node; each reads its own lines.
fn shared_conf() -> String {
    let mut c = String::new();
    for (k, addr) in VIPS.iter().enumerate() {
        let (master, backup) = order(k);
        let prio = |i: usize| match i {
            _ if i == master => 150,
            _ if i == backup => 125,
            _ => 100,
        };
        let lines: String = NODES
            .iter()
            .enumerate()
            .map(|(i, n)| format!("    @{n} priority {}\n", prio(i)))
            .collect();
        c += &format!(
            "vrrp_instance VI_{k} {{
    interface eth0
    virtual_router_id {vrid}
{lines}    advert_int 0.05
    version 3
    virtual_ipaddress {{
        {addr}/24
    }}
}}
",
            vrid = 61 + k
        );
    }
    c
}

/// A proxy answering `name` on port 80, on every address of the node (VIPs included).
fn proxy(ns: &str, name: &str, dir: &std::path::Path) -> ProcessGuard {
    let path = dir.join(format!("{name}.cfg"));
    let cfg = format!(
        "defaults
    mode http
    timeout client 5s
frontend web
    bind *:80
    http-request return status 200 content-type text/plain string \"{name}\"
"
    );
    std::fs::write(&path, cfg).expect("config written");
    spawn(
        ns,
        [
            env!("CARGO_BIN_EXE_lbproxy"),
            "-f",
            path.to_str().expect("utf-8"),
        ],
    )
    .expect("lbproxy starts")
}

/// Who answers on VIP `k`, asked from the client.
fn answer(lab: &Lab, k: usize) -> Option<String> {
    let url = format!("http://{}/", VIPS[k]);
    let out = lab
        .node("client")
        .exec(["curl", "-s", "-m", "0.1", &url])
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// What the client sees on each VIP, which node holds it, and the client's neighbour
/// table: a failure says whether VRRP, the addresses or the client's ARP cache is wrong.
fn data_path(lab: &Lab) -> String {
    let mut out = String::from("--- data path:\n");
    for (k, addr) in VIPS.iter().enumerate() {
        let holders: Vec<&str> = NODES
            .iter()
            .copied()
            .filter(|n| has_vip(lab.node(n).ns(), vip(k)))
            .collect();
        out += &format!(
            "VIP {k} {addr}: answered by {:?}, held by {holders:?}\n",
            answer(lab, k)
        );
    }
    let neigh = lab
        .node("client")
        .exec(["ip", "neigh", "show", "dev", "eth0"]);
    if let Ok(neigh) = neigh {
        out += &format!(
            "client neighbours:\n{}",
            String::from_utf8_lossy(&neigh.stdout)
        );
    }
    for n in NODES {
        if let Ok(link) = lab.node(n).exec(["ip", "-br", "link", "show", "eth0"]) {
            out += &format!("{n}: {}", String::from_utf8_lossy(&link.stdout));
        }
    }
    out
}

/// How many VIPs node `n` holds.
fn held(lab: &Lab, n: &str) -> usize {
    (0..VIPS.len())
        .filter(|&k| has_vip(lab.node(n).ns(), vip(k)))
        .count()
}

#[test]
fn three_nodes_master_two_vips_each_and_a_dead_nodes_vips_spread_over_the_survivors() {
    let Some(lab) = common::lab("active_active", "aa3", &["n1", "n2", "n3", "client"]) else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let _proxies: Vec<ProcessGuard> = NODES
        .iter()
        .map(|n| proxy(lab.node(n).ns(), n, dir.path()))
        .collect();
    let conf = shared_conf();
    let daemons: Vec<Vrrpd> = NODES
        .iter()
        .map(|n| {
            Vrrpd::start_with(lab.node(n).ns(), &conf, &["-i", n])
                .unwrap_or_else(|e| panic!("vrrpd on {n}: {e}"))
        })
        .collect();
    let logs = || {
        let daemons: String = daemons
            .iter()
            .map(|d| format!("--- {}:\n{}", d.ns, d.log()))
            .collect();
        format!("{}{daemons}", data_path(&lab))
    };
    let owner = |k: usize, node: usize| answer(&lab, k).as_deref() == Some(NODES[node]);
    // Every node Master of its own two VIPs, and the client answered by it on each.
    let settled = within(Duration::from_secs(5), || {
        (0..VIPS.len()).all(|k| owner(k, order(k).0)) && NODES.iter().all(|n| held(&lab, n) == 2)
    });
    assert!(settled.is_some(), "each node masters two VIPs\n{}", logs());

    // n1 dies (its cable pulled): VIP 0 moves to n2 and VIP 3 to n3, their first Backups.
    let t = Instant::now();
    lab.set_port("n1", false).expect("port down");
    let bound = common::v3_master_down(125, 5) + Duration::from_millis(500);
    let moved = within(bound, || owner(0, 1) && owner(3, 2));
    assert!(
        moved.is_some(),
        "n1's VIPs answered by n2 and n3 within {bound:?}\n{}",
        logs()
    );
    eprintln!(
        "n1's VIPs answered by the survivors {:?} after n1 went down",
        t.elapsed()
    );
    for k in [1, 2, 4, 5] {
        assert!(
            owner(k, order(k).0),
            "VIP {k} stays with its Master\n{}",
            logs()
        );
    }
    // ⌈K/(N−1)⌉ = ⌈6/2⌉ = 3 at most on any survivor.
    for n in ["n2", "n3"] {
        assert_eq!(held(&lab, n), 3, "{n}'s VIPs\n{}", logs());
    }

    // n1 back: it preempts its own VIPs, and only them.
    lab.set_port("n1", true).expect("port up");
    let back = within(Duration::from_secs(3), || {
        owner(0, 0) && owner(3, 0) && NODES.iter().all(|n| held(&lab, n) == 2)
    });
    assert!(back.is_some(), "n1 takes its VIPs back\n{}", logs());
}
