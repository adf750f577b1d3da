//! Test vectors from real packets: keepalived 2.2.7 captures (testdata/vrrp, with their
//! tcpdump decodes beside them). Each decodes to the fields tcpdump shows, and re-encoding
//! the decoded fields gives the captured bytes back.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::{ethertype, read_pcap};
use vrrp_proto::frames::{emit_gratuitous_arp, GARP_FRAME_LEN};
use vrrp_proto::ipv4::{Ipv4Header, Ipv4Packet};
use vrrp_proto::ipv6::Ipv6Packet;
use vrrp_proto::{
    decode_ipv4, decode_ipv6, AdvertRepr, Auth, AuthType, ChecksumForm, ChecksumScope,
    ReceiveCheck, Received, Version,
};

/// What tcpdump printed for one advertisement.
struct Expected {
    version: Version,
    vrid: u8,
    priority: u8,
    auth: AuthType,
    interval: u16,
    src: &'static str,
    dst: &'static str,
    addrs: &'static [&'static str],
    pass: Option<&'static [u8; 8]>,
}

const NOAUTH: Expected = Expected {
    version: Version::V2,
    vrid: 51,
    priority: 130,
    auth: AuthType::None,
    interval: 1,
    src: "198.18.0.11",
    dst: "224.0.0.18",
    addrs: &["198.18.0.10"],
    pass: None,
};

fn only_frame(name: &str) -> Vec<u8> {
    let frames = read_pcap(name);
    assert_eq!(frames.len(), 1, "{name}: one frame");
    frames.into_iter().next().unwrap()
}

fn assert_fields(name: &str, rx: &Received<'_>, want: &Expected) {
    let a = &rx.advert;
    assert_eq!(a.version(), want.version, "{name}: version");
    assert_eq!(a.vrid(), want.vrid, "{name}: vrid");
    assert_eq!(a.priority(), want.priority, "{name}: priority");
    assert_eq!(a.auth_type(), want.auth, "{name}: auth type");
    assert_eq!(a.interval(), want.interval, "{name}: interval");
    assert_eq!(rx.src, want.src.parse::<IpAddr>().unwrap(), "{name}: src");
    assert_eq!(rx.dst, want.dst.parse::<IpAddr>().unwrap(), "{name}: dst");
    let addrs: Vec<IpAddr> = a.addresses().collect();
    let want_addrs: Vec<IpAddr> = want.addrs.iter().map(|s| s.parse().unwrap()).collect();
    assert_eq!(addrs, want_addrs, "{name}: addresses");
    assert_eq!(a.addr_count() as usize, want.addrs.len(), "{name}: count");
    if let Some(pass) = want.pass {
        assert_eq!(a.auth_data(), Some(pass), "{name}: auth data");
    }
}

