//! How to plug your own store into Powercut, shown on a deliberately careless one.
//!
//! `harness::stores::careless` holds a log store with three classic bugs (no directory sync after
//! creating its log, a torn last line trusted, batches without a commit marker). Implementing
//! [`harness::Store`] is all it takes; this example sweeps seeds over it and prints the first
//! failure report, shrunk to a handful of steps.
//!
//! Run: `cargo run -p harness --example careless_store`

use harness::{RunOptions, ShrinkOptions, StoreKind, run_seed, shrink};

fn main() {
    let opts = RunOptions {
        store: StoreKind::Careless,
        ..RunOptions::default()
    };
    for seed in 0..1000 {
        let outcome = run_seed(seed, &opts);
        let Some(violation) = outcome.violations.first() else {
            continue;
        };
        println!("seed {seed} fails: {}", violation.kind);
        let small = shrink(&outcome.case, violation.kind, &ShrinkOptions::default());
        match small.outcome.report {
            Some(report) => println!("{report}"),
            None => println!("(shrinking lost the failure; the unshrunk run is seed {seed})"),
        }
        return;
    }
    println!("no failure in 1000 seeds: the harness is broken");
    std::process::exit(1);
}
