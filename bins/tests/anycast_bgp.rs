//! `anycast_route` with FRR: three nodes announce one anycast /32 over eBGP to a router
//! doing ECMP; each node's vrrpd installs the kernel route FRR redistributes while its
//! lbproxy runs (`vrrp_track_process`) and no maintenance file says otherwise
//! (`track_file`), and deletes it when one fails. Measured and bounded: how long after the
//! proxy's death, the maintenance file or vrrpd's stop the router's route loses the node,
//! and the client is served by the others only; with BFD (FRR's bfdd, 100 ms × 3), how long
//! a node that stops answering (its packets dropped) takes to leave the route.
//!
//! About 600 lines: the setup (`Anycast`), one function per step of the one long test
//! (FRR takes seconds to come up, so the steps share it), and the interface test.

mod common;
mod frr;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::within;
use frr::Frr;
use testkit::{exec, exec_ok, spawn, Lab, ProcessGuard, Signal};

const ANYCAST: Ipv4Addr = Ipv4Addr::new(198, 18, 200, 1);
const PORT: u16 = 8080;
const NODES: [&str; 3] = ["n1", "n2", "n3"];
/// What the kernel route changes are bounded by: measured at ~0.15 s (vrrpd's route
/// change, zebra, bgpd's UPDATE, the router's zebra), with room for a loaded CI machine.
const WITHDRAW_BOUND: Duration = Duration::from_secs(2);
/// BFD detects a silent peer in 3 × 100 ms; BGP's own hold time (3 s here) would take
/// longer than this bound.
const BFD_BOUND: Duration = Duration::from_millis(1500);

/// One node: FRR, vrrpd with the anycast route, and the lbproxy it tracks.
struct Node {
    name: &'static str,
    addr: Ipv4Addr,
    proxy_cfg: PathBuf,
    maint: PathBuf,
    proxy: Option<ProcessGuard>,
    vrrpd: common::Vrrpd,
    frr: Frr,
    _dir: tempfile::TempDir,
}

/// The whole setup; dropping it stops every process and removes the namespaces.
struct Anycast {
    nodes: Vec<Node>,
    router: Frr,
    lab: Lab,
}

fn router_conf(lab: &Lab) -> String {
    let mut neighbors = String::new();
    for n in NODES {
        neighbors.push_str(&format!(
            " neighbor {} peer-group nodes\n",
            lab.node(n).ipv4()
        ));
    }
    format!(
        "hostname rt
router bgp 65000
 bgp router-id {id}
 no bgp ebgp-requires-policy
 neighbor nodes peer-group
 neighbor nodes remote-as 65001
 neighbor nodes timers 1 3
 neighbor nodes timers connect 1
 neighbor nodes advertisement-interval 0
 neighbor nodes bfd profile fast
{neighbors} address-family ipv4 unicast
  maximum-paths 3
 exit-address-family
",
        id = lab.node("rt").ipv4()
    )
}

/// The node's FRR: the kernel routes in the anycast range redistributed to the router.
fn node_conf(name: &str, addr: Ipv4Addr, router: Ipv4Addr) -> String {
    format!(
        "hostname {name}
ip prefix-list anycast seq 5 permit 198.18.200.0/24 ge 32
route-map anycast permit 10
 match ip address prefix-list anycast
router bgp 65001
 bgp router-id {addr}
 no bgp ebgp-requires-policy
 neighbor {router} remote-as 65000
 neighbor {router} timers 1 3
 neighbor {router} timers connect 1
 neighbor {router} advertisement-interval 0
 neighbor {router} bfd profile fast
 address-family ipv4 unicast
  redistribute kernel route-map anycast
 exit-address-family
"
    )
}

const BFDD_CONF: &str = "bfd
 profile fast
  receive-interval 100
  transmit-interval 100
  detect-multiplier 3
";

