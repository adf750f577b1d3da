//! Each RFC receive check rejects with its own typed error and counter, starting from a
//! valid packet and breaking exactly one thing.
#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, Ipv6Addr};

use vrrp_proto::ipv4::Ipv4Header;
use vrrp_proto::{
    decode_ipv4, decode_ipv6, Addresses, AdvertRepr, Auth, ChecksumForm, ChecksumScope,
    DecodeError, DropCounter, Family, IpHeaderError, ReceiveCheck, Version, VrrpPacket,
};

const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 11);
const DST: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const VIP: [Ipv4Addr; 1] = [Ipv4Addr::new(198, 18, 0, 10)];

fn v2_pass() -> AdvertRepr<'static> {
    AdvertRepr {
        version: Version::V2,
        vrid: 51,
        priority: 130,
        interval: 1,
        auth: Auth::pass("halpass1"),
        addresses: Addresses::V4(&VIP),
    }
}

/// An IPv4 packet (20-byte header) around `advert`, checksummed in the v2/message form.
fn packet(advert: &AdvertRepr<'_>) -> Vec<u8> {
    let mut p = vec![0u8; 20 + advert.buffer_len()];
    let len = advert.emit(&mut p[20..], ChecksumScope::Message).unwrap();
    header(&mut p, len, 255);
    p
}

fn header(p: &mut [u8], payload_len: usize, ttl: u8) {
    Ipv4Header {
        src: SRC,
        dst: DST,
        protocol: 112,
        ttl,
        tos: 0xc0,
        ident: 1,
        payload_len: payload_len as u16,
    }
    .emit(p)
    .unwrap();
}

/// Recomputes the VRRP (message-form) checksum after a field was altered.
fn fix_checksum(p: &mut [u8]) {
    p[26] = 0;
    p[27] = 0;
    let sum = vrrp_proto::checksum::of(&p[20..]);
    p[26..28].copy_from_slice(&sum.to_be_bytes());
}

fn err(p: &[u8]) -> DecodeError {
    decode_ipv4(p).map(|_| ()).unwrap_err()
}

#[test]
fn valid_packet_passes_all_checks() {
    let p = packet(&v2_pass());
    let rx = decode_ipv4(&p).unwrap();
    let check = ReceiveCheck {
        version: Version::V2,
        auth: Auth::pass("halpass1"),
        interval: 1,
    };
    assert_eq!(check.check(&rx.advert), Ok(()));
}

#[test]
fn ttl_below_255_is_dropped_as_routed() {
    let mut p = packet(&v2_pass());
    header(&mut p, 20, 254);
    let e = err(&p);
    assert_eq!(e, DecodeError::TtlNot255(254));
    assert_eq!(e.counter().name(), "ip_ttl_err");
}

#[test]
fn ip_header_with_options_is_parsed_whatever_the_ihl() {
    let advert = v2_pass();
    let plain = packet(&advert);
    // IHL 6: one word of options (a router-alert option, as some stacks add).
    let mut p = Vec::new();
    p.extend_from_slice(&plain[..20]);
    p.extend_from_slice(&[0x94, 0x04, 0x00, 0x00]);
    p.extend_from_slice(&plain[20..]);
    p[0] = 0x46;
    let total = p.len() as u16;
    p[2..4].copy_from_slice(&total.to_be_bytes());
    let rx = decode_ipv4(&p).unwrap();
    assert_eq!(rx.advert.vrid(), 51);
}

#[test]
fn malformed_ip_headers_are_typed() {
    let good = packet(&v2_pass());
    let mut p = good.clone();
    p[0] = 0x44; // IHL 4
    assert_eq!(
        err(&p),
        DecodeError::IpHeader(IpHeaderError::HeaderLength(4))
    );
    let mut p = good.clone();
    p[0] = 0x65;
    assert_eq!(err(&p), DecodeError::IpHeader(IpHeaderError::Version(6)));
    let mut p = good.clone();
    p[2..4].copy_from_slice(&500u16.to_be_bytes());
    assert_eq!(
        err(&p),
        DecodeError::IpHeader(IpHeaderError::TotalLength(500))
    );
    let mut p = good.clone();
    p[6] = 0x20; // more fragments
    assert_eq!(err(&p), DecodeError::IpHeader(IpHeaderError::Fragmented));
    let mut p = good;
    p[9] = 6;
    assert_eq!(err(&p), DecodeError::NotVrrp(6));
    assert_eq!(err(&p).counter().name(), "ip_header_err");
    assert!(matches!(
        err(&p[..10]),
        DecodeError::Truncated { needed: 20, .. }
    ));
}

