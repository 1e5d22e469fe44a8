//! Helpers for ringload's micro-benchmarks: a tiny timing loop, so benches need no extra crates.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Runs `f` repeatedly for about `budget` and prints nanoseconds per call.
pub fn time_per_call(name: &str, budget: Duration, mut f: impl FnMut()) {
    // Warm up caches and branch predictors.
    for _ in 0..1_000 {
        f();
    }
    let mut calls: u64 = 0;
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..1_000 {
            f();
        }
        calls += 1_000;
    }
    let per_call = start.elapsed().as_nanos() as f64 / calls as f64;
    println!("{name:<40} {per_call:>9.1} ns/call  ({calls} calls)");
    black_box(calls);
}