/// vrrpd's keepalived.conf: the anycast route tracks this node's lbproxy (by its command
/// line: one pid namespace for all nodes) and a maintenance file.
fn vrrpd_conf(proxy_cfg: &std::path::Path, maint: &std::path::Path, priority: u8) -> String {
    format!(
        "vrrp_track_process proxy {{
    process \"{lbproxy}\" -f \"{cfg}\"
    weight 0
}}
track_file maint {{
    file {maint}
    weight 0
}}
anycast_route web {{
    prefix {ANYCAST}/32
    interface lo
    priority {priority}
    track_process {{
        proxy
    }}
    track_file {{
        maint
    }}
}}
",
        lbproxy = env!("CARGO_BIN_EXE_lbproxy"),
        cfg = proxy_cfg.display(),
        maint = maint.display(),
    )
}

/// An lbproxy answering every request with the node's name.
fn proxy_conf(name: &str) -> String {
    format!(
        "global
    maxconn 500
defaults
    mode http
    timeout client 5s
frontend app
    bind *:{PORT}
    http-request return status 200 content-type text/plain string \"{name}\"
"
    )
}

fn start_proxy(ns: &str, cfg: &std::path::Path) -> ProcessGuard {
    spawn(
        ns,
        [
            env!("CARGO_BIN_EXE_lbproxy"),
            "-f",
            cfg.to_str().expect("utf-8 path"),
        ],
    )
    .unwrap_or_else(|e| panic!("lbproxy in {ns}: {e}"))
}

