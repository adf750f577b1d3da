//! VRRP codec: decode + verify (IP checks, header, length, checksum, configured checks) and
//! encode, for a v3/IPv4 advert with 1 address and a v3/IPv6 advert with 8 addresses.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vrrp_proto::ipv4::Ipv4Header;
use vrrp_proto::{
    decode_ipv4, decode_ipv6, Addresses, AdvertRepr, Auth, ChecksumScope, ReceiveCheck, Version,
};

const SRC4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 11);
const DST4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const SRC6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x0b);
const DST6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

fn v3_ipv4_one(vips: &[Ipv4Addr]) -> AdvertRepr<'_> {
    AdvertRepr {
        version: Version::V3,
        vrid: 51,
        priority: 130,
        interval: 100,
        auth: Auth::None,
        addresses: Addresses::V4(vips),
    }
}

fn codec(c: &mut Criterion) {
    let check = ReceiveCheck {
        version: Version::V3,
        auth: Auth::None,
        interval: 100,
    };

    // v3 / IPv4 / 1 address, as an IPv4 raw socket delivers it (IP header included).
    let vip4 = [Ipv4Addr::new(198, 18, 0, 10)];
    let advert4 = v3_ipv4_one(&vip4);
    let scope4 = ChecksumScope::Ipv4PseudoHeader {
        src: SRC4,
        dst: DST4,
    };
    let mut packet4 = [0u8; 20 + 12];
    let len = advert4.emit(&mut packet4[20..], scope4).expect("encode");
    Ipv4Header {
        src: SRC4,
        dst: DST4,
        protocol: 112,
        ttl: 255,
        tos: 0xc0,
        ident: 1,
        payload_len: len as u16,
    }
    .emit(&mut packet4)
    .expect("header");

    // v3 / IPv6 / 8 addresses, as an IPv6 raw socket delivers it (payload only).
    let vip6: Vec<Ipv6Addr> = (1..=8)
        .map(|i| Ipv6Addr::new(0xfd00, 0x198, 0x18, 0, 0, 0, 0, i))
        .collect();
    let advert6 = AdvertRepr {
        addresses: Addresses::V6(&vip6),
        ..advert4
    };
    let scope6 = ChecksumScope::Ipv6PseudoHeader {
        src: SRC6,
        dst: DST6,
    };
    let mut payload6 = vec![0u8; advert6.buffer_len()];
    advert6.emit(&mut payload6, scope6).expect("encode");

    let mut group = c.benchmark_group("vrrp-codec");
    group.throughput(Throughput::Elements(1));
    group.bench_function("decode+verify v3/ipv4 1 addr", |b| {
        b.iter(|| {
            let rx = decode_ipv4(black_box(&packet4)).expect("valid");
            check.check(&rx.advert).expect("accepted");
            black_box(rx.advert.priority())
        })
    });
    group.bench_function("decode+verify v3/ipv6 8 addrs", |b| {
        b.iter(|| {
            let rx = decode_ipv6(black_box(&payload6), SRC6, DST6, 255).expect("valid");
            check.check(&rx.advert).expect("accepted");
            black_box(rx.advert.priority())
        })
    });
    group.bench_function("decode+verify+read addrs v3/ipv6 8 addrs", |b| {
        b.iter(|| {
            let rx = decode_ipv6(black_box(&payload6), SRC6, DST6, 255).expect("valid");
            check.check(&rx.advert).expect("accepted");
            black_box(rx.advert.addresses().filter(|a| a.is_ipv6()).count())
        })
    });
    let mut out = [0u8; 256];
    group.bench_function("encode v3/ipv4 1 addr", |b| {
        b.iter(|| black_box(&advert4).emit(&mut out, black_box(scope4)))
    });
    group.bench_function("encode v3/ipv6 8 addrs", |b| {
        b.iter(|| black_box(&advert6).emit(&mut out, black_box(scope6)))
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
