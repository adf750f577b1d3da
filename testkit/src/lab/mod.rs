//! A lab: node namespaces joined by a bridge that lives in a namespace of its own.
//!
//! Here: building a lab and what it does to its bridge. Elsewhere: addresses (`addr`), a
//! node (`node`), removing namespaces (`ns`).

mod addr;
mod node;
mod ns;

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::process::{exec_ok, run_ok};

pub use addr::{
    addresses, default_ipv4, default_ipv6, default_mac, in_test_range, parse_addr_json, AddrPrefix,
};
pub use node::Node;
pub use ns::sweep_stale;

use addr::link_mac;
use ns::remove_ns;

/// The interface name of every node's link to the bridge (inside the node's namespace).
pub const NODE_IFNAME: &str = "eth0";

/// Name of the bridge device inside the bridge namespace.
pub const BRIDGE_IFNAME: &str = "br0";

static COUNTER: AtomicU32 = AtomicU32::new(0);

#[derive(Debug)]
struct NodeSpec {
    name: String,
    addrs: Option<Vec<AddrPrefix>>,
}

/// Describes a lab before it is created; see [`Lab::builder`].
#[derive(Debug)]
pub struct LabBuilder {
    prefix: String,
    nodes: Vec<NodeSpec>,
    deterministic_macs: bool,
    errors: Vec<String>,
}

impl LabBuilder {
    /// Adds a node with the default addresses: node number `i` (in the order added, from 0)
    /// gets `198.18.0.{i+1}/24` and `fd00:198:18::{i+1}/64`.
    ///
    /// Node names are 1 to 8 characters of `[a-z0-9]` (they go into namespace names).
    pub fn node(mut self, name: &str) -> Self {
        self.check_name(name);
        self.nodes.push(NodeSpec {
            name: name.to_owned(),
            addrs: None,
        });
        self
    }

    /// Adds a node with exactly these addresses (`ADDR/PREFIX`, from 198.18.0.0/15 or
    /// fd00:198:18::/64 only; may be empty).
    pub fn node_with_addrs(mut self, name: &str, addrs: &[&str]) -> Self {
        self.check_name(name);
        let mut parsed = Vec::new();
        for a in addrs {
            match AddrPrefix::parse(a) {
                Ok(p) => parsed.push(p),
                Err(e) => self.errors.push(e.to_string()),
            }
        }
        self.nodes.push(NodeSpec {
            name: name.to_owned(),
            addrs: Some(parsed),
        });
        self
    }

    /// Gives node number `i` the MAC `02:00:c6:12:00:{i+1}` instead of a random one.
    pub fn deterministic_macs(mut self) -> Self {
        self.deterministic_macs = true;
        self
    }

    fn check_name(&mut self, name: &str) {
        let ok = !name.is_empty()
            && name.len() <= 8
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && name != "br";
        if !ok {
            self.errors.push(format!(
                "node name {name:?}: want 1-8 chars of [a-z0-9], not \"br\""
            ));
        }
        if self.nodes.iter().any(|n| n.name == name) {
            self.errors.push(format!("node name {name:?} used twice"));
        }
    }

    /// Creates the namespaces, the bridge, the links and the addresses. On error, whatever
    /// was created is removed again (by the partly built lab's `Drop`).
    pub fn build(self) -> io::Result<Lab> {
        if !self.errors.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                self.errors.join("; "),
            ));
        }
        if self.nodes.len() > 250 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "at most 250 nodes",
            ));
        }
        sweep_stale();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let base = format!("tk-{}-{}-{}", self.prefix, std::process::id(), n);
        let mut lab = Lab {
            base: base.clone(),
            bridge_ns: format!("{base}-br"),
            nodes: Vec::new(),
            created: Vec::new(),
        };
        lab.add_bridge()?;
        for (i, spec) in self.nodes.iter().enumerate() {
            let mac = self.deterministic_macs.then(|| default_mac(i));
            let node = lab.add_node(i, spec, mac)?;
            lab.nodes.push(node);
        }
        Ok(lab)
    }
}

