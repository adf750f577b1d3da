//! The IPv4 header in front of a received advertisement: a checked, zero-copy view, and a
//! writer for tests and for sockets that send with `IP_HDRINCL`.

use core::net::Ipv4Addr;

use crate::checksum;
use crate::error::{DecodeError, IpHeaderError};

/// The minimum IPv4 header length in bytes (IHL 5).
pub const MIN_HEADER_LEN: usize = 20;

/// A read-only view of an IPv4 packet, checked on construction.
///
/// Any IHL is accepted (options are skipped, never interpreted): a receiver must find the
/// VRRP message after the options, whatever they are.
///
/// ```
/// use vrrp_proto::ipv4::Ipv4Packet;
/// let bytes = [
///     0x45, 0xc0, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0x14, 0x7d, 0xc6, 0x12,
///     0x00, 0x0b, 0xe0, 0x00, 0x00, 0x12, 0x31, 0x33, 0x82, 0x01, 0x00, 0x0a, 0xdf, 0xf7,
///     0xc6, 0x12, 0x00, 0x0a,
/// ];
/// let ip = Ipv4Packet::new_checked(&bytes[..]).unwrap();
/// assert_eq!(ip.ttl(), 255);
/// assert_eq!(ip.protocol(), 112);
/// assert_eq!(ip.payload().len(), 12);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Checks the version nibble, IHL, total length and fragmentation, and wraps `buffer`.
    ///
    /// Bytes past the total length (link-layer padding) are ignored.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let bytes = buffer.as_ref();
        if bytes.len() < MIN_HEADER_LEN {
            return Err(DecodeError::Truncated {
                needed: MIN_HEADER_LEN,
                available: bytes.len(),
            });
        }
        let version = bytes[0] >> 4;
        if version != 4 {
            return Err(DecodeError::IpHeader(IpHeaderError::Version(version)));
        }
        let ihl = bytes[0] & 0x0f;
        let header_len = usize::from(ihl) * 4;
        if header_len < MIN_HEADER_LEN || header_len > bytes.len() {
            return Err(DecodeError::IpHeader(IpHeaderError::HeaderLength(ihl)));
        }
        let total = u16::from_be_bytes([bytes[2], bytes[3]]);
        if usize::from(total) < header_len || usize::from(total) > bytes.len() {
            return Err(DecodeError::IpHeader(IpHeaderError::TotalLength(total)));
        }
        // More-fragments flag or a non-zero offset: a piece of a larger datagram.
        if u16::from_be_bytes([bytes[6], bytes[7]]) & 0x3fff != 0 {
            return Err(DecodeError::IpHeader(IpHeaderError::Fragmented));
        }
        Ok(Ipv4Packet { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.bytes()[0] & 0x0f) * 4
    }

    /// Total length field: header plus payload.
    pub fn total_len(&self) -> usize {
        usize::from(u16::from_be_bytes([self.bytes()[2], self.bytes()[3]]))
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.bytes()[8]
    }

    /// Protocol number of the payload (112 for VRRP, 51 for AH).
    pub fn protocol(&self) -> u8 {
        self.bytes()[9]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = self.bytes();
        Ipv4Addr::new(b[12], b[13], b[14], b[15])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = self.bytes();
        Ipv4Addr::new(b[16], b[17], b[18], b[19])
    }

    /// Whether the header checksum is correct.
    pub fn verify_header_checksum(&self) -> bool {
        checksum::of(&self.bytes()[..self.header_len()]) == 0
    }

    /// The payload: the bytes after the header, up to the total length.
    pub fn payload(&self) -> &[u8] {
        &self.bytes()[self.header_len()..self.total_len()]
    }
}

/// The fields of an IPv4 header without options, for [`Ipv4Header::emit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Protocol number of the payload.
    pub protocol: u8,
    /// Time to live (255 for VRRP).
    pub ttl: u8,
    /// Type of service byte (keepalived sends 0xc0, internetwork control).
    pub tos: u8,
    /// Identification field.
    pub ident: u16,
    /// Length of the payload that follows the header.
    pub payload_len: u16,
}

impl Ipv4Header {
    /// Writes the 20-byte header with its checksum into `buf[..20]`; returns 20.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, crate::EncodeError> {
        let Some(out) = buf.get_mut(..MIN_HEADER_LEN) else {
            return Err(crate::EncodeError::BufferTooSmall {
                needed: MIN_HEADER_LEN,
                available: buf.len(),
            });
        };
        let total = (MIN_HEADER_LEN as u16).saturating_add(self.payload_len);
        out[0] = 0x45;
        out[1] = self.tos;
        out[2..4].copy_from_slice(&total.to_be_bytes());
        out[4..6].copy_from_slice(&self.ident.to_be_bytes());
        out[6..8].copy_from_slice(&[0, 0]);
        out[8] = self.ttl;
        out[9] = self.protocol;
        out[10..12].copy_from_slice(&[0, 0]);
        out[12..16].copy_from_slice(&self.src.octets());
        out[16..20].copy_from_slice(&self.dst.octets());
        let sum = checksum::of(out);
        out[10..12].copy_from_slice(&sum.to_be_bytes());
        Ok(MIN_HEADER_LEN)
    }
}

/// Skips an IPsec AH header (RFC 4302) in front of a VRRPv2 message, as keepalived's
/// `auth_type AH` sends. Returns the next-header value and the bytes after the AH header.
///
/// The integrity check value is not verified here.
pub fn skip_ah(payload: &[u8]) -> Result<(u8, &[u8]), DecodeError> {
    if payload.len() < 12 {
        return Err(DecodeError::Truncated {
            needed: 12,
            available: payload.len(),
        });
    }
    // AH length field: in 32-bit words, minus 2.
    let ah_len = (usize::from(payload[1]) + 2) * 4;
    match payload.get(ah_len..) {
        Some(rest) => Ok((payload[0], rest)),
        None => Err(DecodeError::Truncated {
            needed: ah_len,
            available: payload.len(),
        }),
    }
}
