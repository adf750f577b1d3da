//! The receive path: from the bytes a raw socket delivers to a validated advertisement.
//!
//! The checks follow RFC 5798 §7.1 / RFC 3768 §7.1 in order: IP header, TTL/hop limit 255,
//! protocol, VRRP header and length, checksum, then the configuration-dependent checks of
//! [`ReceiveCheck`]. Each failure is a [`DecodeError`] with its counter.

use core::net::{IpAddr, Ipv6Addr};

use crate::advert::{ChecksumForm, IpPair, VrrpPacket, AUTH_DATA_LEN, IP_PROTOCOL};
use crate::error::DecodeError;
use crate::ipv4::{self, Ipv4Packet};
use crate::repr::Auth;
use crate::{Family, Version};

/// IP protocol number of IPsec AH.
pub const IP_PROTOCOL_AH: u8 = 51;

/// A received advertisement that passed the configuration-independent checks.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    /// Source address of the IP packet: the sender's primary address.
    pub src: IpAddr,
    /// Destination address (multicast group or our unicast address).
    pub dst: IpAddr,
    /// The advertisement, borrowed from the receive buffer.
    pub advert: VrrpPacket<&'a [u8]>,
    /// Which checksum form the sender used.
    pub checksum_form: ChecksumForm,
    /// Whether the message arrived behind an IPsec AH header (v2 `auth_type AH`).
    pub behind_ah: bool,
}

/// Decodes an IPv4 packet as an IPv4 raw socket delivers it (header included, any IHL).
///
/// ```
/// let packet = [
///     0x45, 0xc0, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0x14, 0x7d, 0xc6, 0x12,
///     0x00, 0x0b, 0xe0, 0x00, 0x00, 0x12, 0x31, 0x33, 0x82, 0x01, 0x00, 0x0a, 0xdf, 0xf7,
///     0xc6, 0x12, 0x00, 0x0a,
/// ];
/// let rx = vrrp_proto::decode_ipv4(&packet).unwrap();
/// assert_eq!(rx.advert.vrid(), 51);
/// assert_eq!(rx.checksum_form, vrrp_proto::ChecksumForm::Ipv4PseudoHeader);
/// ```
pub fn decode_ipv4(packet: &[u8]) -> Result<Received<'_>, DecodeError> {
    let ip = Ipv4Packet::new_checked(packet)?;
    if ip.ttl() != 255 {
        return Err(DecodeError::TtlNot255(ip.ttl()));
    }
    // Slice the caller's buffer, not the view, so the advert borrows `packet` itself.
    let ip_payload = &packet[ip.header_len()..ip.total_len()];
    let (payload, behind_ah) = match ip.protocol() {
        IP_PROTOCOL => (ip_payload, false),
        IP_PROTOCOL_AH => match ipv4::skip_ah(ip_payload)? {
            (IP_PROTOCOL, rest) => (rest, true),
            (other, _) => return Err(DecodeError::NotVrrp(other)),
        },
        other => return Err(DecodeError::NotVrrp(other)),
    };
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let advert = VrrpPacket::new_checked(payload, Family::Ipv4)?;
    let checksum_form = advert.verify_checksum(IpPair::V4 { src, dst })?;
    Ok(Received {
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        advert,
        checksum_form,
        behind_ah,
    })
}

/// Decodes the payload of an IPv6 raw socket (the kernel strips the IPv6 header; the hop
/// limit and destination come from ancillary data).
pub fn decode_ipv6(
    payload: &[u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
) -> Result<Received<'_>, DecodeError> {
    if hop_limit != 255 {
        return Err(DecodeError::TtlNot255(hop_limit));
    }
    let advert = VrrpPacket::new_checked(payload, Family::Ipv6)?;
    let checksum_form = advert.verify_checksum(IpPair::V6 { src, dst })?;
    Ok(Received {
        src: IpAddr::V6(src),
        dst: IpAddr::V6(dst),
        advert,
        checksum_form,
        behind_ah: false,
    })
}

