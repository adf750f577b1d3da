//! The VRRP advertisement: a zero-copy view over received bytes, with its checksum check.
//!
//! Layout (RFC 3768 §5.1, RFC 9568 §5.1); the first 8 bytes are common, the meaning of bytes
//! 5..6 differs:
//!
//! ```text
//!  0                   1                   2                   3
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IPvX Addr|
//! v2: | Auth Type | Adver Int (s) |            Checksum            |
//! v3: |(rsvd)|  Max Adver Int (cs)|            Checksum            |
//! |          IPvX address(es): 4 or 16 bytes each                  |
//! v2 only: |       Authentication Data (8 bytes)                   |
//! ```

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nom::combinator::{rest_len, verify};
use nom::number::complete::{be_u16, be_u8};
use nom::{IResult, Parser};

use crate::error::DecodeError;
use crate::{be16, checksum};
use crate::{Family, Version};

/// Length of the fixed VRRP header.
pub const HEADER_LEN: usize = field::CHECKSUM.end;
/// Length of the VRRPv2 authentication data that follows the addresses.
pub const AUTH_DATA_LEN: usize = 8;
/// IP protocol number of VRRP.
pub const IP_PROTOCOL: u8 = 112;
/// The only VRRP message type: ADVERTISEMENT.
pub const TYPE_ADVERTISEMENT: u8 = 1;

/// The VRRPv2 authentication type field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthType {
    /// 0: no authentication.
    None,
    /// 1: simple text password (keepalived `auth_type PASS`).
    Pass,
    /// 2: IPsec AH (keepalived `auth_type AH`); the VRRP message sits behind an AH header.
    Ah,
}

impl AuthType {
    /// The wire value.
    pub const fn to_u8(self) -> u8 {
        match self {
            AuthType::None => 0,
            AuthType::Pass => 1,
            AuthType::Ah => 2,
        }
    }

    /// Parses the wire value.
    pub const fn from_u8(value: u8) -> Option<AuthType> {
        match value {
            0 => Some(AuthType::None),
            1 => Some(AuthType::Pass),
            2 => Some(AuthType::Ah),
            _ => None,
        }
    }
}

/// The length of an advertisement of `version` carrying `count` addresses of `family`.
pub const fn message_len(version: Version, family: Family, count: usize) -> usize {
    let auth = match version {
        Version::V2 => AUTH_DATA_LEN,
        Version::V3 => 0,
    };
    HEADER_LEN + count * family.addr_len() + auth
}

/// The addresses a checksum pseudo-header is built from: those of the enclosing IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpPair {
    /// IPv4 source and destination.
    V4 {
        /// Source.
        src: Ipv4Addr,
        /// Destination.
        dst: Ipv4Addr,
    },
    /// IPv6 source and destination.
    V6 {
        /// Source.
        src: Ipv6Addr,
        /// Destination.
        dst: Ipv6Addr,
    },
}

/// Which form of checksum a received advertisement carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumForm {
    /// Over the VRRP message alone: v2, and v3 over IPv4 per RFC 9568 (keepalived's
    /// `v3_checksum_as_v2`).
    Message,
    /// v3 over IPv4 with an IPv4 pseudo-header: keepalived's default, FRR and Wireshark.
    Ipv4PseudoHeader,
    /// v3 over IPv6 with the IPv6 pseudo-header (the only form for IPv6).
    Ipv6PseudoHeader,
}

/// Where each field of the advertisement sits, named once (RFC 3768 §5.1, RFC 9568 §5.1);
/// the getters and setters of [`VrrpPacket`] read and write through these.
mod field {
    /// A run of bytes.
    pub type Field = core::ops::Range<usize>;

    /// Version (high nibble) and Type (low nibble).
    pub const VER_TYPE: usize = 0;
    /// Virtual Rtr ID.
    pub const VRID: usize = 1;
    /// Priority.
    pub const PRIORITY: usize = 2;
    /// Count IPvX Addr.
    pub const COUNT: usize = 3;
    /// v2: Auth Type.
    pub const AUTH_TYPE: usize = 4;
    /// v2: Adver Int, whole seconds.
    pub const ADVER_INT: usize = 5;
    /// v3: 4 reserved bits, then the 12-bit Max Adver Int in centiseconds.
    pub const MAX_ADVER_INT: Field = 4..6;
    /// Checksum.
    pub const CHECKSUM: Field = 6..8;

    /// The addresses: `count` of them, `addr_len` bytes each, after the fixed header.
    pub const fn addresses(count: usize, addr_len: usize) -> Field {
        CHECKSUM.end..CHECKSUM.end + count * addr_len
    }