/// Namespaces, bridge and links for one test. Everything is removed on drop (processes in
/// the namespaces are SIGKILLed first), also when the test panics.
///
/// Layout: namespace `tk-PREFIX-PID-N-br` holds bridge `br0` with ports `p0`, `p1`, ...; node
/// namespace `tk-PREFIX-PID-N-NAME` holds `eth0`, the other end of port `p{i}`.
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// if !testkit::require_root("two_nodes") { return Ok(()); }
/// let lab = testkit::Lab::builder("doc").node("a").node("b").build()?;
/// let a = lab.node("a");
/// let out = a.exec_ok(["ip", "-j", "addr"])?;
/// assert!(out.contains("198.18.0.1"));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Lab {
    base: String,
    bridge_ns: String,
    nodes: Vec<Node>,
    created: Vec<String>,
}

impl Lab {
    /// Starts describing a lab. `prefix` (1-12 chars of `[a-z0-9]`, e.g. a short test name)
    /// goes into the namespace names, with the pid and a counter, so tests run in parallel.
    pub fn builder(prefix: &str) -> LabBuilder {
        let mut errors = Vec::new();
        let ok = !prefix.is_empty()
            && prefix.len() <= 12
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !ok {
            errors.push(format!(
                "lab prefix {prefix:?}: want 1-12 chars of [a-z0-9]"
            ));
        }
        LabBuilder {
            prefix: prefix.to_owned(),
            nodes: Vec::new(),
            deterministic_macs: false,
            errors,
        }
    }

    fn add_ns(&mut self, ns: &str) -> io::Result<()> {
        run_ok("ip", ["netns", "add", ns])?;
        self.created.push(ns.to_owned());
        Ok(())
    }

    /// The bridge namespace and its bridge: no multicast snooping (every port hears VRRP's
    /// groups), no STP (ports forward at once).
    fn add_bridge(&mut self) -> io::Result<()> {
        let br = self.bridge_ns.clone();
        self.add_ns(&br)?;
        run_ok(
            "ip",
            [
                "-n",
                &br,
                "link",
                "add",
                BRIDGE_IFNAME,
                "type",
                "bridge",
                "mcast_snooping",
                "0",
                "stp_state",
                "0",
            ],
        )?;
        run_ok("ip", ["-n", &br, "link", "set", "lo", "up"])?;
        run_ok("ip", ["-n", &br, "link", "set", BRIDGE_IFNAME, "up"])?;
        Ok(())
    }

    /// Node number `i`: its namespace, `eth0` (with `mac`, else the kernel's) linked to bridge
    /// port `p{i}`, and its addresses (the defaults for `i` unless the spec names some).
    fn add_node(&mut self, i: usize, spec: &NodeSpec, mac: Option<String>) -> io::Result<Node> {
        let ns = format!("{}-{}", self.base, spec.name);
        let br = self.bridge_ns.clone();
        self.add_ns(&ns)?;
        // No DAD anywhere in the node: link-local addresses are usable at once (VRRPv3
        // over IPv6 sends from the link-local address). IPv6 addresses survive link down.
        exec_ok(
            &ns,
            [
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
                "net.ipv6.conf.all.keep_addr_on_down=1",
                "net.ipv6.conf.default.keep_addr_on_down=1",
            ],
        )?;
        let port = format!("p{i}");
        let mut add = vec!["-n", &ns, "link", "add", NODE_IFNAME];
        if let Some(mac) = &mac {
            add.extend(["address", mac]);
        }
        add.extend(["type", "veth", "peer", "name", &port, "netns", &br]);
        run_ok("ip", &add)?;
        run_ok(
            "ip",
            ["-n", &br, "link", "set", &port, "master", BRIDGE_IFNAME],
        )?;
        run_ok("ip", ["-n", &br, "link", "set", &port, "up"])?;
        run_ok("ip", ["-n", &ns, "link", "set", "lo", "up"])?;
        run_ok("ip", ["-n", &ns, "link", "set", NODE_IFNAME, "up"])?;
        let addrs = spec.addrs.clone().unwrap_or_else(|| {
            vec![
                AddrPrefix {
                    addr: default_ipv4(i).into(),
                    prefix: 24,
                },
                AddrPrefix {
                    addr: default_ipv6(i).into(),
                    prefix: 64,
                },
            ]
        });
        for a in &addrs {
            let s = a.to_string();
            let mut args = vec!["-n", &ns, "addr", "add", &s, "dev", NODE_IFNAME];
            if a.addr.is_ipv6() {
                args.push("nodad");
            }
            run_ok("ip", args)?;
        }
        let mac = link_mac(&ns, NODE_IFNAME)?;
        Ok(Node {
            name: spec.name.clone(),
            ns,
            port,
            mac,
            addrs,
        })
    }

