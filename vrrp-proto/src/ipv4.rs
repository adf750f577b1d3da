//! The IPv4 header in front of a received advertisement: a checked, zero-copy view, and a
//! writer for tests and for sockets that send with `IP_HDRINCL`.

use core::net::Ipv4Addr;

use nom::bytes::complete::take;
use nom::number::complete::{be_u32, be_u8};
use nom::{IResult, Parser};

use crate::error::{DecodeError, IpHeaderError};
use crate::{be16, checksum};

/// The minimum IPv4 header length in bytes (IHL 5).
pub const MIN_HEADER_LEN: usize = 20;

/// Where each field of the IPv4 header sits (RFC 791 §3.1), named once.
mod field {
    /// A run of bytes.
    pub type Field = core::ops::Range<usize>;

    /// Version (high nibble) and IHL (low nibble, in 32-bit words).
    pub const VER_IHL: usize = 0;
    /// Type of service.
    pub const TOS: usize = 1;
    /// Total length: header and payload.
    pub const LENGTH: Field = 2..4;
    /// Identification.
    pub const IDENT: Field = 4..6;
    /// Flags (3 bits) and fragment offset (13 bits).
    pub const FLG_OFF: Field = 6..8;
    /// Time to live.
    pub const TTL: usize = 8;
    /// Protocol of the payload.
    pub const PROTOCOL: usize = 9;
    /// Header checksum.
    pub const CHECKSUM: Field = 10..12;
    /// Source address.
    pub const SRC_ADDR: Field = 12..16;
    /// Destination address.
    pub const DST_ADDR: Field = 16..20;
}

/// More-fragments flag and fragment offset: a piece of a larger datagram when any is set.
const FRAGMENT_MASK: u16 = 0x3fff;

/// The fields of the fixed header a receiver checks, as nom reads them: version and IHL,
/// total length, flags and fragment offset. nom reads the first two of the header's 32-bit
/// rows as RFC 791 §3.1 draws them (version, IHL, TOS, total length; identification, flags,
/// fragment offset) and takes the other three whole; the getters read those.
fn fixed_header(input: &[u8]) -> IResult<&[u8], (u8, u16, u16)> {
    let (rest, (row0, row1, _ttl_to_dst)) =
        (be_u32, be_u32, take(MIN_HEADER_LEN - field::FLG_OFF.end)).parse(input)?;
    let [ver_ihl, _tos, _, _] = row0.to_be_bytes();
    // The low halves: total length, and flags with fragment offset.
    Ok((rest, (ver_ihl, row0 as u16, row1 as u16)))
}

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
        let Ok((_, (ver_ihl, total, flg_off))) = fixed_header(bytes) else {
            return Err(DecodeError::Truncated {
                needed: MIN_HEADER_LEN,
                available: bytes.len(),
            });
        };
        let version = ver_ihl >> 4;
        if version != 4 {
            return Err(DecodeError::IpHeader(IpHeaderError::Version(version)));
        }
        let ihl = ver_ihl & 0x0f;
        let header_len = usize::from(ihl) * 4;
        if header_len < MIN_HEADER_LEN || header_len > bytes.len() {
            return Err(DecodeError::IpHeader(IpHeaderError::HeaderLength(ihl)));
        }
        if usize::from(total) < header_len || usize::from(total) > bytes.len() {
            return Err(DecodeError::IpHeader(IpHeaderError::TotalLength(total)));
        }
        if flg_off & FRAGMENT_MASK != 0 {
            return Err(DecodeError::IpHeader(IpHeaderError::Fragmented));
        }
        Ok(Ipv4Packet { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.bytes()[field::VER_IHL] & 0x0f) * 4
    }

    /// Total length field: header plus payload.
    pub fn total_len(&self) -> usize {
        usize::from(be16(&self.bytes()[field::LENGTH]))
    }

    /// Type of service.
    pub fn tos(&self) -> u8 {
        self.bytes()[field::TOS]
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        be16(&self.bytes()[field::IDENT])
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.bytes()[field::TTL]
    }

    /// Protocol number of the payload (112 for VRRP, 51 for AH).
    pub fn protocol(&self) -> u8 {
        self.bytes()[field::PROTOCOL]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        addr(&self.bytes()[field::SRC_ADDR])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        addr(&self.bytes()[field::DST_ADDR])
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
        out[field::VER_IHL] = 0x45; // version 4, IHL 5: no options
        out[field::TOS] = self.tos;
        out[field::LENGTH].copy_from_slice(&total.to_be_bytes());
        out[field::IDENT].copy_from_slice(&self.ident.to_be_bytes());
        out[field::FLG_OFF].fill(0);
        out[field::TTL] = self.ttl;
        out[field::PROTOCOL] = self.protocol;
        out[field::CHECKSUM].fill(0);
        out[field::SRC_ADDR].copy_from_slice(&self.src.octets());
        out[field::DST_ADDR].copy_from_slice(&self.dst.octets());
        let sum = checksum::of(out);
        out[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
        Ok(MIN_HEADER_LEN)
    }
}

/// A 4-byte address field.
fn addr(field: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(field[0], field[1], field[2], field[3])
}

/// The fixed part of an AH header (RFC 4302 §2): next header, payload length, reserved,
/// SPI, sequence number.
const AH_FIXED_LEN: usize = 12;

/// Skips an IPsec AH header (RFC 4302) in front of a VRRPv2 message, as keepalived's
/// `auth_type AH` sends. Returns the next-header value and the bytes after the AH header.
///
/// The integrity check value is not verified here.
pub fn skip_ah(payload: &[u8]) -> Result<(u8, &[u8]), DecodeError> {
    let parsed: IResult<&[u8], (u8, u8)> = (be_u8, be_u8, take(AH_FIXED_LEN - 2))
        .map(|(next, len, _)| (next, len))
        .parse(payload);
    let Ok((_, (next_header, ah_words))) = parsed else {
        return Err(DecodeError::Truncated {
            needed: AH_FIXED_LEN,
            available: payload.len(),
        });
    };
    // AH's length field: the header's length in 32-bit words, minus 2 (RFC 4302 §2.2).
    let ah_len = (usize::from(ah_words) + 2) * 4;
    match take::<_, _, nom::error::Error<&[u8]>>(ah_len).parse(payload) {
        Ok((rest, _)) => Ok((next_header, rest)),
        Err(_) => Err(DecodeError::Truncated {
            needed: ah_len,
            available: payload.len(),
        }),
    }
}