    /// v2: the authentication data, the last 8 bytes of a message of `len` bytes.
    pub const fn auth_data(len: usize) -> Field {
        len - super::AUTH_DATA_LEN..len
    }
}

/// The reserved bits in front of v3's Max Adver Int: sent as zero, ignored on receive
/// (RFC 9568 §5.2.5).
const MAX_ADVER_INT_MASK: u16 = 0x0fff;

/// A checked, zero-copy view of a VRRP advertisement.
///
/// [`VrrpPacket::new_checked`] verifies the version, the type, the address family and that
/// the length matches the address count; getters then read fields in place. Nothing is
/// copied or allocated.
///
/// ```
/// use vrrp_proto::{Family, Version, advert::VrrpPacket};
/// // A VRRPv3 advert from keepalived: VRID 51, priority 130, 10 cs, VIP 198.18.0.10.
/// let bytes = [0x31, 0x33, 0x82, 0x01, 0x00, 0x0a, 0xdf, 0xf7, 0xc6, 0x12, 0x00, 0x0a];
/// let advert = VrrpPacket::new_checked(&bytes[..], Family::Ipv4).unwrap();
/// assert_eq!(advert.version(), Version::V3);
/// assert_eq!((advert.vrid(), advert.priority()), (51, 130));
/// assert_eq!(advert.interval_centis(), 10);
/// let vips: Vec<_> = advert.addresses().collect();
/// assert_eq!(vips, ["198.18.0.10".parse::<std::net::IpAddr>().unwrap()]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct VrrpPacket<T: AsRef<[u8]>> {
    buffer: T,
    family: Family,
    version: Version,
}

/// The fixed header as nom reads it, in wire order: version and type, VRID, priority,
/// count, auth type and interval (v3: the 16 bits around Max Adver Int), checksum.
type RawHeader = (u8, u8, u8, u8, u16, u16);

fn raw_header(input: &[u8]) -> IResult<&[u8], RawHeader> {
    (be_u8, be_u8, be_u8, be_u8, be_u16, be_u16).parse(input)
}

/// What follows the header must be the address list and v2's authentication data, and
/// nothing more: nom checks the length of the rest, and the list is read in place later.
/// (Taking the list with nom's `take` and then requiring the end cost 1.5 ns per decode,
/// 10% of a v3/IPv4 decode, on-CPU time; this is one comparison.)
fn body(input: &[u8], version: Version, addr_bytes: usize) -> IResult<&[u8], usize> {
    let auth = match version {
        Version::V2 => AUTH_DATA_LEN,
        Version::V3 => 0,
    };
    let expected = addr_bytes + auth;
    verify(rest_len, move |len: &usize| *len == expected).parse(input)
}

