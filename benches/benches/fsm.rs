//! The VRRP state machine's per-advertisement path, and one simulator seed.

use core::net::{IpAddr, Ipv4Addr};
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vrrp_node::fsm::{
    Action, Advert, Duration, Event, Instant, RouterConfig, State, VirtualRouter,
};
use vrrp_node::sim::scenario;
use vrrp_proto::Version;

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

/// Handles one advert and drains its actions, as the driver does per received packet.
fn per_advert(vr: &mut VirtualRouter, now: &mut Instant, ev: Event) -> usize {
    *now += Duration::from_millis(1);
    vr.handle(*now, ev);
    let mut n = 0;
    while let Some(a) = vr.poll_action() {
        n += usize::from(matches!(a, Action::SendAdvert { .. }));
    }
    n
}

fn bench_fsm(c: &mut Criterion) {
    let mut g = c.benchmark_group("fsm");
    g.throughput(Throughput::Elements(1));

    // The common case: a Backup hearing its Master and resetting Master_Down_Timer.
    g.bench_function("backup_accepts_master_advert", |b| {
        let mut vr = router(100);
        let mut now = Instant::ZERO;
        let ev = advert(200);
        b.iter(|| black_box(per_advert(&mut vr, &mut now, black_box(ev))));
        assert_eq!(vr.state(), State::Backup);
    });

    // A Master hearing a lower advert: a drop observation and an immediate answer.
    g.bench_function("master_answers_lower_advert", |b| {
        let mut vr = router(255);
        let mut now = Instant::ZERO;
        let ev = advert(100);
        b.iter(|| black_box(per_advert(&mut vr, &mut now, black_box(ev))));
        assert_eq!(vr.state(), State::Master);
    });

    // A Master's Adver_Timer firing.
    g.bench_function("master_adver_timer", |b| {
        let mut vr = router(255);
        b.iter(|| {
            let d = vr.next_deadline().unwrap_or(Instant::ZERO);
            vr.handle_timeout(black_box(d));
            while let Some(a) = vr.poll_action() {
                black_box(a);
            }
        });
    });
    g.finish();

    let mut g = c.benchmark_group("sim");
    g.sample_size(20);
    g.bench_function("one_seed", |b| {
        let mut seed = 0u64;
        b.iter(|| {
            seed += 1;
            black_box(scenario::run(seed, false).passed())
        });
    });
    g.finish();
}

criterion_group!(benches, bench_fsm);
criterion_main!(benches);
