//! What the driver needs to know about an interface: index, MAC, operational state and the
//! addresses it sends from.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nix::errno::Errno;
use nix::ifaddrs::getifaddrs;
use nix::net::if_::if_nametoindex;

/// Why an interface could not be looked up. The message names the interface once: callers
/// add what it was for, never the name again.
#[derive(Debug, thiserror::Error)]
pub enum InterfaceError {
    /// No interface has this name (now).
    #[error("interface {name} does not exist")]
    Missing {
        /// The name looked up.
        name: String,
    },
    /// The kernel would not tell.
    #[error("interface {name}: {source}")]
    Lookup {
        /// The name looked up.
        name: String,
        /// Why.
        source: Errno,
    },
}

/// An interface as seen at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Interface name.
    pub name: String,
    /// Kernel interface index.
    pub index: u32,
    /// Hardware address (zero for interfaces without one).
    pub mac: [u8; 6],
    /// Whether the interface is up and running (carrier present).
    pub running: bool,
    /// The first IPv4 address, the source of IPv4 adverts unless configured otherwise.
    pub primary_ipv4: Option<Ipv4Addr>,
    /// The link-local IPv6 address, the source of IPv6 adverts (RFC 5798 §5.1.2.1).
    pub link_local_ipv6: Option<Ipv6Addr>,
}

impl InterfaceInfo {
    /// Looks `name` up now.
    ///
    /// `exclude` lists addresses that are not candidates for the primary address (the
    /// virtual addresses, which may be present while we are master).
    pub fn lookup(name: &str, exclude: &[IpAddr]) -> Result<InterfaceInfo, InterfaceError> {
        let index = index_of(name)?.ok_or_else(|| InterfaceError::Missing {
            name: name.to_string(),
        })?;
        let mut info = InterfaceInfo {
            name: name.to_string(),
            index,
            mac: [0; 6],
            running: false,
            primary_ipv4: None,
            link_local_ipv6: None,
        };
        let lookup = |source| InterfaceError::Lookup {
            name: name.to_string(),
            source,
        };
        for ifa in getifaddrs().map_err(lookup)? {
            if ifa.interface_name != name {
                continue;
            }
            info.running |= ifa
                .flags
                .contains(nix::net::if_::InterfaceFlags::IFF_RUNNING)
                && ifa.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP);
            let Some(addr) = ifa.address else { continue };
            if let Some(link) = addr.as_link_addr() {
                if let Some(mac) = link.addr() {
                    info.mac = mac;
                }
            } else if let Some(v4) = addr.as_sockaddr_in() {
                let ip = v4.ip();
                if info.primary_ipv4.is_none() && !exclude.contains(&IpAddr::V4(ip)) {
                    info.primary_ipv4 = Some(ip);
                }
            } else if let Some(v6) = addr.as_sockaddr_in6() {
                let ip = v6.ip();
                if info.link_local_ipv6.is_none() && ip.is_unicast_link_local() {
                    info.link_local_ipv6 = Some(ip);
                }
            }
        }
        Ok(info)
    }

    /// Stands for interface `name` while it does not exist: index 0 (the kernel numbers
    /// interfaces from 1), no address, not running.
    pub fn absent(name: &str) -> InterfaceInfo {
        InterfaceInfo {
            name: name.to_string(),
            index: 0,
            mac: [0; 6],
            running: false,
            primary_ipv4: None,
            link_local_ipv6: None,
        }
    }

    /// Whether this is an interface that existed when looked up (not [`InterfaceInfo::absent`]).
    pub fn exists(&self) -> bool {
        self.index != 0
    }
}

/// The index of interface `name` now; `None` when there is no such interface.
pub fn index_of(name: &str) -> Result<Option<u32>, InterfaceError> {
    match if_nametoindex(name) {
        Ok(index) => Ok(Some(index)),
        // ENODEV from the ioctl behind if_nametoindex (glibc); ENXIO from some libcs.
        Err(Errno::ENODEV | Errno::ENXIO) => Ok(None),
        Err(source) => Err(InterfaceError::Lookup {
            name: name.to_string(),
            source,
        }),
    }
}
