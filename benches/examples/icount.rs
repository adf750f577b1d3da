//! A fixed-iteration driver of the codec and state-machine benchmark bodies, for
//! `valgrind --tool=callgrind`: instruction counts do not depend on machine load, criterion's
//! wall-clock figures do. `icount <bench> <iterations>`; the per-iteration count is the
//! difference of two runs (N and 2N iterations) divided by N, which cancels the setup.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrrp_node::fsm::{
    Action, Advert, Duration, Event, Instant, RouterConfig, State, VirtualRouter,
};
use vrrp_node::sim::scenario;
use vrrp_proto::ipv4::Ipv4Header;
use vrrp_proto::{
    decode_ipv4, decode_ipv6, Addresses, AdvertRepr, Auth, ChecksumScope, ReceiveCheck, Version,
};

const SRC4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 11);
const DST4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const SRC6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x0b);
const DST6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

fn router(priority: u8) -> VirtualRouter {
    let me = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 10));
    let mut vr = VirtualRouter::new(RouterConfig::new(51, Version::V3, priority, me))
        .expect("valid bench config");
    vr.handle(Instant::ZERO, Event::Startup);
    while vr.poll_action().is_some() {}
    vr
}

fn advert(priority: u8) -> Event {
    Event::Advert(Advert {
        source: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 20)),
        version: Version::V3,
        vrid: 51,
        priority,
        max_advert_interval: 100,
    })
}

fn per_advert(vr: &mut VirtualRouter, now: &mut Instant, ev: Event) -> usize {
    *now += Duration::from_millis(1);
    vr.handle(*now, ev);
    let mut n = 0;
    while let Some(a) = vr.poll_action() {
        n += usize::from(matches!(a, Action::SendAdvert { .. }));
    }
    n
}

fn codec(which: &str, n: u64) {
    let check = ReceiveCheck {
        version: Version::V3,
        auth: Auth::None,
        interval: 100,
    };
    let vip4 = [Ipv4Addr::new(198, 18, 0, 10)];
    let advert4 = AdvertRepr {
        version: Version::V3,
        vrid: 51,
        priority: 130,
        interval: 100,
        auth: Auth::None,
        addresses: Addresses::V4(&vip4),
    };
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
    let mut out = [0u8; 256];
    for _ in 0..n {
        match which {
            "decode4" => {
                let rx = decode_ipv4(black_box(&packet4)).expect("valid");
                check.check(&rx.advert).expect("accepted");
                black_box(rx.advert.priority());
            }
            "decode6" => {
                let rx = decode_ipv6(black_box(&payload6), SRC6, DST6, 255).expect("valid");
                check.check(&rx.advert).expect("accepted");
                black_box(rx.advert.priority());
            }
            "decode6addrs" => {
                let rx = decode_ipv6(black_box(&payload6), SRC6, DST6, 255).expect("valid");
                check.check(&rx.advert).expect("accepted");
                black_box(rx.advert.addresses().filter(|a| a.is_ipv6()).count());
            }
            "encode4" => {
                let _ = black_box(black_box(&advert4).emit(&mut out, black_box(scope4)));
            }
            "encode6" => {
                let _ = black_box(black_box(&advert6).emit(&mut out, black_box(scope6)));
            }
            _ => unreachable!(),
        }
    }
}

fn fsm(which: &str, n: u64) {
    match which {
        "backup_accepts" => {
            let mut vr = router(100);
            let mut now = Instant::ZERO;
            let ev = advert(200);
            for _ in 0..n {
                black_box(per_advert(&mut vr, &mut now, black_box(ev)));
            }
            assert_eq!(vr.state(), State::Backup);
        }
        "master_answers" => {
            let mut vr = router(255);
            let mut now = Instant::ZERO;
            let ev = advert(100);
            for _ in 0..n {
                black_box(per_advert(&mut vr, &mut now, black_box(ev)));
            }
            assert_eq!(vr.state(), State::Master);
        }
        "adver_timer" => {
            let mut vr = router(255);
            for _ in 0..n {
                let d = vr.next_deadline().unwrap_or(Instant::ZERO);
                vr.handle_timeout(black_box(d));
                while let Some(a) = vr.poll_action() {
                    black_box(a);
                }
            }
        }
        "sim_seed" => {
            for seed in 1..=n {
                black_box(scenario::run(seed, false).passed());
            }
        }
        _ => unreachable!(),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().expect("usage: icount <bench> <iterations>");
    let n: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .expect("iterations");
    match which.as_str() {
        "decode4" | "decode6" | "decode6addrs" | "encode4" | "encode6" => codec(&which, n),
        _ => fsm(&which, n),
    }
}