#[test]
fn unknown_version_and_type_are_rejected() {
    let mut p = packet(&v2_pass());
    p[20] = 0x41;
    fix_checksum(&mut p);
    let e = err(&p);
    assert_eq!(e, DecodeError::UnknownVersion(4));
    assert_eq!(e.to_string(), "unknown VRRP version 4 (2 and 3 are known)");
    assert_eq!(e.counter().name(), "version_err");
    let mut p = packet(&v2_pass());
    p[20] = 0x22;
    fix_checksum(&mut p);
    let e = err(&p);
    assert_eq!(e, DecodeError::InvalidType(2));
    assert_eq!(e.counter().name(), "invalid_type_rcvd");
}

#[test]
fn configured_version_is_enforced() {
    let p = packet(&v2_pass());
    let rx = decode_ipv4(&p).unwrap();
    let v3 = ReceiveCheck {
        version: Version::V3,
        auth: Auth::None,
        interval: 100,
    };
    assert_eq!(
        v3.check(&rx.advert),
        Err(DecodeError::VersionMismatch {
            found: 2,
            expected: 3
        })
    );
}

#[test]
fn length_must_match_the_address_count() {
    let mut p = packet(&v2_pass());
    p[23] = 2; // count says 2 addresses, the packet holds 1
    fix_checksum(&mut p);
    let e = err(&p);
    assert_eq!(
        e,
        DecodeError::LengthMismatch {
            count: 2,
            expected: 24,
            length: 20
        }
    );
    assert_eq!(e.counter().name(), "packet_len_err");
}

#[test]
fn bad_checksum_is_counted() {
    let mut p = packet(&v2_pass());
    p[27] ^= 0x01;
    let e = err(&p);
    assert!(matches!(e, DecodeError::Checksum { .. }));
    assert_eq!(e.counter().name(), "checksum_err");
}

#[test]
fn v3_ipv4_accepts_both_checksum_forms_and_nothing_else() {
    let advert = AdvertRepr {
        version: Version::V3,
        interval: 100,
        auth: Auth::None,
        ..v2_pass()
    };
    for scope in [
        ChecksumScope::Message,
        ChecksumScope::Ipv4PseudoHeader { src: SRC, dst: DST },
    ] {
        let mut p = vec![0u8; 20 + advert.buffer_len()];
        let len = advert.emit(&mut p[20..], scope).unwrap();
        header(&mut p, len, 255);
        assert!(decode_ipv4(&p).is_ok(), "{scope:?}");
        p[24] ^= 0x80; // corrupt the interval field
        assert!(matches!(err(&p), DecodeError::Checksum { .. }), "{scope:?}");
    }
    // A pseudo-header over other addresses is a bad checksum.
    let mut p = vec![0u8; 20 + advert.buffer_len()];
    let scope = ChecksumScope::Ipv4PseudoHeader {
        src: Ipv4Addr::new(198, 18, 0, 99),
        dst: DST,
    };
    let len = advert.emit(&mut p[20..], scope).unwrap();
    header(&mut p, len, 255);
    assert!(matches!(err(&p), DecodeError::Checksum { .. }));
}

/// RFC 9568: v3 over IPv4 is checksummed over the message alone unless a caller asks for
/// keepalived's pseudo-header form, and the receiver says which form it saw.
#[test]
fn v3_ipv4_default_checksum_is_rfc9568_message_only() {
    assert_eq!(ChecksumScope::default(), ChecksumScope::Message);
    let advert = AdvertRepr {
        version: Version::V3,
        interval: 100,
        auth: Auth::None,
        ..v2_pass()
    };
    let mut p = vec![0u8; 20 + advert.buffer_len()];
    let len = advert.emit(&mut p[20..], ChecksumScope::default()).unwrap();
    header(&mut p, len, 255);
    assert_eq!(
        decode_ipv4(&p).unwrap().checksum_form,
        ChecksumForm::Message
    );
    let len = advert
        .emit(
            &mut p[20..],
            ChecksumScope::Ipv4PseudoHeader { src: SRC, dst: DST },
        )
        .unwrap();
    header(&mut p, len, 255);
    assert_eq!(
        decode_ipv4(&p).unwrap().checksum_form,
        ChecksumForm::Ipv4PseudoHeader
    );
}

#[test]
fn v2_auth_checks() {
    let check = ReceiveCheck {
        version: Version::V2,
        auth: Auth::pass("halpass1"),
        interval: 1,
    };
    let none = packet(&AdvertRepr {
        auth: Auth::None,
        ..v2_pass()
    });
    let rx = decode_ipv4(&none).unwrap();
    let e = check.check(&rx.advert).unwrap_err();
    assert_eq!(
        e,
        DecodeError::AuthTypeMismatch {
            found: 0,
            configured: 1
        }
    );
    assert_eq!(e.counter().name(), "authtype_mismatch");

    let other = packet(&AdvertRepr {
        auth: Auth::pass("otherpas"),
        ..v2_pass()
    });
    let rx = decode_ipv4(&other).unwrap();
    let e = check.check(&rx.advert).unwrap_err();
    assert_eq!(e, DecodeError::AuthFailure);
    assert_eq!(e.counter().name(), "auth_failure");

    // Only the first 8 bytes count, as in keepalived.
    let long = ReceiveCheck {
        auth: Auth::pass("halpass1-longer"),
        ..check
    };
    let rx = decode_ipv4(&packet(&v2_pass()))
        .map(|r| r.advert.auth_data().copied())
        .unwrap();
    assert_eq!(rx, Some(*b"halpass1"));
    let p = packet(&v2_pass());
    assert_eq!(long.check(&decode_ipv4(&p).unwrap().advert), Ok(()));

    let mut p = packet(&v2_pass());
    p[24] = 9; // auth type 9
    fix_checksum(&mut p);
    let e = err(&p);
    assert_eq!(e, DecodeError::InvalidAuthType(9));
    assert_eq!(e.counter().name(), "invalid_authtype");
}

