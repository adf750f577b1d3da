//! A fixed-iteration driver of the codec and state-machine bench bodies, for
//! `valgrind --tool=callgrind`: instruction counts do not depend on machine load, criterion's
//! wall-clock figures do. `icount <bench> <iterations>`; the per-iteration count is the
//! difference of two runs (N and 2N iterations) divided by N, which cancels the setup.

use std::hint::black_box;

use benches::{adver_timer, advert, per_advert, router, Codec};
use vrrp_node::fsm::{Instant, State};
use vrrp_node::sim::scenario;

/// Runs `step` `n` times (the bench is chosen once, outside the loop).
fn repeat(n: u64, mut step: impl FnMut(u64)) {
    for i in 0..n {
        step(i);
    }
}

/// Handles `n` adverts of `priority` in a router of `own` priority, which stays in `state`.
fn adverts(n: u64, own: u8, priority: u8, state: State) {
    let mut vr = router(own);
    let mut now = Instant::ZERO;
    let ev = advert(priority);
    repeat(n, |_| {
        black_box(per_advert(&mut vr, &mut now, black_box(ev)));
    });
    assert_eq!(vr.state(), state);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().expect("usage: icount <bench> <iterations>");
    let n: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .expect("iterations");
    let codec = Codec::new();
    let mut out = [0u8; 256];
    match which.as_str() {
        "decode4" => repeat(n, |_| {
            codec.decode4();
        }),
        "decode6" => repeat(n, |_| {
            codec.decode6();
        }),
        "decode6addrs" => repeat(n, |_| {
            codec.decode6_addrs();
        }),
        "encode4" => repeat(n, |_| codec.encode4(&mut out)),
        "encode6" => repeat(n, |_| codec.encode6(&mut out)),
        "backup_accepts" => adverts(n, 100, 200, State::Backup),
        "master_answers" => adverts(n, 255, 100, State::Master),
        "adver_timer" => {
            let mut vr = router(255);
            repeat(n, |_| adver_timer(&mut vr));
        }
        "sim_seed" => repeat(n, |i| {
            black_box(scenario::run(i + 1, false).passed());
        }),
        _ => panic!("unknown bench {which}"),
    }
}