impl<T: AsRef<[u8]>> VrrpPacket<T> {
    /// Checks `buffer` as an advertisement carried over `family` and wraps it.
    ///
    /// The checks are the ones that need no configuration, in RFC 5798 §7.1's order: version
    /// 2 or 3, type 1, no v2 over IPv6, length equal to what the address count implies, a
    /// known v2 authentication type, a non-zero interval. Checksum and the configured
    /// version, authentication and interval are checked separately
    /// ([`VrrpPacket::verify_checksum`], [`crate::ReceiveCheck`]).
    // Inlined into the receive path: called, it hands its Result back through memory and
    // decoding took twice as long on-CPU for a few more instructions (perf task-clock,
    // decode+verify v3/IPv4: 32.7 ns called, 15.9 ns inlined, 15.5 ns before the nom body).
    #[inline]
    pub fn new_checked(buffer: T, family: Family) -> Result<Self, DecodeError> {
        let bytes = buffer.as_ref();
        let Ok((rest, (ver_type, _vrid, _prio, count, auth_int, _csum))) = raw_header(bytes) else {
            return Err(DecodeError::Truncated {
                needed: HEADER_LEN,
                available: bytes.len(),
            });
        };
        let version = match ver_type >> 4 {
            2 => Version::V2,
            3 => Version::V3,
            other => return Err(DecodeError::UnknownVersion(other)),
        };
        let kind = ver_type & 0x0f;
        if kind != TYPE_ADVERTISEMENT {
            return Err(DecodeError::InvalidType(kind));
        }
        if version == Version::V2 && family == Family::Ipv6 {
            return Err(DecodeError::V2OverIpv6);
        }
        if body(rest, version, usize::from(count) * family.addr_len()).is_err() {
            return Err(DecodeError::LengthMismatch {
                count,
                expected: message_len(version, family, usize::from(count)),
                length: bytes.len(),
            });
        }
        let interval = match version {
            Version::V2 => {
                let [auth_type, seconds] = auth_int.to_be_bytes();
                if AuthType::from_u8(auth_type).is_none() {
                    return Err(DecodeError::InvalidAuthType(auth_type));
                }
                u16::from(seconds)
            }
            Version::V3 => auth_int & MAX_ADVER_INT_MASK,
        };
        if interval == 0 {
            return Err(DecodeError::IntervalMismatch {
                found: 0,
                configured: 0,
            });
        }
        Ok(VrrpPacket {
            buffer,
            family,
            version,
        })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The protocol version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The address family the packet was received over.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Virtual router identifier.
    pub fn vrid(&self) -> u8 {
        self.bytes()[field::VRID]
    }

    /// Priority: 255 for the address owner, 0 for a master that is leaving.
    pub fn priority(&self) -> u8 {
        self.bytes()[field::PRIORITY]
    }

    /// Count of addresses in the message.
    pub fn addr_count(&self) -> u8 {
        self.bytes()[field::COUNT]
    }

    /// The v2 authentication type; `AuthType::None` for v3, which has none.
    pub fn auth_type(&self) -> AuthType {
        match self.version {
            Version::V2 => {
                AuthType::from_u8(self.bytes()[field::AUTH_TYPE]).unwrap_or(AuthType::None)
            }
            Version::V3 => AuthType::None,
        }
    }

    /// The interval field as sent: seconds for v2, centiseconds for v3.
    pub fn interval(&self) -> u16 {
        match self.version {
            Version::V2 => u16::from(self.bytes()[field::ADVER_INT]),
            Version::V3 => be16(&self.bytes()[field::MAX_ADVER_INT]) & MAX_ADVER_INT_MASK,
        }
    }

    /// The advertisement interval in centiseconds, whatever the version.
    pub fn interval_centis(&self) -> u32 {
        match self.version {
            Version::V2 => u32::from(self.interval()) * 100,
            Version::V3 => u32::from(self.interval()),
        }
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        be16(&self.bytes()[field::CHECKSUM])
    }

    /// The virtual addresses, read in place.
    pub fn addresses(&self) -> AddressIter<'_> {
        AddressIter::new(self.address_bytes(), self.family)
    }

    /// The address list as it stands in the message.
    pub(crate) fn address_bytes(&self) -> &[u8] {
        let count = usize::from(self.addr_count());
        &self.bytes()[field::addresses(count, self.family.addr_len())]
    }

    /// The v2 authentication data (8 bytes); `None` for v3.
    pub fn auth_data(&self) -> Option<&[u8; AUTH_DATA_LEN]> {
        match self.version {
            Version::V2 => self.bytes()[field::auth_data(self.bytes().len())]
                .try_into()
                .ok(),
            Version::V3 => None,
        }
    }

    /// The authentication the advert carries, in the form [`crate::AdvertRepr`] takes: PASS
    /// with its 8 bytes, AH, or none (always none for v3).
    pub fn auth(&self) -> crate::Auth {
        match (self.auth_type(), self.auth_data()) {
            (AuthType::Pass, Some(data)) => crate::Auth::Pass(*data),
            (AuthType::Ah, _) => crate::Auth::Ah,
            _ => crate::Auth::None,
        }
    }

    /// The whole message.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes()
    }

    /// Verifies the checksum against the forms this version and family allow, and says
    /// which one matched: v2 over the message; v3/IPv6 with the IPv6 pseudo-header; v3/IPv4
    /// in either form (RFC 9568's message-only or keepalived's pseudo-header), because both
    /// are in the field.
    pub fn verify_checksum(&self, ip: IpPair) -> Result<ChecksumForm, DecodeError> {
        let message = checksum::sum_words(self.bytes(), 0);
        let len = self.bytes().len() as u16;
        let valid = |acc| checksum::finish(acc) == 0;
        let form = match (self.version, ip) {
            (Version::V2, _) => valid(message).then_some(ChecksumForm::Message),
            (Version::V3, IpPair::V4 { src, dst }) => {
                if valid(message) {
                    Some(ChecksumForm::Message)
                } else {
                    let pseudo = checksum::ipv4_pseudo_header(src, dst, IP_PROTOCOL, len);
                    valid(message + pseudo).then_some(ChecksumForm::Ipv4PseudoHeader)
                }
            }
            (Version::V3, IpPair::V6 { src, dst }) => {
                let pseudo = checksum::ipv6_pseudo_header(src, dst, IP_PROTOCOL, u32::from(len));
                valid(message + pseudo).then_some(ChecksumForm::Ipv6PseudoHeader)
            }
        };
        form.ok_or(DecodeError::Checksum {
            found: self.checksum(),
        })
    }
}