impl Anycast {
    fn start(test: &str) -> Option<Anycast> {
        let lab = common::lab(test, "acb", &["rt", "n1", "n2", "n3", "cl"])?;
        if !frr::require_frr(test) {
            return None;
        }
        let rt = lab.node("rt");
        // The router forwards, hashes flows on their ports over the next hops, and sends
        // no redirect (client and nodes share its segment).
        rt.exec_ok(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
            .expect("sysctl");
        rt.exec_ok(["sysctl", "-qw", "net.ipv4.fib_multipath_hash_policy=1"])
            .expect("sysctl");
        for conf in ["all", "default", rt.ifname()] {
            let key = format!("net.ipv4.conf.{conf}.send_redirects=0");
            rt.exec_ok(["sysctl", "-qw", &key]).expect("sysctl");
        }
        let via = rt.ipv4().to_string();
        let dst = format!("{ANYCAST}/32");
        lab.node("cl")
            .exec_ok(["ip", "route", "add", &dst, "via", &via])
            .expect("client route");
        let router = Frr::start(rt.ns(), &router_conf(&lab), BFDD_CONF).expect("router FRR");
        let mut nodes = Vec::new();
        for name in NODES {
            let node = lab.node(name);
            let dir = tempfile::Builder::new()
                .prefix("anycast")
                .tempdir()
                .expect("dir");
            let proxy_cfg = dir.path().join("haproxy.cfg");
            std::fs::write(&proxy_cfg, proxy_conf(name)).expect("proxy config");
            let maint = dir.path().join("maint");
            std::fs::write(&maint, "0\n").expect("maint file");
            let frr = Frr::start(
                node.ns(),
                &node_conf(name, node.ipv4(), rt.ipv4()),
                BFDD_CONF,
            )
            .expect("node FRR");
            let proxy = Some(start_proxy(node.ns(), &proxy_cfg));
            // Process events come in the test's own namespace (the kernel sends them in the
            // initial one only; /proc/1/ns/net may not open in a sandbox).
            let netns = format!("/proc/{}/ns/net", std::process::id());
            let conf = vrrpd_conf(&proxy_cfg, &maint, 100);
            let vrrpd =
                common::Vrrpd::start_with(node.ns(), &conf, &["--proc-events-netns", &netns])
                    .unwrap_or_else(|e| panic!("vrrpd on {name}: {e}"));
            nodes.push(Node {
                name,
                addr: node.ipv4(),
                proxy_cfg,
                maint,
                proxy,
                vrrpd,
                frr,
                _dir: dir,
            });
        }
        Some(Anycast { nodes, router, lab })
    }

    /// The router's next hops for the anycast /32 in its kernel (what it forwards by).
    fn next_hops(&self) -> Vec<Ipv4Addr> {
        let out = exec(
            self.lab.node("rt").ns(),
            ["ip", "route", "show", &ANYCAST.to_string()],
        )
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
        let words: Vec<&str> = out.split_whitespace().collect();
        let mut hops: Vec<Ipv4Addr> = words
            .windows(2)
            .filter(|w| w[0] == "via")
            .filter_map(|w| w[1].parse().ok())
            .collect();
        hops.sort();
        hops
    }

    fn all_hops(&self) -> Vec<Ipv4Addr> {
        let mut all: Vec<Ipv4Addr> = self.nodes.iter().map(|n| n.addr).collect();
        all.sort();
        all
    }

    fn hops_without(&self, i: usize) -> Vec<Ipv4Addr> {
        let gone = self.nodes[i].addr;
        self.all_hops().into_iter().filter(|a| *a != gone).collect()
    }

    /// Waits at most `limit` for the router's next hops to be `hops`; how long it took.
    fn await_hops(&self, hops: &[Ipv4Addr], limit: Duration) -> Option<Duration> {
        within(limit, || self.next_hops() == hops)
    }

    /// `n` requests from the client, each on a new connection (a new source port): who
    /// answered how often, and how many got no answer.
    fn spread(&self, n: usize) -> (BTreeMap<String, usize>, usize) {
        testkit::in_netns(self.lab.node("cl").ns(), || {
            let mut answers = BTreeMap::new();
            let mut failed = 0;
            for _ in 0..n {
                match ask() {
                    Some(name) => *answers.entry(name).or_insert(0) += 1,
                    None => failed += 1,
                }
            }
            (answers, failed)
        })
        .expect("client namespace")
    }

    /// Waits at most `limit` until 30 requests in a row are all answered, none by node
    /// `i`; how long it took.
    fn await_served_without(&self, i: usize, limit: Duration) -> Option<Duration> {
        let gone = self.nodes[i].name;
        within(limit, || {
            let (answers, failed) = self.spread(30);
            failed == 0 && !answers.contains_key(gone)
        })
    }

    fn logs(&self) -> String {
        let mut out = format!("router FRR:\n{}\n", self.router.logs());
        for n in &self.nodes {
            out.push_str(&format!(
                "--- {} vrrpd:\n{}\n--- {} FRR:\n{}\n",
                n.name,
                n.vrrpd.log(),
                n.name,
                n.frr.logs()
            ));
        }
        out
    }
}

/// One HTTP request to the anycast address: the body (the node's name), if answered.
fn ask() -> Option<String> {
    let addr = SocketAddr::from((ANYCAST, PORT));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(300)).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: anycast\r\n\r\n")
        .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200")
        .then(|| body.trim().to_string())
}

fn announced(node: &Node) -> bool {
    node.vrrpd.status()["anycast_routes"][0]["announced"] == true
}

/// The route of `node` in its own kernel (protocol 210: vrrpd's).
fn node_routes(node: &Node) -> String {
    exec_ok(
        node.frr.ns.as_str(),
        ["ip", "route", "show", "table", "all", "proto", "210"],
    )
    .expect("ip route")
}

/// BGP up, three next hops at the router, and flows from many source ports spread over
/// the three nodes by the router's L4 hash.
fn three_next_hops_share_the_flows(a: &Anycast) {
    let started = Instant::now();
    let up = a.await_hops(&a.all_hops(), Duration::from_secs(20));
    assert!(
        up.is_some(),
        "the router never had the 3 next hops: {:?}\n{}\n{}",
        a.next_hops(),
        a.router.vtysh("show bgp summary"),
        a.logs()
    );
    eprintln!(
        "3 ECMP next hops after {:?} (BGP sessions up)",
        started.elapsed()
    );
    let routes = node_routes(&a.nodes[0]);
    assert!(
        routes.contains("metric 155"),
        "priority 100, metric 155: {routes}"
    );
    assert!(
        routes.contains("local 198.18.200.1"),
        "delivered locally: {routes}"
    );
    let (answers, failed) = a.spread(90);
    eprintln!("90 requests: {answers:?}, {failed} unanswered");
    assert_eq!(failed, 0);
    assert_eq!(answers.len(), 3, "every node answers some: {answers:?}");
    assert!(answers.values().all(|n| *n >= 10), "{answers:?}");
}

