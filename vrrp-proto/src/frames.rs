//! Frames a new master sends so that switches and neighbours learn where the virtual
//! addresses live: gratuitous ARP for IPv4, unsolicited Neighbor Advertisement for IPv6.
//! Both are whole Ethernet frames, for an `AF_PACKET` socket.

use core::net::{Ipv4Addr, Ipv6Addr};

use crate::checksum;
use crate::error::EncodeError;
use crate::ipv6::Ipv6Header;
use crate::Family;

/// An Ethernet MAC address.
pub type MacAddr = [u8; 6];

/// Length of an Ethernet header (no VLAN tag).
pub const ETHERNET_HEADER_LEN: usize = 14;
/// Length of a gratuitous ARP frame (before link-layer padding).
pub const GARP_FRAME_LEN: usize = ETHERNET_HEADER_LEN + 28;
/// Length of an unsolicited Neighbor Advertisement frame with a target link-layer option.
pub const UNSOLICITED_NA_FRAME_LEN: usize = ETHERNET_HEADER_LEN + crate::ipv6::HEADER_LEN + 32;

const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const BROADCAST: MacAddr = [0xff; 6];
/// ff02::1, all nodes.
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
const ICMPV6: u8 = 58;
const ND_NEIGHBOR_ADVERT: u8 = 136;

/// The VRRP virtual MAC of a virtual router: 00-00-5E-00-01-{VRID} for IPv4,
/// 00-00-5E-00-02-{VRID} for IPv6 (RFC 5798 §7.3).
///
/// ```
/// use vrrp_proto::{frames::virtual_mac, Family};
/// assert_eq!(virtual_mac(Family::Ipv4, 51), [0x00, 0x00, 0x5e, 0x00, 0x01, 51]);
/// assert_eq!(virtual_mac(Family::Ipv6, 51), [0x00, 0x00, 0x5e, 0x00, 0x02, 51]);
/// ```
pub const fn virtual_mac(family: Family, vrid: u8) -> MacAddr {
    let kind = match family {
        Family::Ipv4 => 0x01,
        Family::Ipv6 => 0x02,
    };
    [0x00, 0x00, 0x5e, 0x00, kind, vrid]
}

/// Where each field of the frames sits, named once: the Ethernet header (IEEE 802.3), the
/// ARP packet after it (RFC 826), the Neighbor Advertisement after the IPv6 header (RFC 4861
/// §4.4) with its target link-layer address option (§4.6.1).
mod field {
    /// A run of bytes.
    pub type Field = core::ops::Range<usize>;

    /// Ethernet destination MAC.
    pub const ETH_DST: Field = 0..6;
    /// Ethernet source MAC.
    pub const ETH_SRC: Field = 6..12;
    /// Ethertype.
    pub const ETH_TYPE: Field = 12..14;

    /// ARP hardware type.
    pub const ARP_HTYPE: Field = 0..2;
    /// ARP protocol type.
    pub const ARP_PTYPE: Field = 2..4;
    /// ARP hardware address length.
    pub const ARP_HLEN: usize = 4;
    /// ARP protocol address length.
    pub const ARP_PLEN: usize = 5;
    /// ARP operation.
    pub const ARP_OPER: Field = 6..8;
    /// ARP sender hardware address.
    pub const ARP_SHA: Field = 8..14;
    /// ARP sender protocol address.
    pub const ARP_SPA: Field = 14..18;
    /// ARP target hardware address.
    pub const ARP_THA: Field = 18..24;
    /// ARP target protocol address.
    pub const ARP_TPA: Field = 24..28;

    /// ICMPv6 type.
    pub const NA_TYPE: usize = 0;
    /// ICMPv6 code.
    pub const NA_CODE: usize = 1;
    /// ICMPv6 checksum.
    pub const NA_CHECKSUM: Field = 2..4;
    /// Router, Solicited, Override flags (top bits), then reserved.
    pub const NA_FLAGS: Field = 4..8;
    /// Target address.
    pub const NA_TARGET: Field = 8..24;
    /// Option type.
    pub const NA_OPT_TYPE: usize = 24;
    /// Option length in units of 8 bytes.
    pub const NA_OPT_LEN: usize = 25;
    /// Option: the target's link-layer address.
    pub const NA_OPT_MAC: Field = 26..32;
}