    /// The node called `name`.
    ///
    /// # Panics
    /// If there is no such node (a mistake in the test).
    pub fn node(&self, name: &str) -> &Node {
        match self.try_node(name) {
            Some(n) => n,
            None => panic!("lab {}: no node {name:?}", self.base),
        }
    }

    /// The node called `name`, if any.
    pub fn try_node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// All nodes, in the order they were added.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The namespace holding the bridge.
    pub fn bridge_ns(&self) -> &str {
        &self.bridge_ns
    }

    /// All namespaces of this lab (bridge first).
    pub fn namespaces(&self) -> Vec<String> {
        self.created.clone()
    }

    /// Sets the bridge-side end of `node`'s link down or up. The node sees its `eth0` lose
    /// carrier (NO-CARRIER, operstate DOWN) like a pulled cable, while its own admin state
    /// stays up. See [`Node::set_link`] for the node-side admin state.
    pub fn set_port(&self, node: &str, up: bool) -> io::Result<()> {
        self.set_bridge_port(&self.node(node).port, &[if up { "up" } else { "down" }])
    }

    /// `ip -n BRIDGE_NS link set PORT ARGS...`.
    fn set_bridge_port(&self, port: &str, args: &[&str]) -> io::Result<()> {
        let mut argv = vec!["-n", &self.bridge_ns, "link", "set", port];
        argv.extend_from_slice(args);
        run_ok("ip", argv).map(|_| ())
    }

    /// Lets the bridge forward multicast frames between the nodes, or stops it (`false`:
    /// the bridge ports' `mcast_flood off`) while broadcast (ARP) and unicast still pass.
    /// Stopped, VRRP over multicast (224.0.0.18, ff02::12) no longer reaches the peers;
    /// unicast VRRP does.
    ///
    /// IPv6 neighbour discovery uses multicast too, so stopping it also installs permanent
    /// neighbour entries between all nodes' own addresses (not for VIPs added later); they
    /// stay when multicast is let through again, and do no harm.
    pub fn set_multicast(&self, forwarded: bool) -> io::Result<()> {
        let flood = if forwarded { "on" } else { "off" };
        for n in &self.nodes {
            self.set_bridge_port(&n.port, &["type", "bridge_slave", "mcast_flood", flood])?;
        }
        if !forwarded {
            self.static_ipv6_neighbours()?;
        }
        Ok(())
    }

    /// Every node knows every other node's IPv6 addresses without neighbour discovery.
    fn static_ipv6_neighbours(&self) -> io::Result<()> {
        for n in &self.nodes {
            for m in self.nodes.iter().filter(|m| m.name != n.name) {
                for a in m.addrs.iter().filter(|a| a.addr.is_ipv6()) {
                    run_ok(
                        "ip",
                        [
                            "-n",
                            &n.ns,
                            "-6",
                            "neigh",
                            "replace",
                            &a.addr.to_string(),
                            "lladdr",
                            &m.mac,
                            "dev",
                            NODE_IFNAME,
                            "nud",
                            "permanent",
                        ],
                    )?;
                }
            }
        }
        Ok(())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Nodes first, the bridge last.
        for ns in self.created.iter().rev() {
            remove_ns(ns);
        }
    }
}