/// n2's proxy dies: its vrrpd hears it from the kernel and deletes the route; the client
/// is served by n1 and n3 only. The proxy back, the route is back.
fn a_dead_proxy_withdraws_its_node(a: &mut Anycast) {
    let killed = Instant::now();
    let proxy = a.nodes[1].proxy.as_mut().expect("proxy");
    proxy.signal(Signal::SIGKILL).expect("kill");
    // vrrpd's share first (its kernel route gone), then FRR's and the router's.
    let local = within(WITHDRAW_BOUND, || {
        !node_routes(&a.nodes[1]).contains("metric")
    })
    .map(|_| killed.elapsed());
    let withdrawn = a
        .await_hops(&a.hops_without(1), WITHDRAW_BOUND)
        .map(|_| killed.elapsed());
    let served = a
        .await_served_without(1, WITHDRAW_BOUND)
        .map(|_| killed.elapsed());
    eprintln!(
        "proxy killed: n2's kernel route gone after {local:?}, its next hop gone from the \
         router after {withdrawn:?}, client served by the two others only after {served:?}"
    );
    assert!(
        local.is_some(),
        "n2's vrrpd kept its route\n{}",
        a.nodes[1].vrrpd.log()
    );
    assert!(
        withdrawn.is_some(),
        "n2 still a next hop: {:?}\n{}",
        a.next_hops(),
        a.logs()
    );
    assert!(served.is_some(), "client not served by n1 and n3 alone");
    assert!(!announced(&a.nodes[1]), "n2's status says withdrawn");

    let (ns, cfg) = (a.nodes[1].frr.ns.clone(), a.nodes[1].proxy_cfg.clone());
    a.nodes[1].proxy = Some(start_proxy(&ns, &cfg));
    let back = a.await_hops(&a.all_hops(), WITHDRAW_BOUND);
    eprintln!("proxy restarted: next hop back after {back:?}");
    assert!(back.is_some(), "n2 not back: {:?}", a.next_hops());
}

/// Maintenance: n3's file says 1, the route goes; 0, it comes back.
fn a_maintenance_file_drains_its_node(a: &Anycast) {
    std::fs::write(&a.nodes[2].maint, "1\n").expect("maint");
    let drained = a.await_hops(&a.hops_without(2), WITHDRAW_BOUND);
    eprintln!("maintenance file: next hop gone after {drained:?}");
    assert!(
        drained.is_some(),
        "n3 still a next hop in maintenance: {:?}",
        a.next_hops()
    );
    assert!(a.await_served_without(2, WITHDRAW_BOUND).is_some());
    std::fs::write(&a.nodes[2].maint, "0\n").expect("maint");
    let undrained = a.await_hops(&a.all_hops(), WITHDRAW_BOUND);
    eprintln!("maintenance over: next hop back after {undrained:?}");
    assert!(undrained.is_some(), "n3 not back: {:?}", a.next_hops());
}

