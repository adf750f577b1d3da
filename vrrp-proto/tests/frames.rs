//! The frames a new Master sends, byte for byte. The expected unsolicited NA frames were
//! built and checksummed by a separate script (Python `struct`, RFC 1071 sum over the IPv6
//! pseudo-header), not by this crate; the GARP is compared with keepalived's in captures.rs.

use std::net::Ipv6Addr;

use vrrp_proto::frames::{
    emit_gratuitous_arp, emit_unsolicited_na, virtual_mac, GARP_FRAME_LEN, UNSOLICITED_NA_FRAME_LEN,
};
use vrrp_proto::{EncodeError, Family};

/// NA for fd00:198:18::10 from fe80::b with the IPv6 virtual MAC of VRID 51, Override only.
const NA_OVERRIDE: &str = "33330000000100005e00023386dd6000000000203afffe80000000000000000000\
                           000000000bff0200000000000000000000000000018800f91f20000000fd00019800\
                           1800000000000000000010020100005e000233";
/// The same with the Router flag (R|O), which changes the flags byte and the checksum.
const NA_ROUTER: &str = "33330000000100005e00023386dd6000000000203afffe8000000000000000000000\
                         0000000bff0200000000000000000000000000018800791fa0000000fd0001980018\
                         00000000000000000010020100005e000233";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn na(router: bool) -> Vec<u8> {
    let mut buf = [0u8; 128];
    let len = emit_unsolicited_na(
        &mut buf,
        virtual_mac(Family::Ipv6, 51),
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x0b),
        Ipv6Addr::new(0xfd00, 0x198, 0x18, 0, 0, 0, 0, 0x10),
        router,
    )
    .expect("fits");
    assert_eq!(len, UNSOLICITED_NA_FRAME_LEN);
    buf[..len].to_vec()
}

#[test]
fn unsolicited_na_matches_an_independently_built_frame() {
    assert_eq!(na(false), hex(NA_OVERRIDE));
    assert_eq!(na(true), hex(NA_ROUTER));
}

#[test]
fn virtual_macs_follow_rfc5798() {
    assert_eq!(
        virtual_mac(Family::Ipv4, 1),
        [0x00, 0x00, 0x5e, 0x00, 0x01, 0x01]
    );
    assert_eq!(
        virtual_mac(Family::Ipv6, 255),
        [0x00, 0x00, 0x5e, 0x00, 0x02, 0xff]
    );
}

#[test]
fn short_buffers_are_refused_not_overrun() {
    let mut small = [0u8; GARP_FRAME_LEN - 1];
    assert_eq!(
        emit_gratuitous_arp(&mut small, [2, 0, 0, 0, 0, 1], [198, 18, 0, 10].into()),
        Err(EncodeError::BufferTooSmall {
            needed: GARP_FRAME_LEN,
            available: GARP_FRAME_LEN - 1
        })
    );
    let mut small = [0u8; UNSOLICITED_NA_FRAME_LEN - 1];
    assert!(matches!(
        emit_unsolicited_na(
            &mut small,
            [2, 0, 0, 0, 0, 1],
            Ipv6Addr::LOCALHOST,
            Ipv6Addr::LOCALHOST,
            false
        ),
        Err(EncodeError::BufferTooSmall { .. })
    ));
}
