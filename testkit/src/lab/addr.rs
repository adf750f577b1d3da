//! Addresses in a lab: the test ranges, the defaults per node, and reading what an interface
//! has.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::process::run_ok;

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

/// The MAC node number `index` gets with [`LabBuilder::deterministic_macs`](super::LabBuilder::deterministic_macs):
/// `02:00:c6:12:00:{index+1}` (locally administered).
pub fn default_mac(index: usize) -> String {
    format!("02:00:c6:12:00:{:02x}", (index + 1) & 0xff)
}

pub(super) fn link_mac(ns: &str, ifname: &str) -> io::Result<String> {
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
