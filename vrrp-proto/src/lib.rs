//! VRRP v2/v3 wire format: zero-copy views of received packets, an encoder into a caller's
//! buffer, both checksum forms, and the frames a new master sends (gratuitous ARP,
//! unsolicited Neighbor Advertisement). No I/O and no allocation.
//!
//! Receive: [`decode_ipv4`] (what an IPv4 raw socket delivers) or [`decode_ipv6`] (an IPv6
//! raw socket's payload plus ancillary data) checks the IP level, the VRRP header and the
//! checksum; [`ReceiveCheck::check`] then applies the instance's configuration.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use vrrp_proto::{decode_ipv4, Addresses, AdvertRepr, Auth, ChecksumScope, ReceiveCheck, Version};
//! use vrrp_proto::ipv4::Ipv4Header;
//!
//! // Encode a VRRPv2 advert with PASS authentication behind an IPv4 header...
//! let vips = [Ipv4Addr::new(198, 18, 0, 10)];
//! let advert = AdvertRepr {
//!     version: Version::V2, vrid: 51, priority: 130, interval: 1,
//!     auth: Auth::pass("halpass1"), addresses: Addresses::V4(&vips),
//! };
//! let mut packet = [0u8; 64];
//! let len = advert.emit(&mut packet[20..], ChecksumScope::Message).unwrap();
//! Ipv4Header {
//!     src: Ipv4Addr::new(198, 18, 0, 11), dst: Ipv4Addr::new(224, 0, 0, 18),
//!     protocol: 112, ttl: 255, tos: 0xc0, ident: 1, payload_len: len as u16,
//! }.emit(&mut packet).unwrap();
//!
//! // ...and receive it.
//! let rx = decode_ipv4(&packet[..20 + len]).unwrap();
//! let check = ReceiveCheck { version: Version::V2, auth: Auth::pass("halpass1"), interval: 1 };
//! check.check(&rx.advert).unwrap();
//! assert_eq!(rx.advert.priority(), 130);
//! assert_eq!(rx.advert.addresses().next(), Some(vips[0].into()));
//! ```

pub mod advert;
pub mod checksum;
mod error;
pub mod frames;
pub mod ipv4;
pub mod ipv6;
mod receive;
mod repr;

pub use advert::{AuthType, ChecksumForm, IpPair, VrrpPacket};
pub use error::{DecodeError, DropCounter, EncodeError, IpHeaderError};
pub use receive::{decode_ipv4, decode_ipv6, ReceiveCheck, Received, IP_PROTOCOL_AH};
pub use repr::{Addresses, AdvertRepr, Auth, ChecksumScope};

/// VRRP protocol version: 2 (RFC 3768) or 3 (RFC 5798 / RFC 9568).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// VRRPv2, IPv4 only, advert interval in seconds, optional PASS authentication.
    V2 = 2,
    /// VRRPv3, IPv4 and IPv6, advert interval in centiseconds, no authentication.
    V3 = 3,
}

/// Address family of the virtual addresses and of the packets that carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl Family {
    /// Bytes per address.
    pub const fn addr_len(self) -> usize {
        match self {
            Family::Ipv4 => 4,
            Family::Ipv6 => 16,
        }
    }
}

/// A big-endian 16-bit field of a header (two bytes by the field tables' construction).
pub(crate) fn be16(field: &[u8]) -> u16 {
    u16::from_be_bytes([field[0], field[1]])
}
