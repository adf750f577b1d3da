//! Properties: any valid advertisement survives encode → decode with every field intact,
//! and decoding arbitrary bytes never panics.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use vrrp_proto::ipv4::Ipv4Header;
use vrrp_proto::{
    decode_ipv4, decode_ipv6, Addresses, AdvertRepr, Auth, ChecksumScope, Family, ReceiveCheck,
    Version, VrrpPacket,
};

#[derive(Debug, Clone)]
struct Case {
    version: Version,
    vrid: u8,
    priority: u8,
    interval: u16,
    auth: Auth,
    v4: Vec<Ipv4Addr>,
    v6: Vec<Ipv6Addr>,
    pseudo: bool,
}

fn case() -> impl Strategy<Value = Case> {
    let v2 = (
        any::<u8>(),
        any::<u8>(),
        1u16..=255,
        prop_oneof![
            Just(Auth::None),
            any::<[u8; 8]>().prop_map(Auth::Pass),
            Just(Auth::Ah)
        ],
        prop::collection::vec(any::<u32>().prop_map(Ipv4Addr::from), 0..=40),
    )
        .prop_map(|(vrid, priority, interval, auth, v4)| Case {
            version: Version::V2,
            vrid,
            priority,
            interval,
            auth,
            v4,
            v6: Vec::new(),
            pseudo: false,
        });
    let v3 = (
        any::<u8>(),
        any::<u8>(),
        1u16..=4095,
        prop::collection::vec(any::<u32>().prop_map(Ipv4Addr::from), 0..=40),
        prop::collection::vec(any::<u128>().prop_map(Ipv6Addr::from), 0..=20),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(vrid, priority, interval, v4, v6, six, pseudo)| Case {
            version: Version::V3,
            vrid,
            priority,
            interval,
            auth: Auth::None,
            v4: if six { Vec::new() } else { v4 },
            v6: if six { v6 } else { Vec::new() },
            pseudo,
        });
    prop_oneof![v2, v3]
}

proptest! {
    // The codec is cheap: many cases cost a fraction of a second.
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn encode_then_decode_gives_the_same_fields(c in case()) {
        let src4 = Ipv4Addr::new(198, 18, 0, 11);
        let dst4 = Ipv4Addr::new(224, 0, 0, 18);
        let src6 = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
        let dst6 = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
        let ipv6 = !c.v6.is_empty();
        let addresses = if ipv6 { Addresses::V6(&c.v6) } else { Addresses::V4(&c.v4) };
        let repr = AdvertRepr {
            version: c.version, vrid: c.vrid, priority: c.priority, interval: c.interval,
            auth: c.auth, addresses,
        };
        let scope = match (ipv6, c.pseudo) {
            (true, _) => ChecksumScope::Ipv6PseudoHeader { src: src6, dst: dst6 },
            (false, true) => ChecksumScope::Ipv4PseudoHeader { src: src4, dst: dst4 },
            (false, false) => ChecksumScope::Message,
        };
        let mut buf = vec![0u8; 20 + repr.buffer_len()];
        let len = repr.emit(&mut buf[20..], scope).unwrap();
        prop_assert_eq!(len, repr.buffer_len());
        let rx = if ipv6 {
            decode_ipv6(&buf[20..], src6, dst6, 255).unwrap()
        } else {
            Ipv4Header { src: src4, dst: dst4, protocol: 112, ttl: 255, tos: 0xc0, ident: 0,
                         payload_len: len as u16 }.emit(&mut buf).unwrap();
            decode_ipv4(&buf).unwrap()
        };
        let a = rx.advert;
        prop_assert_eq!(a.version(), c.version);
        prop_assert_eq!(a.vrid(), c.vrid);
        prop_assert_eq!(a.priority(), c.priority);
        prop_assert_eq!(a.interval(), c.interval);
        prop_assert_eq!(a.auth_type(), c.auth.auth_type());
        let want: Vec<IpAddr> = if ipv6 {
            c.v6.iter().copied().map(IpAddr::from).collect()
        } else {
            c.v4.iter().copied().map(IpAddr::from).collect()
        };
        prop_assert_eq!(a.addresses().collect::<Vec<_>>(), want);
        if let Auth::Pass(data) = c.auth {
            prop_assert_eq!(a.auth_data(), Some(&data));
        }
        let check = ReceiveCheck { version: c.version, auth: c.auth, interval: c.interval };
        prop_assert_eq!(check.check(&a), Ok(()));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(rx) = decode_ipv4(&bytes) {
            // Whatever decodes must be readable in full.
            let _ = rx.advert.addresses().count();
            let _ = (rx.advert.auth_data(), rx.advert.interval_centis());
        }
        let six = Ipv6Addr::LOCALHOST;
        let _ = decode_ipv6(&bytes, six, six, 255).map(|rx| rx.advert.addresses().count());
        for family in [Family::Ipv4, Family::Ipv6] {
            if let Ok(a) = VrrpPacket::new_checked(&bytes[..], family) {
                prop_assert_eq!(a.addresses().count(), usize::from(a.addr_count()));
            }
        }
    }

    #[test]
    fn mutated_valid_packets_never_panic(
        flips in prop::collection::vec((0usize..64, any::<u8>()), 1..6),
        trunc in 0usize..64,
    ) {
        let vips = [Ipv4Addr::new(198, 18, 0, 10), Ipv4Addr::new(198, 18, 0, 13)];
        let repr = AdvertRepr { version: Version::V2, vrid: 51, priority: 130, interval: 1,
            auth: Auth::pass("halpass1"), addresses: Addresses::V4(&vips) };
        let mut buf = vec![0u8; 20 + repr.buffer_len()];
        let len = repr.emit(&mut buf[20..], ChecksumScope::Message).unwrap();
        Ipv4Header { src: Ipv4Addr::new(198, 18, 0, 11), dst: Ipv4Addr::new(224, 0, 0, 18),
            protocol: 112, ttl: 255, tos: 0xc0, ident: 0, payload_len: len as u16 }
            .emit(&mut buf).unwrap();
        for (at, value) in flips {
            if let Some(b) = buf.get_mut(at) { *b ^= value; }
        }
        buf.truncate(trunc.max(1).min(buf.len()));
        let _ = decode_ipv4(&buf).map(|rx| rx.advert.addresses().count());
    }
}
