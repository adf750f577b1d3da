//! The Internet checksum (RFC 1071) and the pseudo-headers VRRP and ICMPv6 use.

use core::net::{Ipv4Addr, Ipv6Addr};

/// Adds `data` as big-endian 16-bit words to `acc` (an odd last byte is padded with zero).
///
/// The accumulator is 64-bit so that any packet up to 4 GiB sums without overflow; folding
/// to 16 bits happens once, in [`finish`]. Whole 32-bit words are added at once: `hi *
/// 2^16 + lo` folds to `hi + lo`, so this is the same one's complement sum in half the
/// additions (RFC 1071 §2(B), deferred carries; §2(C), word size).
#[inline]
pub fn sum_words(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(4);
    for word in &mut chunks {
        acc += u64::from(u32::from_be_bytes([word[0], word[1], word[2], word[3]]));
    }
    match *chunks.remainder() {
        [a, b, c] => acc + u64::from(u16::from_be_bytes([a, b])) + (u64::from(c) << 8),
        [a, b] => acc + u64::from(u16::from_be_bytes([a, b])),
        [a] => acc + (u64::from(a) << 8),
        _ => acc,
    }
}

/// Folds the carries of `acc` into 16 bits and returns the one's complement: the checksum
/// field value.
///
/// Four folds, without a loop: the first leaves at most 33 bits, the next two at most 17,
/// the last 16; a value already below 2^16 passes through unchanged. So this is RFC 1071
/// §4.1's end-around carry repeated until none is left, without a data-dependent branch.
#[inline]
pub fn finish(acc: u64) -> u16 {
    let acc = (acc & 0xffff_ffff) + (acc >> 32);
    let acc = (acc & 0xffff) + (acc >> 16);
    let acc = (acc & 0xffff) + (acc >> 16);
    let acc = (acc & 0xffff) + (acc >> 16);
    !(acc as u16)
}

/// The sum of an IPv4 pseudo-header (source, destination, zero, protocol, length).
#[inline]
pub fn ipv4_pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> u64 {
    let acc = sum_words(&src.octets(), 0);
    let acc = sum_words(&dst.octets(), acc);
    acc + u64::from(protocol) + u64::from(length)
}

/// The sum of an IPv6 pseudo-header (RFC 8200 §8.1: source, destination, upper-layer
/// length, next header).
#[inline]
pub fn ipv6_pseudo_header(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, length: u32) -> u64 {
    let acc = sum_words(&src.octets(), 0);
    let acc = sum_words(&dst.octets(), acc);
    acc + u64::from(length >> 16) + u64::from(length & 0xffff) + u64::from(next_header)
}

/// The checksum of `data` alone.
///
/// ```
/// // RFC 1071's worked example: 0001 f203 f4f5 f6f7 sums to ddf2, checksum 220d.
/// assert_eq!(vrrp_proto::checksum::of(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0x220d);
/// ```
#[inline]
pub fn of(data: &[u8]) -> u16 {
    finish(sum_words(data, 0))
}