/// The receive checks that depend on the instance's configuration.
///
/// ```
/// use std::net::Ipv4Addr;
/// use vrrp_proto::advert::VrrpPacket;
/// use vrrp_proto::{Addresses, AdvertRepr, Auth, ChecksumScope, DecodeError, Family};
/// use vrrp_proto::{ReceiveCheck, Version};
///
/// let vips = [Ipv4Addr::new(198, 18, 0, 10)];
/// let advert = AdvertRepr {
///     version: Version::V2, vrid: 51, priority: 130, interval: 1,
///     auth: Auth::pass("halpass1"), addresses: Addresses::V4(&vips),
/// };
/// let mut buf = [0u8; 32];
/// let len = advert.emit(&mut buf, ChecksumScope::Message).unwrap();
/// let packet = VrrpPacket::new_checked(&buf[..len], Family::Ipv4).unwrap();
///
/// let ours = ReceiveCheck { version: Version::V2, auth: Auth::pass("halpass1"), interval: 1 };
/// assert_eq!(ours.check(&packet), Ok(()));
/// // Another password, or another interval, and the advert is dropped with its reason.
/// let other = ReceiveCheck { auth: Auth::pass("other"), ..ours };
/// assert_eq!(other.check(&packet), Err(DecodeError::AuthFailure));
/// let slower = ReceiveCheck { interval: 2, ..ours };
/// assert_eq!(
///     slower.check(&packet),
///     Err(DecodeError::IntervalMismatch { found: 1, configured: 2 })
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveCheck {
    /// The configured version.
    pub version: Version,
    /// The configured v2 authentication ([`Auth::None`] for v3).
    pub auth: Auth,
    /// The configured interval (v2: seconds; checked for v2 only, since v3 backups learn
    /// the master's interval).
    pub interval: u16,
}

impl ReceiveCheck {
    /// Applies the checks to a received advertisement, in RFC 3768 §7.1's order: version,
    /// authentication, interval.
    pub fn check<T: AsRef<[u8]>>(&self, advert: &VrrpPacket<T>) -> Result<(), DecodeError> {
        self.check_version(advert.version())?;
        if self.version == Version::V3 {
            return Ok(());
        }
        let configured = self.auth.auth_type();
        let found = advert.auth_type();
        if found != configured {
            return Err(DecodeError::AuthTypeMismatch {
                found: found.to_u8(),
                configured: configured.to_u8(),
            });
        }
        if let Auth::Pass(expected) = self.auth {
            let data: Option<&[u8; AUTH_DATA_LEN]> = advert.auth_data();
            if data != Some(&expected) {
                return Err(DecodeError::AuthFailure);
            }
        }
        self.check_interval(advert.interval())
    }

    /// The version rule alone: an advert of another version than the configured one is
    /// discarded (RFC 3768 §7.1, RFC 9568 §7.1).
    pub fn check_version(&self, found: Version) -> Result<(), DecodeError> {
        if found != self.version {
            return Err(DecodeError::VersionMismatch {
                found: found as u8,
                expected: self.version as u8,
            });
        }
        Ok(())
    }

    /// The interval rule alone, on the field as sent: never zero; for v2 equal to the
    /// configured interval (RFC 3768 §7.1), while a v3 Backup learns its Master's (RFC 9568
    /// §6.4.2). A zero is reported as [`VrrpPacket::new_checked`] reports it.
    pub fn check_interval(&self, found: u16) -> Result<(), DecodeError> {
        if found == 0 {
            return Err(DecodeError::IntervalMismatch {
                found: 0,
                configured: 0,
            });
        }
        if self.version == Version::V2 && found != self.interval {
            return Err(DecodeError::IntervalMismatch {
                found,
                configured: self.interval,
            });
        }
        Ok(())
    }
}
