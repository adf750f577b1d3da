//! Test support for network tests: labs of network namespaces on a bridge, commands and
//! processes inside them, packet captures, and the real keepalived as a peer.
//!
//! Everything a test creates is removed when the owning value is dropped, also on panic.
//! Addresses come only from 198.18.0.0/15 and fd00:198:18::/64; the host's own namespace is
//! never touched.
//!
//! ```no_run
//! use std::time::Duration;
//! use testkit::{keepalived, wait_until, KeepalivedConf, Lab, Signal, VrrpInstance};
//!
//! # fn main() -> std::io::Result<()> {
//! if !testkit::require_root("failover") {
//!     return Ok(());
//! }
//! let lab = Lab::builder("failover").node("a").node("b").build()?;
//! let vip: std::net::IpAddr = "198.18.0.100".parse().expect("literal");
//! let conf = |prio| {
//!     let mut i = VrrpInstance::new("VI_1", "eth0", 51, prio);
//!     i.vips.push("198.18.0.100/24".into());
//!     KeepalivedConf { instances: vec![i], ..Default::default() }.render()
//! };
//! let mut a = keepalived(lab.node("a").ns(), &conf(110))?;
//! let _b = keepalived(lab.node("b").ns(), &conf(100))?;
//! wait_until(Duration::from_secs(6), Duration::from_millis(20), || lab.node("a").has_address(vip))
//!     .expect("a becomes master");
//! a.signal_group(Signal::SIGKILL)?;
//! wait_until(Duration::from_secs(6), Duration::from_millis(20), || lab.node("b").has_address(vip))
//!     .expect("b takes over");
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod capture;
mod keepalived;
mod lab;
mod process;

use std::io;
use std::time::{Duration, Instant};

pub use capture::{read_pcap, Capture, Frame, Pcap};
pub use keepalived::{
    keepalived, keepalived_conf_path, keepalived_vrrp_pid, vrrpd, KeepalivedConf, VrrpInstance,
};
pub use lab::{
    addresses, default_ipv4, default_ipv6, default_mac, in_test_range, parse_addr_json,
    sweep_stale, AddrPrefix, Lab, LabBuilder, Node, BRIDGE_IFNAME, NODE_IFNAME,
};
pub use process::{exec, exec_ok, spawn, ProcessGuard, Signal};

/// True if the test may go on: we are root. Otherwise, if the environment variable `CI` is
/// `true` this panics (CI must run the network tests), else it prints
/// `SKIPPED: <test_name>: needs root` to stderr and returns false.
///
/// # Panics
/// Without root when `CI=true`.
pub fn require_root(test_name: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test_name}: needs root to create network namespaces (CI=true, so not skipping)");
    }
    eprintln!("SKIPPED: {test_name}: needs root");
    false
}

/// The condition of [`wait_until`] did not become true in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut {
    /// How long was waited.
    pub waited: Duration,
}

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "condition not met after {:?}", self.waited)
    }
}

impl std::error::Error for TimedOut {}

/// Calls `cond` every `poll_every` until it returns true or `timeout` has passed. Returns
/// how long it took (`Ok`), or [`TimedOut`]. `cond` is always called at least once, and once
/// more at the deadline.
pub fn wait_until<F>(
    timeout: Duration,
    poll_every: Duration,
    mut cond: F,
) -> Result<Duration, TimedOut>
where
    F: FnMut() -> bool,
{
    let start = Instant::now();
    let deadline = start + timeout;
    loop {
        if cond() {
            return Ok(start.elapsed());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(TimedOut {
                waited: start.elapsed(),
            });
        }
        std::thread::sleep(poll_every.min(deadline - now));
    }
}

/// Runs `f` on a new thread that has entered network namespace `ns` (`/run/netns/NS`) and
/// returns its result. Sockets created there stay in that namespace. A panic in `f` is
/// propagated.
pub fn in_netns<T, F>(ns: &str, f: F) -> io::Result<T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    let file = std::fs::File::open(format!("/run/netns/{ns}"))?;
    std::thread::scope(|s| {
        let h = s.spawn(move || -> io::Result<T> {
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(io::Error::from)?;
            Ok(f())
        });
        match h.join() {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}
