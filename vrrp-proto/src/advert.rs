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

use nom::number::complete::{be_u16, be_u8};
use nom::Parser;

use crate::checksum;
use crate::error::DecodeError;
use crate::{Family, Version};

/// Length of the fixed VRRP header.
pub const HEADER_LEN: usize = 8;
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

/// The fixed header's six fields, as nom reads them.
type RawHeader = (u8, u8, u8, u8, u16, u16);

fn raw_header(input: &[u8]) -> nom::IResult<&[u8], RawHeader> {
    (be_u8, be_u8, be_u8, be_u8, be_u16, be_u16).parse(input)
}

impl<T: AsRef<[u8]>> VrrpPacket<T> {
    /// Checks `buffer` as an advertisement carried over `family` and wraps it.
    ///
    /// The checks are the ones that need no configuration: version 2 or 3, type 1, no v2
    /// over IPv6, length equal to what the address count implies, a known v2
    /// authentication type, a non-zero interval. Checksum and the configured version,
    /// authentication and interval are checked separately ([`VrrpPacket::verify_checksum`],
    /// [`crate::ReceiveCheck`]).
    pub fn new_checked(buffer: T, family: Family) -> Result<Self, DecodeError> {
        let bytes = buffer.as_ref();
        let Ok((_, (ver_type, _vrid, _prio, count, auth_int, _csum))) = raw_header(bytes) else {
            return Err(DecodeError::Truncated {
                needed: HEADER_LEN,
                available: bytes.len(),
            });
        };
        let version = match ver_type >> 4 {
            2 => Version::V2,
            3 => Version::V3,
            found => return Err(DecodeError::VersionMismatch { found, expected: 3 }),
        };
        let kind = ver_type & 0x0f;
        if kind != TYPE_ADVERTISEMENT {
            return Err(DecodeError::InvalidType(kind));
        }
        if version == Version::V2 && family == Family::Ipv6 {
            return Err(DecodeError::V2OverIpv6);
        }
        let expected = message_len(version, family, usize::from(count));
        if bytes.len() != expected {
            return Err(DecodeError::LengthMismatch {
                count,
                expected,
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
            // The top four bits are reserved: ignored on receive (RFC 9568 §5.2.5).
            Version::V3 => auth_int & 0x0fff,
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
        self.bytes()[1]
    }

    /// Priority: 255 for the address owner, 0 for a master that is leaving.
    pub fn priority(&self) -> u8 {
        self.bytes()[2]
    }

    /// Count of addresses in the message.
    pub fn addr_count(&self) -> u8 {
        self.bytes()[3]
    }

    /// The v2 authentication type; `AuthType::None` for v3, which has none.
    pub fn auth_type(&self) -> AuthType {
        match self.version {
            Version::V2 => AuthType::from_u8(self.bytes()[4]).unwrap_or(AuthType::None),
            Version::V3 => AuthType::None,
        }
    }

    /// The interval field as sent: seconds for v2, centiseconds for v3.
    pub fn interval(&self) -> u16 {
        match self.version {
            Version::V2 => u16::from(self.bytes()[5]),
            Version::V3 => u16::from_be_bytes([self.bytes()[4], self.bytes()[5]]) & 0x0fff,
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
        u16::from_be_bytes([self.bytes()[6], self.bytes()[7]])
    }

    /// The virtual addresses, read in place.
    pub fn addresses(&self) -> AddressIter<'_> {
        let end = HEADER_LEN + usize::from(self.addr_count()) * self.family.addr_len();
        AddressIter {
            rest: &self.bytes()[HEADER_LEN..end],
            family: self.family,
        }
    }

    /// The v2 authentication data (8 bytes); `None` for v3.
    pub fn auth_data(&self) -> Option<&[u8; AUTH_DATA_LEN]> {
        match self.version {
            Version::V2 => self.bytes()[self.bytes().len() - AUTH_DATA_LEN..]
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

/// The virtual addresses of an advertisement, decoded one at a time from the buffer.
#[derive(Debug, Clone)]
pub struct AddressIter<'a> {
    rest: &'a [u8],
    family: Family,
}

impl Iterator for AddressIter<'_> {
    type Item = IpAddr;

    fn next(&mut self) -> Option<IpAddr> {
        match self.family {
            Family::Ipv4 => {
                let (addr, rest) = self.rest.split_first_chunk::<4>()?;
                self.rest = rest;
                Some(IpAddr::V4(Ipv4Addr::from(*addr)))
            }
            Family::Ipv6 => {
                let (addr, rest) = self.rest.split_first_chunk::<16>()?;
                self.rest = rest;
                Some(IpAddr::V6(Ipv6Addr::from(*addr)))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len() / self.family.addr_len();
        (n, Some(n))
    }
}

impl ExactSizeIterator for AddressIter<'_> {}
