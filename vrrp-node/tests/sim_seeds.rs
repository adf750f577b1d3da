//! Random simulation seeds: thousands per `cargo test`, more with `VRRP_SIM_SEEDS=N`, one with
//! `VRRP_SIM_SEED=S` (printed with its trace).

use vrrp_node::sim::scenario;

/// Seeds that once failed; each stays as a regression test.
const REGRESSIONS: &[u64] = &[];

/// Seeds per test function in a normal `cargo test` (four functions run in parallel).
const DEFAULT_PER_SHARD: u64 = 2_500;

fn per_shard() -> u64 {
    std::env::var("VRRP_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(DEFAULT_PER_SHARD, |n| n.div_ceil(4))
}

fn check(seed: u64) {
    let outcome = std::panic::catch_unwind(|| scenario::run(seed, false));
    let failed = match &outcome {
        Ok(o) => !o.passed(),
        Err(_) => true,
    };
    if failed {
        // Rerun with the trace for a readable report; a panic shows up here as well.
        let traced = scenario::run(seed, true);
        panic!("simulation failed\n{}", traced.report());
    }
}

fn shard(k: u64) {
    let n = per_shard();
    let mut steps = 0u64;
    for s in 0..n {
        let seed = k * 1_000_000_000 + s;
        check(seed);
        steps += 1;
    }
    assert_eq!(steps, n);
}

#[test]
fn seeds_shard_0() {
    shard(0);
}

#[test]
fn seeds_shard_1() {
    shard(1);
}

#[test]
fn seeds_shard_2() {
    shard(2);
}

#[test]
fn seeds_shard_3() {
    shard(3);
}

#[test]
fn regression_seeds() {
    for &seed in REGRESSIONS {
        check(seed);
    }
}

#[test]
fn one_seed_from_env() {
    if let Some(seed) = std::env::var("VRRP_SIM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        let o = scenario::run(seed, true);
        println!("{}", o.report());
        assert!(o.passed(), "seed {seed} failed");
    }
}

/// The scenarios do real work: enough steps, state changes and handovers to mean something.
#[test]
fn scenarios_exercise_the_protocol() {
    let mut steps = 0u64;
    let mut failovers = 0u64;
    for seed in 0..200u64 {
        let o = scenario::run(seed, true);
        assert!(o.passed(), "{}", o.report());
        steps += o.steps;
        failovers += o
            .trace
            .iter()
            .filter(|l| l.contains("Backup -> Master"))
            .count() as u64;
    }
    println!("200 seeds: {steps} steps, {failovers} Backup->Master transitions");
    assert!(steps > 200 * 50, "only {steps} steps");
    assert!(failovers > 200, "only {failovers} failovers");
}

/// Same seed, same run: the whole trace is reproducible, and different seeds differ.
#[test]
fn runs_are_deterministic() {
    for seed in [1u64, 77, 4242] {
        let a = scenario::run(seed, true);
        let b = scenario::run(seed, true);
        assert_eq!(a.trace, b.trace, "seed {seed}");
        assert_eq!(a.steps, b.steps);
    }
    assert_ne!(scenario::run(1, true).trace, scenario::run(2, true).trace);
}
