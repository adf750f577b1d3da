//! VRRP codec: decode + verify (IP checks, header, length, checksum, configured checks) and
//! encode, for a v3/IPv4 advert with 1 address and a v3/IPv6 advert with 8 addresses.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn codec(c: &mut Criterion) {
    let f = benches::Codec::new();
    let mut group = c.benchmark_group("vrrp-codec");
    group.throughput(Throughput::Elements(1));
    group.bench_function("decode+verify v3/ipv4 1 addr", |b| b.iter(|| f.decode4()));
    group.bench_function("decode+verify v3/ipv6 8 addrs", |b| b.iter(|| f.decode6()));
    group.bench_function("decode+verify+read addrs v3/ipv6 8 addrs", |b| {
        b.iter(|| f.decode6_addrs())
    });
    let mut out = [0u8; 256];
    group.bench_function("encode v3/ipv4 1 addr", |b| b.iter(|| f.encode4(&mut out)));
    group.bench_function("encode v3/ipv6 8 addrs", |b| b.iter(|| f.encode6(&mut out)));
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
