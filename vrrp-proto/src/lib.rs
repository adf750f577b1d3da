//! VRRP v2/v3 wire format.

/// VRRP protocol version: 2 (RFC 3768) or 3 (RFC 5798 / RFC 9568).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// VRRPv2, IPv4 only, advert interval in seconds, optional PASS authentication.
    V2 = 2,
    /// VRRPv3, IPv4 and IPv6, advert interval in centiseconds, no authentication.
    V3 = 3,
}
