//! The VRRP state machine's per-advertisement path, and one simulator seed.

use std::hint::black_box;

use benches::{adver_timer, advert, per_advert, router};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vrrp_node::fsm::{Instant, State};
use vrrp_node::sim::scenario;

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
        b.iter(|| adver_timer(&mut vr));
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