#[test]
fn v2_interval_must_match_configuration_v3_is_learned() {
    let p = packet(&AdvertRepr {
        interval: 3,
        ..v2_pass()
    });
    let check = ReceiveCheck {
        version: Version::V2,
        auth: Auth::pass("halpass1"),
        interval: 1,
    };
    let e = check.check(&decode_ipv4(&p).unwrap().advert).unwrap_err();
    assert_eq!(
        e,
        DecodeError::IntervalMismatch {
            found: 3,
            configured: 1
        }
    );
    assert_eq!(e.counter().name(), "advert_interval_err");

    let mut p = packet(&v2_pass());
    p[25] = 0;
    fix_checksum(&mut p);
    assert_eq!(
        err(&p),
        DecodeError::IntervalMismatch {
            found: 0,
            configured: 0
        }
    );

    let v3 = AdvertRepr {
        version: Version::V3,
        interval: 250,
        auth: Auth::None,
        ..v2_pass()
    };
    let mut p = vec![0u8; 20 + v3.buffer_len()];
    let len = v3.emit(&mut p[20..], ChecksumScope::Message).unwrap();
    header(&mut p, len, 255);
    let check = ReceiveCheck {
        version: Version::V3,
        auth: Auth::None,
        interval: 100,
    };
    assert_eq!(check.check(&decode_ipv4(&p).unwrap().advert), Ok(()));
}

#[test]
fn v2_over_ipv6_and_hop_limit() {
    let src = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    let dst = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
    let vips = [Ipv6Addr::new(0xfd00, 0x198, 0x18, 0, 0, 0, 0, 10)];
    let v3 = AdvertRepr {
        version: Version::V3,
        vrid: 1,
        priority: 100,
        interval: 100,
        auth: Auth::None,
        addresses: Addresses::V6(&vips),
    };
    let mut buf = vec![0u8; v3.buffer_len()];
    v3.emit(&mut buf, ChecksumScope::Ipv6PseudoHeader { src, dst })
        .unwrap();
    assert!(decode_ipv6(&buf, src, dst, 255).is_ok());
    assert_eq!(
        decode_ipv6(&buf, src, dst, 64).map(|_| ()),
        Err(DecodeError::TtlNot255(64))
    );
    // The IPv6 pseudo-header is mandatory: another source makes the checksum bad.
    assert!(matches!(
        decode_ipv6(&buf, Ipv6Addr::LOCALHOST, dst, 255).map(|_| ()),
        Err(DecodeError::Checksum { .. })
    ));
    buf[0] = 0x21;
    assert_eq!(
        VrrpPacket::new_checked(&buf[..], Family::Ipv6).map(|_| ()),
        Err(DecodeError::V2OverIpv6)
    );
}

#[test]
fn every_counter_has_a_distinct_name() {
    let mut names: Vec<_> = DropCounter::ALL.iter().map(|c| c.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), DropCounter::ALL.len());
}

#[test]
fn encoder_refuses_what_the_protocol_does_not_define() {
    use vrrp_proto::EncodeError;
    let six = [Ipv6Addr::LOCALHOST];
    let mut buf = [0u8; 128];
    let v2_six = AdvertRepr {
        addresses: Addresses::V6(&six),
        ..v2_pass()
    };
    assert!(matches!(
        v2_six.emit(&mut buf, ChecksumScope::Message),
        Err(EncodeError::Inconsistent(_))
    ));
    let v3_auth = AdvertRepr {
        version: Version::V3,
        ..v2_pass()
    };
    assert!(matches!(
        v3_auth.emit(&mut buf, ChecksumScope::Message),
        Err(EncodeError::Inconsistent(_))
    ));
    let v3_big = AdvertRepr {
        version: Version::V3,
        interval: 4096,
        auth: Auth::None,
        ..v2_pass()
    };
    assert!(matches!(
        v3_big.emit(&mut buf, ChecksumScope::Message),
        Err(EncodeError::IntervalOutOfRange { .. })
    ));
    assert!(matches!(
        v2_pass().emit(&mut buf[..10], ChecksumScope::Message),
        Err(EncodeError::BufferTooSmall {
            needed: 20,
            available: 10
        })
    ));
}
