//! A lab: node namespaces joined by a bridge that lives in a namespace of its own.

use std::ffi::OsStr;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::process::{exec, exec_ok, run_ok, spawn, ProcessGuard};

/// The interface name of every node's link to the bridge (inside the node's namespace).
pub const NODE_IFNAME: &str = "eth0";

/// Name of the bridge device inside the bridge namespace.
pub const BRIDGE_IFNAME: &str = "br0";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// An address with its prefix length, e.g. `198.18.0.1/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrPrefix {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

impl AddrPrefix {
    /// Parses `ADDR/PREFIX` and checks that it lies in 198.18.0.0/15 or fd00:198:18::/64, the
    /// only ranges the tests may use.
    pub fn parse(s: &str) -> io::Result<AddrPrefix> {
        let bad = || io::Error::new(io::ErrorKind::InvalidInput, format!("bad address {s:?}"));
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(bad());
        }
        if !in_test_range(addr) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{s}: tests use only 198.18.0.0/15 and fd00:198:18::/64"),
            ));
        }
        Ok(AddrPrefix { addr, prefix })
    }
}

impl std::fmt::Display for AddrPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// True for addresses in 198.18.0.0/15 or fd00:198:18::/64.
pub fn in_test_range(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => {
            let o = a.octets();
            o[0] == 198 && (o[1] & 0xfe) == 18
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            s[0] == 0xfd00 && s[1] == 0x198 && s[2] == 0x18 && s[3] == 0
        }
    }
}

/// The address node number `index` (0-based) gets by default: `198.18.0.{index+1}/24`.
pub fn default_ipv4(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, u8::try_from(index + 1).unwrap_or(254))
}

/// The address node number `index` (0-based) gets by default: `fd00:198:18::{index+1}/64`.
pub fn default_ipv6(index: usize) -> Ipv6Addr {
    Ipv6Addr::new(
        0xfd00,
        0x198,
        0x18,
        0,
        0,
        0,
        0,
        u16::try_from(index + 1).unwrap_or(0xfffe),
    )
}