/// Re-encodes the advertisement from its parsed description, with the checksum form the
/// sender used.
fn reencode(rx: &Received<'_>) -> Vec<u8> {
    let repr = AdvertRepr::parse(&rx.advert);
    let scope = match (rx.checksum_form, rx.src, rx.dst) {
        (ChecksumForm::Message, _, _) => ChecksumScope::Message,
        (ChecksumForm::Ipv4PseudoHeader, IpAddr::V4(src), IpAddr::V4(dst)) => {
            ChecksumScope::Ipv4PseudoHeader { src, dst }
        }
        (ChecksumForm::Ipv6PseudoHeader, IpAddr::V6(src), IpAddr::V6(dst)) => {
            ChecksumScope::Ipv6PseudoHeader { src, dst }
        }
        other => panic!("inconsistent checksum form {other:?}"),
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    let len = repr.emit(&mut buf, scope).unwrap();
    assert_eq!(len, buf.len());
    buf
}

/// Decodes a captured IPv4 frame, checks tcpdump's fields, and re-encodes the advert and the
/// whole IP packet.
fn check_ipv4(name: &str, frame: &[u8], want: &Expected) -> ChecksumForm {
    assert_eq!(ethertype(frame), 0x0800, "{name}: IPv4 frame");
    let packet = &frame[14..];
    let rx = decode_ipv4(packet).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_fields(name, &rx, want);
    let ip = Ipv4Packet::new_checked(packet).unwrap();
    assert!(ip.verify_header_checksum(), "{name}: IP header checksum");
    if !rx.behind_ah {
        let message = reencode(&rx);
        assert_eq!(message, ip.payload(), "{name}: re-encoded message");
        let mut whole = vec![0u8; 20 + message.len()];
        Ipv4Header {
            src: ip.src_addr(),
            dst: ip.dst_addr(),
            protocol: 112,
            ttl: 255,
            tos: 0xc0,
            ident: ip.ident(),
            payload_len: message.len() as u16,
        }
        .emit(&mut whole)
        .unwrap();
        whole[20..].copy_from_slice(&message);
        assert_eq!(
            whole,
            &packet[..ip.total_len()],
            "{name}: re-encoded IP packet"
        );
    }
    rx.checksum_form
}

#[test]
fn v2_noauth() {
    let form = check_ipv4("v2-noauth", &only_frame("vrrp-v2-noauth.pcap"), &NOAUTH);
    assert_eq!(form, ChecksumForm::Message);
}

#[test]
fn v2_auth_pass() {
    let want = Expected {
        auth: AuthType::Pass,
        pass: Some(b"halpass1"),
        ..NOAUTH
    };
    check_ipv4("v2-auth-pass", &only_frame("vrrp-v2-auth-pass.pcap"), &want);
    // And the configured checks pass with the same password, fail with another.
    let frame = only_frame("vrrp-v2-auth-pass.pcap");
    let rx = decode_ipv4(&frame[14..]).unwrap();
    let good = ReceiveCheck {
        version: Version::V2,
        auth: Auth::pass("halpass1"),
        interval: 1,
    };
    good.check(&rx.advert).unwrap();
    let bad = ReceiveCheck {
        auth: Auth::pass("halpass2"),
        ..good
    };
    assert_eq!(
        bad.check(&rx.advert),
        Err(vrrp_proto::DecodeError::AuthFailure)
    );
}

#[test]
fn v2_multi_vip() {
    let want = Expected {
        auth: AuthType::Pass,
        pass: Some(b"halpass1"),
        addrs: &["198.18.0.10", "198.18.0.13", "198.18.0.14"],
        ..NOAUTH
    };
    check_ipv4("v2-multi-vip", &only_frame("vrrp-v2-multi-vip.pcap"), &want);
}

#[test]
fn v2_priority0() {
    let want = Expected {
        priority: 0,
        ..NOAUTH
    };
    check_ipv4("v2-priority0", &only_frame("vrrp-v2-priority0.pcap"), &want);
}

#[test]
fn v2_unicast() {
    let want = Expected {
        auth: AuthType::Pass,
        pass: Some(b"halpass1"),
        dst: "198.18.0.12",
        ..NOAUTH
    };
    check_ipv4("v2-unicast", &only_frame("vrrp-v2-unicast.pcap"), &want);
}

#[test]
fn v2_auth_ah_is_found_behind_the_ah_header() {
    let frame = only_frame("vrrp-v2-auth-ah.pcap");
    let rx = decode_ipv4(&frame[14..]).unwrap();
    assert!(rx.behind_ah);
    let want = Expected {
        auth: AuthType::Ah,
        ..NOAUTH
    };
    assert_fields("v2-auth-ah", &rx, &want);
}

const V3: Expected = Expected {
    version: Version::V3,
    interval: 10,
    ..NOAUTH
};

#[test]
fn v3_ipv4_uses_keepalived_pseudo_header_checksum() {
    let form = check_ipv4(
        "v3-advert-0.1s",
        &only_frame("vrrp-v3-advert-0.1s.pcap"),
        &V3,
    );
    assert_eq!(form, ChecksumForm::Ipv4PseudoHeader);
}

#[test]
fn v3_priority0() {
    let want = Expected { priority: 0, ..V3 };
    check_ipv4("v3-priority0", &only_frame("vrrp-v3-priority0.pcap"), &want);
}

#[test]
fn v3_unicast() {
    let want = Expected {
        dst: "198.18.0.12",
        ..V3
    };
    let form = check_ipv4("v3-unicast", &only_frame("vrrp-v3-unicast.pcap"), &want);
    assert_eq!(form, ChecksumForm::Ipv4PseudoHeader);
}

#[test]
fn v3_ipv6() {
    let frame = only_frame("vrrp-v3-ipv6.pcap");
    assert_eq!(ethertype(&frame), 0x86dd);
    let ip = Ipv6Packet::new_checked(&frame[14..]).unwrap();
    assert_eq!(ip.next_header(), 112);
    let rx = decode_ipv6(ip.payload(), ip.src_addr(), ip.dst_addr(), ip.hop_limit()).unwrap();
    let want = Expected {
        src: "fe80::c6ff:fe12:b",
        dst: "ff02::12",
        addrs: &["2001:2::10"],
        ..V3
    };
    assert_fields("v3-ipv6", &rx, &want);
    assert_eq!(rx.checksum_form, ChecksumForm::Ipv6PseudoHeader);
    assert_eq!(reencode(&rx), ip.payload());
}

#[test]
fn v3_failover_sequence_decodes_every_advert_in_order() {
    let frames = read_pcap("vrrp-v3-failover-sequence.pcap");
    let mut seen = Vec::new();
    let mut garps = 0;
    for frame in &frames {
        match ethertype(frame) {
            0x0800 => {
                let rx = decode_ipv4(&frame[14..]).unwrap();
                assert_eq!(reencode(&rx), rx.advert.as_bytes());
                seen.push((rx.src.to_string(), rx.advert.priority()));
            }
            0x0806 => {
                // A gratuitous ARP is a request whose sender and target IP are the VIP.
                if frame[14 + 14..14 + 18] == frame[14 + 24..14 + 28] {
                    garps += 1;
                }
            }
            other => panic!("unexpected ethertype {other:#x}"),
        }
    }
    // tcpdump: ids 1-6 from .11 (130), 16 from .12 (120), ids 9-30 from .11 (130), then prio 0.
    let from = |src: &str, prio: u8| seen.iter().filter(|(s, p)| s == src && *p == prio).count();
    assert_eq!(from("198.18.0.11", 130), 6 + 22);
    assert_eq!(from("198.18.0.12", 120), 16);
    assert_eq!(seen.last(), Some(&("198.18.0.11".to_string(), 0)));
    assert_eq!(garps, 15, "three takeovers, five GARPs each");
}

#[test]
fn garp_matches_keepalived_byte_for_byte() {
    let frame = only_frame("garp-new-master.pcap");
    let mut buf = [0u8; 64];
    let len = emit_gratuitous_arp(
        &mut buf,
        [0x02, 0x00, 0xc6, 0x12, 0x00, 0x0b],
        Ipv4Addr::new(198, 18, 0, 10),
    )
    .unwrap();
    assert_eq!(len, GARP_FRAME_LEN);
    assert_eq!(&buf[..len], &frame[..len]);
}
