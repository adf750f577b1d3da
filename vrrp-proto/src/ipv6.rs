//! The fixed IPv6 header: a checked view (for captures and packet sockets; a raw IPv6
//! socket delivers the payload alone) and a writer.

use core::net::Ipv6Addr;

use nom::bytes::complete::take;
use nom::number::complete::{be_u16, be_u32};
use nom::{IResult, Parser};

use crate::be16;
use crate::error::{DecodeError, IpHeaderError};

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// Where each field of the fixed header sits (RFC 8200 §3), named once.
mod field {
    /// A run of bytes.
    pub type Field = core::ops::Range<usize>;

    /// Version (4 bits), traffic class (8), flow label (20).
    pub const VER_TC_FLOW: Field = 0..4;
    /// Payload length.
    pub const LENGTH: Field = 4..6;
    /// Next header.
    pub const NEXT_HEADER: usize = 6;
    /// Hop limit.
    pub const HOP_LIMIT: usize = 7;
    /// Source address.
    pub const SRC_ADDR: Field = 8..24;
    /// Destination address.
    pub const DST_ADDR: Field = 24..40;
}

/// The fields of the fixed header a receiver checks, as nom reads them: the first word
/// (version, traffic class, flow label) and the payload length; the others are taken whole,
/// read later by the getters.
fn fixed_header(input: &[u8]) -> IResult<&[u8], (u32, u16)> {
    let (rest, (first, length, _next_hops_addrs)) = (
        be_u32,
        be_u16,
        // Next header, hop limit, source, destination.
        take(HEADER_LEN - field::LENGTH.end),
    )
        .parse(input)?;
    Ok((rest, (first, length)))
}

/// A read-only view of an IPv6 packet with its fixed header, checked on construction.
#[derive(Debug, Clone, Copy)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Checks the version nibble and the payload length, and wraps `buffer`.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let bytes = buffer.as_ref();
        let Ok((_, (first, payload_len))) = fixed_header(bytes) else {
            return Err(DecodeError::Truncated {
                needed: HEADER_LEN,
                available: bytes.len(),
            });
        };
        let version = (first >> 28) as u8;
        if version != 6 {
            return Err(DecodeError::IpHeader(IpHeaderError::Version(version)));
        }
        if HEADER_LEN + usize::from(payload_len) > bytes.len() {
            return Err(DecodeError::IpHeader(IpHeaderError::TotalLength(
                payload_len,
            )));
        }
        Ok(Ipv6Packet { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Next header (112 for VRRP, 58 for ICMPv6).
    pub fn next_header(&self) -> u8 {
        self.bytes()[field::NEXT_HEADER]
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.bytes()[field::HOP_LIMIT]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        addr(&self.bytes()[field::SRC_ADDR])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        addr(&self.bytes()[field::DST_ADDR])
    }

    /// The payload, up to the payload length.
    pub fn payload(&self) -> &[u8] {
        let len = usize::from(be16(&self.bytes()[field::LENGTH]));
        &self.bytes()[HEADER_LEN..HEADER_LEN + len]
    }
}

/// A 16-byte address field.
fn addr(field: &[u8]) -> Ipv6Addr {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(field);
    Ipv6Addr::from(octets)
}

/// The fields of a fixed IPv6 header, for [`Ipv6Header::emit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Header {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Next header.
    pub next_header: u8,
    /// Hop limit (255 for VRRP and neighbour discovery).
    pub hop_limit: u8,
    /// Traffic class (keepalived sends 0xc0).
    pub traffic_class: u8,
    /// Length of the payload that follows.
    pub payload_len: u16,
}

impl Ipv6Header {
    /// Writes the 40-byte header into `buf[..40]`; returns 40.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, crate::EncodeError> {
        let Some(out) = buf.get_mut(..HEADER_LEN) else {
            return Err(crate::EncodeError::BufferTooSmall {
                needed: HEADER_LEN,
                available: buf.len(),
            });
        };
        // Version 6, then the traffic class across the nibble boundary, flow label 0.
        let first = (6u32 << 28) | (u32::from(self.traffic_class) << 20);
        out[field::VER_TC_FLOW].copy_from_slice(&first.to_be_bytes());
        out[field::LENGTH].copy_from_slice(&self.payload_len.to_be_bytes());
        out[field::NEXT_HEADER] = self.next_header;
        out[field::HOP_LIMIT] = self.hop_limit;
        out[field::SRC_ADDR].copy_from_slice(&self.src.octets());
        out[field::DST_ADDR].copy_from_slice(&self.dst.octets());
        Ok(HEADER_LEN)
    }
}