/// A lower priority, by a reload: the route stays (no withdrawal), its metric and so its
/// MED grow, and the router, choosing the lowest MED among routes from one AS, leaves n1
/// out; the priority back, n1 is back.
fn a_lower_priority_is_a_higher_med(a: &mut Anycast) {
    let withdrawals =
        |a: &Anycast| a.nodes[0].vrrpd.status()["anycast_routes"][0]["withdrawals"].clone();
    let before = withdrawals(a);
    let n1 = &a.nodes[0];
    let (demoted, restored) = (
        vrrpd_conf(&n1.proxy_cfg, &n1.maint, 90),
        vrrpd_conf(&n1.proxy_cfg, &n1.maint, 100),
    );
    a.nodes[0].vrrpd.reload(&demoted);
    let lower = a.await_hops(&a.hops_without(0), WITHDRAW_BOUND);
    eprintln!("priority 90 on n1 (MED 165 against 155): next hop gone after {lower:?}");
    assert!(
        lower.is_some(),
        "n1 still a next hop at priority 90: {:?}",
        a.next_hops()
    );
    let routes = node_routes(&a.nodes[0]);
    assert!(
        routes.contains("metric 165"),
        "priority 90, metric 165: {routes}"
    );
    assert!(
        !routes.contains("metric 155"),
        "the old metric's route went: {routes}"
    );
    assert_eq!(withdrawals(a), before, "a new priority is no withdrawal");
    a.nodes[0].vrrpd.reload(&restored);
    let back = a.await_hops(&a.all_hops(), WITHDRAW_BOUND);
    assert!(
        back.is_some(),
        "n1 not back at priority 100: {:?}",
        a.next_hops()
    );
}

/// A reload without the block: the route is withdrawn and the prefix no longer delivered;
/// with it again, both are back.
fn a_reload_that_drops_the_block_withdraws(a: &mut Anycast) {
    let n2 = &a.nodes[1];
    let with = vrrpd_conf(&n2.proxy_cfg, &n2.maint, 100);
    let without = with[..with.find("anycast_route").expect("the block")].to_string();
    a.nodes[1].vrrpd.reload(&without);
    let gone = a.await_hops(&a.hops_without(1), WITHDRAW_BOUND);
    eprintln!("reload without the block: next hop gone after {gone:?}");
    assert!(gone.is_some(), "n2 still a next hop: {:?}", a.next_hops());
    let cleaned = within(WITHDRAW_BOUND, || {
        node_routes(&a.nodes[1]).trim().is_empty()
    });
    assert!(cleaned.is_some(), "left: {}", node_routes(&a.nodes[1]));
    a.nodes[1].vrrpd.reload(&with);
    let back = a.await_hops(&a.all_hops(), WITHDRAW_BOUND);
    assert!(
        back.is_some(),
        "n2 not back after the reload: {:?}",
        a.next_hops()
    );
    assert!(node_routes(&a.nodes[1]).contains("local 198.18.200.1"));
}

/// A node that stops answering (every packet in and out dropped, links up, its daemons
/// alive): BFD takes it out, before BGP's 3 s hold time would.
fn bfd_takes_a_silent_node_out(a: &Anycast) {
    let n1 = a.lab.node("n1");
    let rules = "table inet acbdrop { \
        chain in { type filter hook input priority -300; policy drop; }; \
        chain out { type filter hook output priority -300; policy drop; }; }";
    n1.exec_ok(["nft", rules]).expect("nft drop");
    let silent = a.await_hops(&a.hops_without(0), BFD_BOUND);
    eprintln!("n1 silent: next hop gone (BFD) after {silent:?}");
    assert!(silent.is_some(), "n1 still a next hop: {:?}", a.next_hops());
    n1.exec_ok(["nft", "delete", "table", "inet", "acbdrop"])
        .expect("nft delete");
    let rejoined = a.await_hops(&a.all_hops(), Duration::from_secs(10));
    eprintln!("n1 answering again: next hop back after {rejoined:?}");
    assert!(rejoined.is_some(), "n1 not back: {:?}", a.next_hops());
}

