//! Typed receive and encode errors, each mapped to the statistics counter it increments.

use core::fmt;

use crate::Version;

/// Why a received packet was dropped.
///
/// Every variant maps to one statistics counter through [`DecodeError::counter`], so a driver
/// can count drops by reason without matching on the variants itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The buffer ends before the structure it should hold.
    #[error("truncated: need {needed} bytes, have {available}")]
    Truncated {
        /// Bytes the structure needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// The IPv4 or IPv6 header is malformed (bad version nibble, IHL below 5, total length
    /// outside the buffer).
    #[error("malformed IP header: {0}")]
    IpHeader(IpHeaderError),
    /// The IP packet does not carry VRRP (protocol / next header 112).
    #[error("IP protocol {0} is not VRRP (112)")]
    NotVrrp(u8),
    /// TTL (IPv4) or hop limit (IPv6) is not 255: the packet was routed (RFC 5798 §7.1).
    #[error("TTL/hop limit {0}, expected 255")]
    TtlNot255(u8),
    /// The version nibble is neither 2 (RFC 3768) nor 3 (RFC 9568).
    #[error("unknown VRRP version {0} (2 and 3 are known)")]
    UnknownVersion(u8),
    /// The version is known but not the one the receiver is configured for.
    #[error("VRRP version {found}, expected {expected}")]
    VersionMismatch {
        /// The version nibble found in the packet.
        found: u8,
        /// The version the receiver is configured for.
        expected: u8,
    },
    /// VRRPv2 carried over IPv6, which RFC 3768 does not define.
    #[error("VRRPv2 over IPv6")]
    V2OverIpv6,
    /// The type nibble is not 1 (ADVERTISEMENT).
    #[error("VRRP type {0}, expected 1 (advertisement)")]
    InvalidType(u8),
    /// The VRRP message length does not match the address count.
    #[error("VRRP length {length} does not fit {count} addresses ({expected} bytes expected)")]
    LengthMismatch {
        /// The address count field.
        count: u8,
        /// The message length the count implies.
        expected: usize,
        /// The message length received.
        length: usize,
    },
    /// The checksum is wrong in every form this receiver accepts.
    #[error("bad checksum {found:#06x}")]
    Checksum {
        /// The checksum field of the packet.
        found: u16,
    },
    /// The v2 authentication type is not 0, 1 or 2.
    #[error("unknown authentication type {0}")]
    InvalidAuthType(u8),
    /// The v2 authentication type differs from the configured one.
    #[error("authentication type {found}, configured {configured}")]
    AuthTypeMismatch {
        /// The authentication type received.
        found: u8,
        /// The authentication type configured.
        configured: u8,
    },
    /// The v2 PASS data differs from the configured password.
    #[error("authentication failure (password mismatch)")]
    AuthFailure,
    /// The advertisement interval is zero, or (v2) differs from the configured interval.
    #[error("advertisement interval {found}, configured {configured}")]
    IntervalMismatch {
        /// The interval received (v2: seconds, v3: centiseconds).
        found: u16,
        /// The interval configured, or 0 when the received interval is invalid on its own.
        configured: u16,
    },
}

/// What exactly is wrong with an IP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpHeaderError {
    /// The version nibble is not 4 (IPv4 view) or 6 (IPv6 view).
    Version(u8),
    /// The IPv4 IHL is below 5 words or beyond the buffer.
    HeaderLength(u8),
    /// The total/payload length field points past the buffer or inside the header.
    TotalLength(u16),
    /// The packet is a fragment; VRRP adverts are never fragmented.
    Fragmented,
}

impl fmt::Display for IpHeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpHeaderError::Version(v) => write!(f, "IP version nibble {v}"),
            IpHeaderError::HeaderLength(ihl) => write!(f, "IHL {ihl}"),
            IpHeaderError::TotalLength(len) => write!(f, "length field {len}"),
            IpHeaderError::Fragmented => f.write_str("fragment"),
        }
    }
}

