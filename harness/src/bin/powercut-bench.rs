//! Throughput of the harness: crash-recover-check cycles per second for 100-operation workloads
//! on one core, and the time `explore` takes on a 1,000-operation workload.
//!
//! Run: `cargo run --release -p harness --bin powercut-bench [-- SECONDS]`

use std::time::{Duration, Instant};

use harness::explore::{ExploreOptions, explore, standard_case};
use harness::{RunOptions, run_seed};

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let opts = RunOptions::default();
    let started = Instant::now();
    let (mut runs, mut cycles, mut steps, mut failed) = (0u64, 0u64, 0u64, 0u64);
    let mut seed = 0;
    while started.elapsed() < Duration::from_secs_f64(seconds) {
        let o = run_seed(seed, &opts);
        runs += 1;
        cycles += o.counts.crashes;
        steps += o.counts.steps;
        failed += u64::from(!o.passed());
        seed += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "runs: {runs} ({:.0}/s), crash-recover-check cycles: {cycles} ({:.0}/s), steps: {:.0}/s, failed runs: {failed}",
        runs as f64 / secs,
        cycles as f64 / secs,
        steps as f64 / secs
    );

    let case = standard_case(1000, 1);
    let started = Instant::now();
    let out = explore(&case, &ExploreOptions::default());
    println!(
        "explore 1000 ops: {:.2?}, crash points: {} of {} mutating ops, disks tried: {}, skipped: {}, violations: {}",
        started.elapsed(),
        out.points,
        out.mutating_ops,
        out.disks_tried,
        out.disks_skipped,
        out.violations.len()
    );
    for (phase, n) in &out.points_by_phase {
        println!("  {phase}: {n} points");
    }
}
