//! One node of a lab: its namespace, interface, addresses, and commands run in it.

use std::ffi::OsStr;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::process::{exec, exec_ok, run_ok, spawn, ProcessGuard};

use super::addr::{addresses, AddrPrefix};
use super::NODE_IFNAME;

/// One node of a [`Lab`](super::Lab): a namespace with `eth0` on the bridge.
#[derive(Debug)]
pub struct Node {
    pub(super) name: String,
    pub(super) ns: String,
    pub(super) port: String,
    pub(super) mac: String,
    pub(super) addrs: Vec<AddrPrefix>,
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

    /// The name of this node's port on the bridge (in [`Lab::bridge_ns`](super::Lab::bridge_ns)).
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
    /// If the node has none (built with [`LabBuilder::node_with_addrs`](super::LabBuilder::node_with_addrs) without one).
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
    /// configured (the lab sets `keep_addr_on_down` for IPv6). See also [`Lab::set_port`](super::Lab::set_port).
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
