//! The fixed IPv6 header: a checked view (for captures and packet sockets; a raw IPv6
//! socket delivers the payload alone) and a writer.

use core::net::Ipv6Addr;

use crate::error::{DecodeError, IpHeaderError};

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// A read-only view of an IPv6 packet with its fixed header, checked on construction.
#[derive(Debug, Clone, Copy)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Checks the version nibble and the payload length, and wraps `buffer`.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let bytes = buffer.as_ref();
        if bytes.len() < HEADER_LEN {
            return Err(DecodeError::Truncated {
                needed: HEADER_LEN,
                available: bytes.len(),
            });
        }
        let version = bytes[0] >> 4;
        if version != 6 {
            return Err(DecodeError::IpHeader(IpHeaderError::Version(version)));
        }
        let payload_len = u16::from_be_bytes([bytes[4], bytes[5]]);
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
        self.bytes()[6]
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.bytes()[7]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        addr_at(self.bytes(), 8)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        addr_at(self.bytes(), 24)
    }

    /// The payload, up to the payload length.
    pub fn payload(&self) -> &[u8] {
        let len = usize::from(u16::from_be_bytes([self.bytes()[4], self.bytes()[5]]));
        &self.bytes()[HEADER_LEN..HEADER_LEN + len]
    }
}

fn addr_at(bytes: &[u8], at: usize) -> Ipv6Addr {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(&bytes[at..at + 16]);
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
        out[0] = 0x60 | (self.traffic_class >> 4);
        out[1] = self.traffic_class << 4;
        out[2] = 0;
        out[3] = 0;
        out[4..6].copy_from_slice(&self.payload_len.to_be_bytes());
        out[6] = self.next_header;
        out[7] = self.hop_limit;
        out[8..24].copy_from_slice(&self.src.octets());
        out[24..40].copy_from_slice(&self.dst.octets());
        Ok(HEADER_LEN)
    }
}
