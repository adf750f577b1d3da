//! What the benchmarks share: the packets and routers they run on and one step of each
//! measured path, so that criterion (`benches/`) and the fixed-iteration driver for
//! callgrind (`examples/icount.rs`) measure the same code.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrrp_node::fsm::{Action, Advert, Duration, Event, Instant, RouterConfig, VirtualRouter};
use vrrp_proto::ipv4::Ipv4Header;
use vrrp_proto::{
    decode_ipv4, decode_ipv6, Addresses, AdvertRepr, Auth, ChecksumScope, ReceiveCheck, Version,
};

const SRC4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 11);
const DST4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const SRC6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x0b);
const DST6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// The codec's inputs: a v3/IPv4 advert with 1 address as an IPv4 raw socket delivers it
/// (IP header included), a v3/IPv6 advert with 8 addresses as an IPv6 raw socket delivers
/// it (payload only), and what decoding checks them against.
#[derive(Debug)]
pub struct Codec {
    check: ReceiveCheck,
    vip4: [Ipv4Addr; 1],
    vip6: Vec<Ipv6Addr>,
    packet4: [u8; 20 + 12],
    payload6: Vec<u8>,
    scope4: ChecksumScope,
    scope6: ChecksumScope,
}

impl Default for Codec {
    fn default() -> Self {
        Codec::new()
    }
}

impl Codec {
    /// The inputs, encoded once.
    pub fn new() -> Codec {
        let mut c = Codec {
            check: ReceiveCheck {
                version: Version::V3,
                auth: Auth::None,
                interval: 100,
            },
            vip4: [Ipv4Addr::new(198, 18, 0, 10)],
            vip6: (1..=8)
                .map(|i| Ipv6Addr::new(0xfd00, 0x198, 0x18, 0, 0, 0, 0, i))
                .collect(),
            packet4: [0u8; 20 + 12],
            payload6: Vec::new(),
            scope4: ChecksumScope::Ipv4PseudoHeader {
                src: SRC4,
                dst: DST4,
            },
            scope6: ChecksumScope::Ipv6PseudoHeader {
                src: SRC6,
                dst: DST6,
            },
        };
        let mut packet4 = [0u8; 20 + 12];
        let len = c
            .advert4()
            .emit(&mut packet4[20..], c.scope4)
            .expect("encode");
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
        c.packet4 = packet4;
        let mut payload6 = vec![0u8; c.advert6().buffer_len()];
        c.advert6().emit(&mut payload6, c.scope6).expect("encode");
        c.payload6 = payload6;
        c
    }

    /// The v3/IPv4 advert with 1 address.
    pub fn advert4(&self) -> AdvertRepr<'_> {
        AdvertRepr {
            version: Version::V3,
            vrid: 51,
            priority: 130,
            interval: 100,
            auth: Auth::None,
            addresses: Addresses::V4(&self.vip4),
        }
    }

    /// The v3/IPv6 advert with 8 addresses.
    pub fn advert6(&self) -> AdvertRepr<'_> {
        AdvertRepr {
            addresses: Addresses::V6(&self.vip6),
            ..self.advert4()
        }
    }

    /// decode+verify v3/IPv4, 1 address.
    pub fn decode4(&self) -> u8 {
        let rx = decode_ipv4(black_box(&self.packet4)).expect("valid");
        self.check.check(&rx.advert).expect("accepted");
        black_box(rx.advert.priority())
    }

    /// decode+verify v3/IPv6, 8 addresses.
    pub fn decode6(&self) -> u8 {
        let rx = decode_ipv6(black_box(&self.payload6), SRC6, DST6, 255).expect("valid");
        self.check.check(&rx.advert).expect("accepted");
        black_box(rx.advert.priority())
    }

    /// decode+verify v3/IPv6, 8 addresses, and read them.
    pub fn decode6_addrs(&self) -> usize {
        let rx = decode_ipv6(black_box(&self.payload6), SRC6, DST6, 255).expect("valid");
        self.check.check(&rx.advert).expect("accepted");
        black_box(rx.advert.addresses().filter(|a| a.is_ipv6()).count())
    }

    /// encode v3/IPv4, 1 address, into `out`.
    pub fn encode4(&self, out: &mut [u8]) {
        let advert = self.advert4();
        let _ = black_box(black_box(&advert).emit(out, black_box(self.scope4)));
    }

    /// encode v3/IPv6, 8 addresses, into `out`.
    pub fn encode6(&self, out: &mut [u8]) {
        let advert = self.advert6();
        let _ = black_box(black_box(&advert).emit(out, black_box(self.scope6)));
    }
}

/// A v3 router at 198.18.0.10 with `priority`, started and drained.
pub fn router(priority: u8) -> VirtualRouter {
    let me = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 10));
    let mut vr = VirtualRouter::new(RouterConfig::new(51, Version::V3, priority, me))
        .expect("valid bench config");
    vr.handle(Instant::ZERO, Event::Startup);
    while vr.poll_action().is_some() {}
    vr
}

/// A v3 advert from 198.18.0.20 with `priority`.
pub fn advert(priority: u8) -> Event {
    Event::Advert(Advert {
        source: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 20)),
        version: Version::V3,
        vrid: 51,
        priority,
        max_advert_interval: 100,
    })
}

/// Handles one advert a millisecond after the last and drains its actions, as the driver
/// does per received packet; returns the adverts sent.
pub fn per_advert(vr: &mut VirtualRouter, now: &mut Instant, ev: Event) -> usize {
    *now += Duration::from_millis(1);
    vr.handle(*now, ev);
    let mut n = 0;
    while let Some(a) = vr.poll_action() {
        n += usize::from(matches!(a, Action::SendAdvert { .. }));
    }
    n
}

/// A Master's Adver_Timer firing, and its actions drained.
pub fn adver_timer(vr: &mut VirtualRouter) {
    let d = vr.next_deadline().unwrap_or(Instant::ZERO);
    vr.handle_timeout(black_box(d));
    while let Some(a) = vr.poll_action() {
        black_box(a);
    }
}