/// The MAC node number `index` gets with [`LabBuilder::deterministic_macs`]:
/// `02:00:c6:12:00:{index+1}` (locally administered).
pub fn default_mac(index: usize) -> String {
    format!("02:00:c6:12:00:{:02x}", (index + 1) & 0xff)
}

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
    /// was created is removed again.
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
        // The bridge namespace.
        lab.add_ns(&lab.bridge_ns.clone())?;
        let br = lab.bridge_ns.clone();
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

        for (i, spec) in self.nodes.iter().enumerate() {
            let ns = format!("{base}-{}", spec.name);
            lab.add_ns(&ns)?;
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
            let mut add = vec![
                "-n".to_owned(),
                ns.clone(),
                "link".into(),
                "add".into(),
                NODE_IFNAME.into(),
            ];
            if self.deterministic_macs {
                add.push("address".into());
                add.push(default_mac(i));
            }
            add.extend(
                ["type", "veth", "peer", "name", &port, "netns", &br]
                    .iter()
                    .map(|s| s.to_string()),
            );
            run_ok("ip", &add)?;
            run_ok(
                "ip",
                ["-n", &br, "link", "set", &port, "master", BRIDGE_IFNAME],
            )?;
            run_ok("ip", ["-n", &br, "link", "set", &port, "up"])?;
            run_ok("ip", ["-n", &ns, "link", "set", "lo", "up"])?;
            run_ok("ip", ["-n", &ns, "link", "set", NODE_IFNAME, "up"])?;
            let addrs = match &spec.addrs {
                Some(a) => a.clone(),
                None => vec![
                    AddrPrefix {
                        addr: default_ipv4(i).into(),
                        prefix: 24,
                    },
                    AddrPrefix {
                        addr: default_ipv6(i).into(),
                        prefix: 64,
                    },
                ],
            };
            for a in &addrs {
                let s = a.to_string();
                let mut args = vec!["-n", &ns, "addr", "add", &s, "dev", NODE_IFNAME];
                if a.addr.is_ipv6() {
                    args.push("nodad");
                }
                run_ok("ip", args)?;
            }
            let mac = link_mac(&ns, NODE_IFNAME)?;
            lab.nodes.push(Node {
                name: spec.name.clone(),
                ns,
                port,
                mac,
                addrs,
            });
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
        let n = self.node(node);
        run_ok(
            "ip",
            [
                "-n",
                &self.bridge_ns,
                "link",
                "set",
                &n.port,
                if up { "up" } else { "down" },
            ],
        )
        .map(|_| ())
    }

    /// Stops the bridge from forwarding any multicast frame between the nodes (the bridge
    /// ports' `mcast_flood off`), while broadcast (ARP) and unicast still pass. VRRP over
    /// multicast (224.0.0.18, ff02::12) no longer reaches the peers; unicast VRRP does.
    ///
    /// IPv6 neighbour discovery uses multicast too, so this also installs permanent
    /// neighbour entries between all nodes' own addresses (not for VIPs added later).
    pub fn block_multicast(&self) -> io::Result<()> {
        for n in &self.nodes {
            run_ok(
                "ip",
                [
                    "-n",
                    &self.bridge_ns,
                    "link",
                    "set",
                    &n.port,
                    "type",
                    "bridge_slave",
                    "mcast_flood",
                    "off",
                ],
            )?;
        }
        for n in &self.nodes {
            for m in &self.nodes {
                if n.name == m.name {
                    continue;
                }
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

    /// Undoes [`Lab::block_multicast`]'s flooding change (the static neighbours stay; they do
    /// no harm).
    pub fn unblock_multicast(&self) -> io::Result<()> {
        for n in &self.nodes {
            run_ok(
                "ip",
                [
                    "-n",
                    &self.bridge_ns,
                    "link",
                    "set",
                    &n.port,
                    "type",
                    "bridge_slave",
                    "mcast_flood",
                    "on",
                ],
            )?;
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

/// Kills every process in `ns` and deletes it. Best effort, bounded (about 2 s).
fn remove_ns(ns: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let pids = ns_pids(ns);
        if pids.is_empty() || Instant::now() >= deadline {
            break;
        }
        for p in pids {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = run_ok("ip", ["netns", "del", ns]);
}

fn ns_pids(ns: &str) -> Vec<i32> {
    run_ok("ip", ["netns", "pids", ns])
        .map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Removes namespaces left behind by test processes that no longer exist (e.g. killed by a
/// timeout before their `Drop` ran): names `tk-PREFIX-PID-N-NODE` whose PID is gone.
pub fn sweep_stale() {
    let Ok(list) = run_ok("ip", ["netns", "list"]) else {
        return;
    };
    for line in list.lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(rest) = name.strip_prefix("tk-") else {
            continue;
        };
        // PREFIX-PID-N-NODE: PID is the third field from the end.
        let fields: Vec<&str> = rest.rsplitn(4, '-').collect();
        if fields.len() != 4 {
            continue;
        }
        let Ok(pid) = fields[2].parse::<u32>() else {
            continue;
        };
        if fields[1].parse::<u32>().is_err() {
            continue;
        }
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            remove_ns(name);
        }
    }
}

fn link_mac(ns: &str, ifname: &str) -> io::Result<String> {
    let out = run_ok("ip", ["-n", ns, "-j", "link", "show", "dev", ifname])?;
    let v: serde_json::Value = serde_json::from_str(&out).map_err(io::Error::other)?;
    v.get(0)
        .and_then(|l| l.get("address"))
        .and_then(|a| a.as_str())
        .map(str::to_owned)
        .ok_or_else(|| io::Error::other(format!("no MAC for {ifname} in {ns}")))
}

/// The addresses on interface `ifname` in namespace `ns` (all families and scopes, including
/// IPv6 link-local), parsed from `ip -n NS -j addr show dev IF`.
pub fn addresses(ns: &str, ifname: &str) -> io::Result<Vec<IpAddr>> {
    let out = run_ok("ip", ["-n", ns, "-j", "addr", "show", "dev", ifname])?;
    parse_addr_json(&out)
}

/// Parses the JSON of `ip -j addr show` into the list of addresses.
pub fn parse_addr_json(json: &str) -> io::Result<Vec<IpAddr>> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(io::Error::other)?;
    let mut out = Vec::new();
    for link in v.as_array().into_iter().flatten() {
        for info in link
            .get("addr_info")
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(a) = info.get("local").and_then(|l| l.as_str()) {
                let ip: IpAddr = a
                    .parse()
                    .map_err(|_| io::Error::other(format!("bad address {a:?} in ip -j output")))?;
                out.push(ip);
            }
        }
    }
    Ok(out)
}

/// One node of a [`Lab`]: a namespace with `eth0` on the bridge.
#[derive(Debug)]
pub struct Node {
    name: String,
    ns: String,
    port: String,
    mac: String,
    addrs: Vec<AddrPrefix>,
}

impl Node {
    /// The node's name as given to the builder.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's namespace name (for `ip -n`, `ip netns exec`).
    pub fn ns(&self) -> &str {
        &self.ns
    }

    /// The node's interface on the bridge: always [`NODE_IFNAME`] (`eth0`).
    pub fn ifname(&self) -> &str {
        NODE_IFNAME
    }

    /// The name of this node's port on the bridge (in [`Lab::bridge_ns`]).
    pub fn bridge_port(&self) -> &str {
        &self.port
    }

    /// The MAC of `eth0`.
    pub fn mac(&self) -> &str {
        &self.mac
    }

    /// The addresses the lab gave `eth0`, with prefixes.
    pub fn addrs(&self) -> &[AddrPrefix] {
        &self.addrs
    }

    /// The first IPv4 address the lab gave this node.
    ///
    /// # Panics
    /// If the node has none (built with [`LabBuilder::node_with_addrs`] without one).
    pub fn ipv4(&self) -> Ipv4Addr {
        for a in &self.addrs {
            if let IpAddr::V4(v4) = a.addr {
                return v4;
            }
        }
        panic!("node {} has no IPv4 address", self.name)
    }

    /// The first IPv6 address the lab gave this node.
    ///
    /// # Panics
    /// If the node has none.
    pub fn ipv6(&self) -> Ipv6Addr {
        for a in &self.addrs {
            if let IpAddr::V6(v6) = a.addr {
                return v6;
            }
        }
        panic!("node {} has no IPv6 address", self.name)
    }

    /// [`crate::exec`] in this node's namespace.
    pub fn exec<I, S>(&self, argv: I) -> io::Result<std::process::Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        exec(&self.ns, argv)
    }

    /// [`crate::exec_ok`] in this node's namespace.
    pub fn exec_ok<I, S>(&self, argv: I) -> io::Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        exec_ok(&self.ns, argv)
    }

    /// [`crate::spawn`] in this node's namespace.
    pub fn spawn<I, S>(&self, argv: I) -> io::Result<ProcessGuard>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        spawn(&self.ns, argv)
    }

    /// Current addresses on `eth0` (see [`addresses`]).
    pub fn addresses(&self) -> io::Result<Vec<IpAddr>> {
        addresses(&self.ns, NODE_IFNAME)
    }

    /// True if `addr` is currently on `eth0`. Errors (e.g. namespace gone) count as false.
    pub fn has_address(&self, addr: IpAddr) -> bool {
        self.addresses().map(|a| a.contains(&addr)).unwrap_or(false)
    }

    /// Sets this node's `eth0` administratively down or up (`ip link set eth0 down`), as an
    /// operator would; the bridge end loses carrier too. Addresses on a downed interface stay
    /// configured (the lab sets `keep_addr_on_down` for IPv6). See also [`Lab::set_port`].
    pub fn set_link(&self, up: bool) -> io::Result<()> {
        run_ok(
            "ip",
            [
                "-n",
                &self.ns,
                "link",
                "set",
                NODE_IFNAME,
                if up { "up" } else { "down" },
            ],
        )
        .map(|_| ())
    }

    /// Runs `f` on a thread that has entered this node's network namespace, so sockets it
    /// creates live there. See [`crate::in_netns`].
    pub fn run_in<T, F>(&self, f: F) -> io::Result<T>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        crate::in_netns(&self.ns, f)
    }
}