/// The statistics counter a dropped packet increments.
///
/// Names follow keepalived's per-instance statistics (`keepalived --json` / SNMP), with the
/// ietf-vrrp YANG counter in the doc of each variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropCounter {
    /// `packet_len_err` (ietf-vrrp `packet-length-errors`).
    PacketLength,
    /// `ip_header_err` (malformed IP header; not counted by keepalived, kept apart here).
    IpHeader,
    /// `ip_ttl_err` (ietf-vrrp `ip-ttl-errors`).
    IpTtl,
    /// `version_err` (ietf-vrrp `version-errors`).
    Version,
    /// `invalid_type_rcvd` (ietf-vrrp `invalid-type-packets-rcvd`).
    InvalidType,
    /// `checksum_err` (ietf-vrrp `checksum-errors`).
    Checksum,
    /// `invalid_authtype`.
    InvalidAuthType,
    /// `authtype_mismatch`.
    AuthTypeMismatch,
    /// `auth_failure`.
    AuthFailure,
    /// `advert_interval_err` (ietf-vrrp `advertisement-interval-errors`).
    AdvertInterval,
}

impl DropCounter {
    /// Every counter, in a stable order (for exporting zeros before the first drop).
    pub const ALL: [DropCounter; 10] = [
        DropCounter::PacketLength,
        DropCounter::IpHeader,
        DropCounter::IpTtl,
        DropCounter::Version,
        DropCounter::InvalidType,
        DropCounter::Checksum,
        DropCounter::InvalidAuthType,
        DropCounter::AuthTypeMismatch,
        DropCounter::AuthFailure,
        DropCounter::AdvertInterval,
    ];

    /// The counter's name, as in keepalived's statistics.
    pub const fn name(self) -> &'static str {
        match self {
            DropCounter::PacketLength => "packet_len_err",
            DropCounter::IpHeader => "ip_header_err",
            DropCounter::IpTtl => "ip_ttl_err",
            DropCounter::Version => "version_err",
            DropCounter::InvalidType => "invalid_type_rcvd",
            DropCounter::Checksum => "checksum_err",
            DropCounter::InvalidAuthType => "invalid_authtype",
            DropCounter::AuthTypeMismatch => "authtype_mismatch",
            DropCounter::AuthFailure => "auth_failure",
            DropCounter::AdvertInterval => "advert_interval_err",
        }
    }
}

impl DecodeError {
    /// The statistics counter this drop increments.
    pub const fn counter(&self) -> DropCounter {
        match self {
            DecodeError::Truncated { .. } | DecodeError::LengthMismatch { .. } => {
                DropCounter::PacketLength
            }
            DecodeError::IpHeader(_) | DecodeError::NotVrrp(_) => DropCounter::IpHeader,
            DecodeError::TtlNot255(_) => DropCounter::IpTtl,
            DecodeError::UnknownVersion(_)
            | DecodeError::VersionMismatch { .. }
            | DecodeError::V2OverIpv6 => DropCounter::Version,
            DecodeError::InvalidType(_) => DropCounter::InvalidType,
            DecodeError::Checksum { .. } => DropCounter::Checksum,
            DecodeError::InvalidAuthType(_) => DropCounter::InvalidAuthType,
            DecodeError::AuthTypeMismatch { .. } => DropCounter::AuthTypeMismatch,
            DecodeError::AuthFailure => DropCounter::AuthFailure,
            DecodeError::IntervalMismatch { .. } => DropCounter::AdvertInterval,
        }
    }
}

/// Why an advertisement could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The caller's buffer is too small.
    #[error("buffer of {available} bytes, need {needed}")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// More than 255 addresses, which the count field cannot hold.
    #[error("{0} addresses, at most 255 fit in one advertisement")]
    TooManyAddresses(usize),
    /// The interval does not fit the version's field (v2: 1..=255 s, v3: 1..=4095 cs).
    #[error("advertisement interval {interval} out of range for {version:?}")]
    IntervalOutOfRange {
        /// The interval asked for.
        interval: u16,
        /// The version being encoded.
        version: Version,
    },
    /// The combination of version, address family, authentication and checksum scope is one
    /// the protocol does not define (v2 over IPv6, authentication in v3, an IPv4 pseudo-header
    /// for IPv6 addresses, ...).
    #[error("inconsistent advertisement: {0}")]
    Inconsistent(&'static str),
}
