//! The VRRP receive path on arbitrary bytes: as an IPv4 raw-socket packet and as an IPv6
//! raw-socket payload. Whatever decodes must re-encode to an advert that decodes to the
//! same fields (an oracle, not just "no panic").
#![no_main]

use std::net::Ipv6Addr;

use libfuzzer_sys::fuzz_target;
use vrrp_proto::{
    decode_ipv4, decode_ipv6, AdvertRepr, Auth, ChecksumScope, Family, ReceiveCheck, Version,
    VrrpPacket,
};

fn round_trip<T: AsRef<[u8]>>(a: &VrrpPacket<T>) {
    let repr = AdvertRepr::parse(a);
    let scope = match a.family() {
        Family::Ipv4 => ChecksumScope::Message,
        Family::Ipv6 => ChecksumScope::Ipv6PseudoHeader {
            src: Ipv6Addr::LOCALHOST,
            dst: Ipv6Addr::LOCALHOST,
        },
    };
    let mut buf = [0u8; 8 + 255 * 16 + 8];
    let len = repr
        .emit(&mut buf, scope)
        .expect("a decoded advert re-encodes");
    let b = VrrpPacket::new_checked(&buf[..len], a.family()).expect("re-encoded advert decodes");
    // The same description, addresses included, and the same authentication type.
    assert_eq!(AdvertRepr::parse(&b), repr);
    assert_eq!(b.auth_type(), a.auth_type());
    assert!(b.addresses().eq(a.addresses()));
    let check = ReceiveCheck {
        version: a.version(),
        auth: repr.auth,
        interval: a.interval(),
    };
    assert_eq!(check.check(&b), Ok(()));
}

fuzz_target!(|data: &[u8]| {
    if let Ok(rx) = decode_ipv4(data) {
        round_trip(&rx.advert);
    }
    let any = Ipv6Addr::LOCALHOST;
    if let Ok(rx) = decode_ipv6(data, any, any, 255) {
        round_trip(&rx.advert);
    }
    for family in [Family::Ipv4, Family::Ipv6] {
        if let Ok(a) = VrrpPacket::new_checked(data, family) {
            round_trip(&a);
            let _ = ReceiveCheck {
                version: Version::V2,
                auth: Auth::pass("x"),
                interval: 1,
            }
            .check(&a);
        }
    }
});