fn frame<const N: usize>(buf: &mut [u8]) -> Result<&mut [u8], EncodeError> {
    let available = buf.len();
    buf.get_mut(..N).ok_or(EncodeError::BufferTooSmall {
        needed: N,
        available,
    })
}

fn ethernet(out: &mut [u8], dst: MacAddr, src: MacAddr, ethertype: u16) {
    out[field::ETH_DST].copy_from_slice(&dst);
    out[field::ETH_SRC].copy_from_slice(&src);
    out[field::ETH_TYPE].copy_from_slice(&ethertype.to_be_bytes());
}

/// Writes a gratuitous ARP for `addr` from `src_mac`: a broadcast ARP request whose sender
/// and target protocol addresses are both `addr`, as keepalived sends; returns the length.
///
/// `src_mac` is the interface's MAC, or the virtual MAC from [`virtual_mac`] when the
/// instance uses one.
pub fn emit_gratuitous_arp(
    buf: &mut [u8],
    src_mac: MacAddr,
    addr: Ipv4Addr,
) -> Result<usize, EncodeError> {
    let out = frame::<GARP_FRAME_LEN>(buf)?;
    ethernet(out, BROADCAST, src_mac, ETHERTYPE_ARP);
    let arp = &mut out[ETHERNET_HEADER_LEN..];
    arp[field::ARP_HTYPE].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    arp[field::ARP_PTYPE].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    arp[field::ARP_HLEN] = 6;
    arp[field::ARP_PLEN] = 4;
    arp[field::ARP_OPER].copy_from_slice(&1u16.to_be_bytes()); // request
    arp[field::ARP_SHA].copy_from_slice(&src_mac);
    arp[field::ARP_SPA].copy_from_slice(&addr.octets());
    arp[field::ARP_THA].copy_from_slice(&BROADCAST);
    arp[field::ARP_TPA].copy_from_slice(&addr.octets());
    Ok(GARP_FRAME_LEN)
}

/// Writes an unsolicited Neighbor Advertisement (RFC 4861 §7.2.6) for `target` to ff02::1,
/// with the Override flag, the Router flag when `router`, and a target link-layer address
/// option carrying `src_mac`; returns the length.
///
/// `src_ip` is the source of the IPv6 packet: an address of the interface (keepalived uses
/// the link-local one).
pub fn emit_unsolicited_na(
    buf: &mut [u8],
    src_mac: MacAddr,
    src_ip: Ipv6Addr,
    target: Ipv6Addr,
    router: bool,
) -> Result<usize, EncodeError> {
    const ICMP_LEN: u16 = 32;
    let out = frame::<UNSOLICITED_NA_FRAME_LEN>(buf)?;
    // 33:33 followed by the low 32 bits of ff02::1.
    ethernet(out, [0x33, 0x33, 0, 0, 0, 1], src_mac, ETHERTYPE_IPV6);
    Ipv6Header {
        src: src_ip,
        dst: ALL_NODES,
        next_header: ICMPV6,
        hop_limit: 255,
        traffic_class: 0,
        payload_len: ICMP_LEN,
    }
    .emit(&mut out[ETHERNET_HEADER_LEN..])?;
    let icmp = &mut out[ETHERNET_HEADER_LEN + crate::ipv6::HEADER_LEN..];
    icmp[field::NA_TYPE] = ND_NEIGHBOR_ADVERT;
    icmp[field::NA_CODE] = 0;
    icmp[field::NA_CHECKSUM].fill(0);
    // R (router), S (solicited, never here), O (override).
    let flags: u32 = if router { 0xa000_0000 } else { 0x2000_0000 };
    icmp[field::NA_FLAGS].copy_from_slice(&flags.to_be_bytes());
    icmp[field::NA_TARGET].copy_from_slice(&target.octets());
    icmp[field::NA_OPT_TYPE] = 2; // target link-layer address
    icmp[field::NA_OPT_LEN] = 1;
    icmp[field::NA_OPT_MAC].copy_from_slice(&src_mac);
    let pseudo = checksum::ipv6_pseudo_header(src_ip, ALL_NODES, ICMPV6, u32::from(ICMP_LEN));
    let sum = checksum::finish(checksum::sum_words(icmp, pseudo));
    icmp[field::NA_CHECKSUM].copy_from_slice(&sum.to_be_bytes());
    Ok(UNSOLICITED_NA_FRAME_LEN)
}