/// vrrpd stops (SIGTERM): it withdraws the route, then stops delivering the address and
/// leaves no route of its own.
fn a_stopping_vrrpd_withdraws_and_cleans_up(a: &mut Anycast) {
    a.nodes[2]
        .vrrpd
        .proc
        .signal(Signal::SIGTERM)
        .expect("SIGTERM");
    let stopped = a.await_hops(&a.hops_without(2), WITHDRAW_BOUND);
    eprintln!("vrrpd stopped: next hop gone after {stopped:?}");
    assert!(stopped.is_some(), "n3 still a next hop after vrrpd stopped");
    let n3 = &mut a.nodes[2];
    let exited = n3
        .vrrpd
        .proc
        .wait_timeout(Duration::from_secs(5))
        .expect("wait");
    assert!(exited.is_some(), "vrrpd still running");
    let left = node_routes(n3);
    assert!(left.trim().is_empty(), "vrrpd left routes behind: {left}");
}

#[test]
fn three_nodes_announce_one_anycast_address_while_their_proxies_run() {
    let Some(mut a) = Anycast::start("anycast_bgp") else {
        return;
    };
    let started = Instant::now();
    three_next_hops_share_the_flows(&a);
    a_dead_proxy_withdraws_its_node(&mut a);
    a_maintenance_file_drains_its_node(&a);
    a_lower_priority_is_a_higher_med(&mut a);
    a_reload_that_drops_the_block_withdraws(&mut a);
    bfd_takes_a_silent_node_out(&a);
    a_stopping_vrrpd_withdraws_and_cleans_up(&mut a);
    eprintln!("total {:?}", started.elapsed());
}

/// An `anycast_route` on an interface that goes: down, the kernel drops its routes and
/// vrrpd counts the route withdrawn; up again, and deleted then recreated (a new index),
/// vrrpd delivers and installs it again. No FRR needed: the kernel routes are the contract.
#[test]
fn an_interface_that_goes_and_comes_back_takes_the_route_with_it() {
    let test = "anycast_interface";
    let Some(lab) = common::lab(test, "aci", &["n"]) else {
        return;
    };
    let ns = lab.node("n").ns().to_string();
    let veth = || {
        exec_ok(
            &ns,
            [
                "ip", "link", "add", "acx0", "type", "veth", "peer", "name", "acx1",
            ],
        )
        .expect("veth");
        for dev in ["acx0", "acx1"] {
            exec_ok(&ns, ["ip", "link", "set", dev, "up"]).expect("up");
        }
    };
    veth();
    let conf = "anycast_route side {\n    prefix 198.18.201.0/24\n    interface acx0\n}\n";
    let vrrpd = common::Vrrpd::on(&lab, "n", conf);
    let routes = || {
        exec_ok(&ns, ["ip", "route", "show", "table", "all", "proto", "210"]).unwrap_or_default()
    };
    let installed = || {
        let r = routes();
        r.contains("198.18.201.0/24 dev acx0") && r.contains("local 198.18.201.0/24 dev acx0")
    };
    let status = |v: &common::Vrrpd| v.status()["anycast_routes"][0]["announced"] == true;
    let limit = Duration::from_secs(3);
    assert!(
        within(limit, installed).is_some(),
        "not installed: {}\n{}",
        routes(),
        vrrpd.log()
    );

    exec_ok(&ns, ["ip", "link", "set", "acx0", "down"]).expect("down");
    assert!(
        within(limit, || !status(&vrrpd)).is_some(),
        "still announced while down"
    );
    exec_ok(&ns, ["ip", "link", "set", "acx0", "up"]).expect("up");
    assert!(
        within(limit, || installed() && status(&vrrpd)).is_some(),
        "not back after up: {}",
        routes()
    );

    exec_ok(&ns, ["ip", "link", "del", "acx0"]).expect("del");
    assert!(
        within(limit, || !status(&vrrpd)).is_some(),
        "still announced without its interface"
    );
    veth();
    let back = within(limit, || installed() && status(&vrrpd));
    assert!(
        back.is_some(),
        "not back on the new interface: {}\n{}",
        routes(),
        vrrpd.log()
    );
    assert_eq!(vrrpd.status()["anycast_routes"][0]["withdrawals"], 2);
}