/// The writing side, for [`crate::AdvertRepr::emit`]: a buffer of exactly the message's
/// length, filled field by field.
impl<T: AsRef<[u8]> + AsMut<[u8]>> VrrpPacket<T> {
    /// Wraps a buffer to write a message of `version` over `family` into; nothing is checked.
    pub(crate) fn new_unchecked(buffer: T, family: Family, version: Version) -> Self {
        VrrpPacket {
            buffer,
            family,
            version,
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Writes the fixed header with a zero checksum; v2 takes `auth_type`, v3 ignores it.
    pub(crate) fn set_header(
        &mut self,
        vrid: u8,
        priority: u8,
        count: u8,
        auth_type: AuthType,
        interval: u16,
    ) {
        let version = self.version;
        let data = self.bytes_mut();
        data[field::VER_TYPE] = ((version as u8) << 4) | TYPE_ADVERTISEMENT;
        data[field::VRID] = vrid;
        data[field::PRIORITY] = priority;
        data[field::COUNT] = count;
        match version {
            Version::V2 => {
                data[field::AUTH_TYPE] = auth_type.to_u8();
                data[field::ADVER_INT] = interval as u8;
            }
            Version::V3 => data[field::MAX_ADVER_INT].copy_from_slice(&interval.to_be_bytes()),
        }
        data[field::CHECKSUM].fill(0);
    }

    /// The address list, to write into: `count` addresses of this packet's family.
    pub(crate) fn addresses_mut(&mut self, count: usize) -> &mut [u8] {
        let range = field::addresses(count, self.family.addr_len());
        &mut self.bytes_mut()[range]
    }

    /// Writes v2's authentication data (the last 8 bytes).
    pub(crate) fn set_auth_data(&mut self, data: &[u8; AUTH_DATA_LEN]) {
        let range = field::auth_data(self.bytes().len());
        self.bytes_mut()[range].copy_from_slice(data);
    }

    /// Computes the checksum over the message and `pseudo` (a pseudo-header's sum, or 0)
    /// and writes it.
    pub(crate) fn fill_checksum(&mut self, pseudo: u64) {
        let sum = checksum::finish(checksum::sum_words(self.bytes(), pseudo));
        self.bytes_mut()[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
    }
}

/// The virtual addresses of an advertisement, decoded one at a time from the buffer.
#[derive(Debug, Clone)]
pub struct AddressIter<'a> {
    rest: &'a [u8],
    family: Family,
}

impl<'a> AddressIter<'a> {
    /// The addresses in `bytes`, `family`'s length each (a shorter tail is left unread).
    pub(crate) fn new(bytes: &'a [u8], family: Family) -> Self {
        AddressIter {
            rest: bytes,
            family,
        }
    }
}

impl Iterator for AddressIter<'_> {
    type Item = IpAddr;

    fn next(&mut self) -> Option<IpAddr> {
        // nom checked the list's length in `new_checked`; here fixed-size chunks come off it
        // (a nom parser per address cost 8 instructions each, +12% on an 8-address decode,
        // measured with callgrind).
        let addr = match self.family {
            Family::Ipv4 => {
                let (addr, rest) = self.rest.split_first_chunk::<4>()?;
                self.rest = rest;
                IpAddr::from(*addr)
            }
            Family::Ipv6 => {
                let (addr, rest) = self.rest.split_first_chunk::<16>()?;
                self.rest = rest;
                IpAddr::from(*addr)
            }
        };
        Some(addr)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len() / self.family.addr_len();
        (n, Some(n))
    }
}

impl ExactSizeIterator for AddressIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nom parse and the field table describe one layout.
    #[test]
    fn the_header_parse_and_the_field_table_agree() {
        let bytes: [u8; HEADER_LEN] = [0, 1, 2, 3, 4, 5, 6, 7];
        let Ok((rest, (ver_type, vrid, prio, count, auth_int, csum))) = raw_header(&bytes) else {
            panic!("eight bytes are a header");
        };
        assert!(rest.is_empty());
        assert_eq!(ver_type, bytes[field::VER_TYPE]);
        assert_eq!(vrid, bytes[field::VRID]);
        assert_eq!(prio, bytes[field::PRIORITY]);
        assert_eq!(count, bytes[field::COUNT]);
        assert_eq!(auth_int, be16(&bytes[field::MAX_ADVER_INT]));
        assert_eq!(
            auth_int.to_be_bytes(),
            [bytes[field::AUTH_TYPE], bytes[field::ADVER_INT]]
        );
        assert_eq!(csum, be16(&bytes[field::CHECKSUM]));
        assert_eq!(field::addresses(0, 4).start, HEADER_LEN);
    }
}
