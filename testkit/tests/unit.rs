//! Tests that need no root: parsing, waiting, config rendering.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use testkit::{parse_addr_json, read_pcap, wait_until, AddrPrefix, KeepalivedConf, VrrpInstance};

#[test]
fn addr_json_is_parsed() {
    let json = r#"[{"ifindex":2,"ifname":"eth0","addr_info":[
        {"family":"inet","local":"198.18.0.1","prefixlen":24},
        {"family":"inet","local":"198.18.0.100","prefixlen":24,"label":"eth0"},
        {"family":"inet6","local":"fe80::1","prefixlen":64}]}]"#;
    let a = parse_addr_json(json).expect("parse");
    assert_eq!(
        a,
        vec![
            "198.18.0.1".parse::<IpAddr>().expect("ip"),
            "198.18.0.100".parse().expect("ip"),
            "fe80::1".parse().expect("ip"),
        ]
    );
    assert!(parse_addr_json("[]").expect("empty").is_empty());
    assert!(parse_addr_json("not json").is_err());
    assert!(parse_addr_json(r#"[{"addr_info":[{"local":"x"}]}]"#).is_err());
}

#[test]
fn only_the_test_ranges_are_accepted() {
    assert!(AddrPrefix::parse("198.18.0.1/24").is_ok());
    assert!(AddrPrefix::parse("198.19.255.254/15").is_ok());
    assert!(AddrPrefix::parse("fd00:198:18::1/64").is_ok());
    assert!(AddrPrefix::parse("198.20.0.1/24").is_err());
    assert!(AddrPrefix::parse("192.168.1.1/24").is_err());
    assert!(AddrPrefix::parse("fd00:198:19::1/64").is_err());
    assert!(AddrPrefix::parse("198.18.0.1").is_err());
    assert!(AddrPrefix::parse("198.18.0.1/33").is_err());
}

#[test]
fn wait_until_is_bounded() {
    let t = Instant::now();
    let r = wait_until(
        Duration::from_millis(100),
        Duration::from_millis(10),
        || false,
    );
    let e = r.expect_err("never true");
    assert!(e.waited >= Duration::from_millis(100));
    assert!(t.elapsed() < Duration::from_millis(500));
    let mut n = 0;
    let took = wait_until(Duration::from_secs(5), Duration::from_millis(1), || {
        n += 1;
        n == 3
    })
    .expect("true on 3rd call");
    assert!(took < Duration::from_secs(1));
    assert_eq!(n, 3);
    // A poll interval longer than the timeout does not overshoot.
    let t = Instant::now();
    assert!(wait_until(Duration::from_millis(50), Duration::from_secs(10), || false).is_err());
    assert!(t.elapsed() < Duration::from_secs(1));
}

fn pcap_bytes(nanos: bool, big_endian: bool, frames: &[&[u8]]) -> Vec<u8> {
    let w32 = |v: &mut Vec<u8>, x: u32| {
        if big_endian {
            v.extend_from_slice(&x.to_be_bytes())
        } else {
            v.extend_from_slice(&x.to_le_bytes())
        }
    };
    let mut v = Vec::new();
    w32(&mut v, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
    let (maj, min) = (2u16, 4u16);
    if big_endian {
        v.extend_from_slice(&maj.to_be_bytes());
        v.extend_from_slice(&min.to_be_bytes());
    } else {
        v.extend_from_slice(&maj.to_le_bytes());
        v.extend_from_slice(&min.to_le_bytes());
    }
    w32(&mut v, 0);
    w32(&mut v, 0);
    w32(&mut v, 65535);
    w32(&mut v, 1);
    for (i, f) in frames.iter().enumerate() {
        w32(&mut v, 1_700_000_000 + i as u32);
        w32(&mut v, 500);
        w32(&mut v, f.len() as u32);
        w32(&mut v, f.len() as u32);
        v.extend_from_slice(f);
    }
    v
}

/// A gratuitous ARP request for 198.18.0.100 from 02:00:c6:12:00:01.
fn garp() -> Vec<u8> {
    let mac = [2, 0, 0xc6, 0x12, 0, 1];
    let ip = [198, 18, 0, 100];
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&ip);
    f
}

#[test]
fn pcap_reader_reads_all_forms() {
    let g = garp();
    for nanos in [false, true] {
        for be in [false, true] {
            let bytes = pcap_bytes(nanos, be, &[&g, &[1, 2, 3]]);
            let p = read_pcap(&bytes).expect("parse");
            assert_eq!(p.linktype, 1);
            assert_eq!(p.frames.len(), 2);
            assert_eq!(p.frames[0].data, g);
            let frac = if nanos {
                Duration::from_nanos(500)
            } else {
                Duration::from_micros(500)
            };
            assert_eq!(p.frames[1].ts, Duration::from_secs(1_700_000_001) + frac);
            assert_eq!(
                p.frames[0].gratuitous_arp_ip(),
                Some("198.18.0.100".parse().expect("ip"))
            );
            assert_eq!(p.frames[0].ethertype(), Some(0x0806));
            assert_eq!(p.frames[1].ethertype(), None);
            assert!(!p.frames[0].is_vrrp());
        }
    }
    let bytes = pcap_bytes(false, false, &[&g]);
    assert!(read_pcap(&bytes[..bytes.len() - 1]).is_err());
    assert!(read_pcap(&bytes[..10]).is_err());
    assert!(read_pcap(&[0u8; 24]).is_err());
}

#[test]
fn keepalived_conf_renders() {
    let mut i = VrrpInstance::new("VI_1", "eth0", 51, 110);
    i.state = "MASTER".into();
    i.advert_int = "0.1".into();
    i.version = Some(3);
    i.vips.push("198.18.0.100/24".into());
    i.unicast_src_ip = Some("198.18.0.1".into());
    i.unicast_peers.push("198.18.0.2".into());
    i.auth_pass = Some("secret".into());
    i.nopreempt = true;
    let conf = KeepalivedConf {
        router_id: Some("lb1".into()),
        vrrp_version: Some(3),
        instances: vec![i],
        ..Default::default()
    }
    .render();
    for want in [
        "router_id lb1",
        "vrrp_version 3",
        "vrrp_instance VI_1 {",
        "state MASTER",
        "interface eth0",
        "virtual_router_id 51",
        "priority 110",
        "advert_int 0.1",
        "nopreempt",
        "auth_pass secret",
        "unicast_src_ip 198.18.0.1",
        "unicast_peer {\n        198.18.0.2\n    }",
        "virtual_ipaddress {\n        198.18.0.100/24\n    }",
    ] {
        assert!(conf.contains(want), "{want:?} not in:\n{conf}");
    }
    assert_eq!(conf.matches('{').count(), conf.matches('}').count());
}
