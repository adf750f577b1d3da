//! Cross-check with an independent decoder: frames written by our encoder are read by
//! Wireshark's dissectors (tshark), which must decode the same fields, find every checksum
//! good and raise no malformed-packet or error expert info.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;

use vrrp_proto::frames::{emit_gratuitous_arp, emit_unsolicited_na};
use vrrp_proto::ipv4::Ipv4Header;
use vrrp_proto::ipv6::Ipv6Header;
use vrrp_proto::{Addresses, AdvertRepr, Auth, ChecksumScope, Version};

const MAC: [u8; 6] = [0x02, 0x00, 0xc6, 0x12, 0x00, 0x0b];
const SRC4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 11);
const GROUP4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const SRC6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xc6ff, 0xfe12, 0x0b);
const GROUP6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

fn ipv4_frame(advert: &AdvertRepr<'_>, dst: Ipv4Addr, scope: ChecksumScope) -> Vec<u8> {
    let mut frame = vec![0u8; 14 + 20 + advert.buffer_len()];
    frame[0..6].copy_from_slice(&[0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]);
    frame[6..12].copy_from_slice(&MAC);
    frame[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let len = advert.emit(&mut frame[34..], scope).unwrap();
    Ipv4Header {
        src: SRC4,
        dst,
        protocol: 112,
        ttl: 255,
        tos: 0xc0,
        ident: 7,
        payload_len: len as u16,
    }
    .emit(&mut frame[14..])
    .unwrap();
    frame
}

fn ipv6_frame(advert: &AdvertRepr<'_>) -> Vec<u8> {
    let mut frame = vec![0u8; 14 + 40 + advert.buffer_len()];
    frame[0..6].copy_from_slice(&[0x33, 0x33, 0, 0, 0, 0x12]);
    frame[6..12].copy_from_slice(&MAC);
    frame[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
    let scope = ChecksumScope::Ipv6PseudoHeader {
        src: SRC6,
        dst: GROUP6,
    };
    let len = advert.emit(&mut frame[54..], scope).unwrap();
    Ipv6Header {
        src: SRC6,
        dst: GROUP6,
        next_header: 112,
        hop_limit: 255,
        traffic_class: 0xc0,
        payload_len: len as u16,
    }
    .emit(&mut frame[14..])
    .unwrap();
    frame
}

/// Runs tshark over `frames` with extra `-o` preferences; returns one row of fields per frame.
fn tshark(frames: &[Vec<u8>], prefs: &[&str], fields: &[&str]) -> Vec<Vec<String>> {
    let dir = tempfile_dir();
    let path = dir.join("frames.pcap");
    common::write_pcap(&path, frames);
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(&path)
        .args(["-o", "ip.check_checksum:TRUE"]);
    for pref in prefs {
        cmd.args(["-o", pref]);
    }
    cmd.args(["-T", "fields", "-E", "separator=|", "-E", "occurrence=a"]);
    for field in fields {
        cmd.args(["-e", field]);
    }
    let out = cmd.output().expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "vrrp-proto-tshark-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Expert info severities tshark reports at "error" level (malformed, bad checksum).
const EXPERT_ERROR: &str = "8388608";

/// What the decode test sends through tshark: v2 adverts without and with PASS, a v3/IPv4
/// advert with the pseudo-header checksum, a v3/IPv6 advert with 8 addresses, a GARP and an
/// unsolicited NA.
fn sample_frames() -> Vec<Vec<u8>> {
    let one = [Ipv4Addr::new(198, 18, 0, 10)];
    let three = [
        Ipv4Addr::new(198, 18, 0, 10),
        Ipv4Addr::new(198, 18, 0, 13),
        Ipv4Addr::new(198, 18, 0, 14),
    ];
    let eight: Vec<Ipv6Addr> = (1..=8)
        .map(|i| Ipv6Addr::new(0xfd00, 0x198, 0x18, 0, 0, 0, 0, i))
        .collect();
    let v2 = AdvertRepr {
        version: Version::V2,
        vrid: 51,
        priority: 130,
        interval: 1,
        auth: Auth::None,
        addresses: Addresses::V4(&one),
    };
    let v2_pass = AdvertRepr {
        vrid: 7,
        priority: 0,
        auth: Auth::pass("halpass1"),
        addresses: Addresses::V4(&three),
        ..v2
    };
    let v3 = AdvertRepr {
        version: Version::V3,
        interval: 5,
        priority: 255,
        ..v2
    };
    let v3_six = AdvertRepr {
        version: Version::V3,
        vrid: 200,
        priority: 100,
        interval: 4095,
        auth: Auth::None,
        addresses: Addresses::V6(&eight),
    };
    let mut garp = vec![0u8; 42];
    emit_gratuitous_arp(&mut garp, MAC, one[0]).unwrap();
    let mut na = vec![0u8; 86];
    emit_unsolicited_na(&mut na, MAC, SRC6, eight[0], true).unwrap();
    vec![
        ipv4_frame(&v2, GROUP4, ChecksumScope::Message),
        ipv4_frame(
            &v2_pass,
            Ipv4Addr::new(198, 18, 0, 12),
            ChecksumScope::Message,
        ),
        ipv4_frame(
            &v3,
            GROUP4,
            ChecksumScope::Ipv4PseudoHeader {
                src: SRC4,
                dst: GROUP4,
            },
        ),
        ipv6_frame(&v3_six),
        garp,
        na,
    ]
}

#[test]
fn tshark_decodes_our_adverts_and_frames_without_errors() {
    if !common::require_tool("tshark") {
        return;
    }
    let frames = sample_frames();
    let rows = tshark(
        &frames,
        &[],
        &[
            "vrrp.version",
            "vrrp.virt_rtr_id",
            "vrrp.prio",
            "vrrp.addr_count",
            "vrrp.checksum.status",
            "vrrp.auth_string",
            "ip.checksum.status",
            "arp.isgratuitous",
            "icmpv6.checksum.status",
            "icmpv6.nd.na.flag.o",
            "icmpv6.nd.na.target_address",
            "_ws.expert.severity",
            "_ws.malformed",
        ],
    );
    assert_eq!(rows.len(), frames.len(), "one row per frame: {rows:?}");
    let col = |row: usize, c: usize| rows[row][c].as_str();
    // VRRP: version, vrid, prio, count, checksum good (1).
    assert_eq!(rows[0][..5], ["2", "51", "130", "1", "1"]);
    assert_eq!(rows[1][..5], ["2", "7", "0", "3", "1"]);
    assert_eq!(col(1, 5), "halpass1");
    assert_eq!(rows[2][..5], ["3", "51", "255", "1", "1"]);
    assert_eq!(rows[3][..5], ["3", "200", "100", "8", "1"]);
    for row in 0..3 {
        assert_eq!(col(row, 6), "1", "IPv4 header checksum good in frame {row}");
    }
    assert_eq!(col(4, 7), "1", "ARP seen as gratuitous");
    assert_eq!(col(5, 8), "1", "ICMPv6 checksum good");
    assert_eq!(col(5, 9), "1", "NA override flag");
    assert_eq!(col(5, 10), "fd00:198:18::1");
    for (i, row) in rows.iter().enumerate() {
        assert!(
            !row[11].split(',').any(|s| s == EXPERT_ERROR),
            "frame {i}: error expert info {row:?}"
        );
        assert!(row[12].is_empty(), "frame {i}: malformed {row:?}");
    }
}

#[test]
fn tshark_accepts_rfc9568_message_only_checksum_with_its_preference() {
    if !common::require_tool("tshark") {
        return;
    }
    let one = [Ipv4Addr::new(198, 18, 0, 10)];
    let v3 = AdvertRepr {
        version: Version::V3,
        vrid: 51,
        priority: 130,
        interval: 100,
        auth: Auth::None,
        addresses: Addresses::V4(&one),
    };
    let frames = vec![ipv4_frame(&v3, GROUP4, ChecksumScope::Message)];
    let fields = ["vrrp.checksum.status", "_ws.malformed"];
    // With Wireshark's `v3_checksum_as_in_v2` (RFC 9568's form) the checksum is good...
    let rows = tshark(&frames, &["vrrp.v3_checksum_as_in_v2:TRUE"], &fields);
    assert_eq!(rows[0][0], "1");
    // ...and without it, bad: proof that the two forms differ and tshark checks them.
    let rows = tshark(&frames, &[], &fields);
    assert_eq!(rows[0][0], "0");
}
