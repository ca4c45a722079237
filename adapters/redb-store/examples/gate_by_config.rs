//! The gate's seeds, tallied per redb configuration.
//!
//! ```text
//! cargo run --release -p redb-store --example gate_by_config -- 20000 [THREADS]
//! ```
//!
//! Runs exactly the seeds `powercut-redb gate --seeds N` runs (the same policy x fault matrix,
//! the same drawn configurations, every seed to the end instead of stopping at the first
//! failure) and prints, per configuration group (commit mode, and whether redb checks its file
//! on open), the seeds, crash points, recoveries, refusals, rollbacks, the seeds in which each
//! fault class was armed and fired, and the violations by kind, with one seed of each kind.

use std::collections::BTreeMap;
use std::sync::Mutex;

use anyhow::{Context, Result};
use faultfs::FaultClass;
use powercut::gate::sweep::Sweep;
use powercut::swarm::fault_class_name;
use powercut::{Cause, RunOutcome, Store};
use redb_store::{RedbConfig, RedbStore};

/// What a group of seeds did.
#[derive(Default)]
struct Tally {
    seeds: u64,
    crash_points: u64,
    recoveries: u64,
    refusals: u64,
    rollbacks: u64,
    /// Per fault class: seeds that armed it, seeds in which it fired.
    faults: BTreeMap<String, (u64, u64)>,
    /// Per violation kind: how many seeds, and the first one.
    violations: BTreeMap<String, (u64, u64)>,
}

impl Tally {
    fn add(&mut self, seed: u64, armed: Option<FaultClass>, o: &RunOutcome) {
        self.seeds += 1;
        self.crash_points += o.crashes.len() as u64;
        self.recoveries += o.counts.recoveries;
        self.refusals += o.counts.refusals;
        self.rollbacks += o.counts.rollbacks;
        if let Some(class) = armed {
            let fired = o.coverage.iter().any(|f| f.cause == Cause::Fault(class));
            let slot = self.faults.entry(fault_class_name(class)).or_default();
            slot.0 += 1;
            slot.1 += u64::from(fired);
        }
        if let Some(v) = o.violations.first() {
            let slot = self
                .violations
                .entry(v.kind.name().to_string())
                .or_insert((0, seed));
            slot.0 += 1;
        }
    }
}

/// The group a configuration belongs to.
fn group(config: &RedbConfig) -> String {
    let mode = if config.quick_repair {
        "2PC, quick-repair"
    } else if config.two_phase_commit {
        "2PC"
    } else {
        "1PC"
    };
    let check = if config.check_integrity_on_open {
        "checked on open"
    } else {
        "trusted on open"
    };
    format!("{mode}, {check}")
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let seeds: u64 = args
        .next()
        .context("usage: gate_by_config SEEDS [THREADS]")?
        .parse()
        .context("SEEDS is not a number")?;
    let threads: u64 = match args.next() {
        Some(t) => t.parse().context("THREADS is not a number")?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
    };
    // A panic inside redb is caught and tallied as a violation; its backtrace is noise here.
    std::panic::set_hook(Box::new(|_| {}));
    let sweep = Sweep::full();
    let tallies: Mutex<BTreeMap<String, Tally>> = Mutex::default();
    let failed: Mutex<Vec<String>> = Mutex::default();
    std::thread::scope(|scope| {
        for worker in 0..threads.max(1) {
            let (sweep, tallies, failed) = (&sweep, &tallies, &failed);
            scope.spawn(move || {
                for seed in (worker..seeds).step_by(threads.max(1) as usize) {
                    let opts = sweep.run_options(seed);
                    let outcome = match powercut::run_seed::<RedbStore>(seed, &opts) {
                        Ok(o) => o,
                        Err(e) => {
                            failed
                                .lock()
                                .expect("lock")
                                .push(format!("seed {seed}: {e}"));
                            continue;
                        }
                    };
                    let config = RedbStore::draw_config(&mut powercut::swarm::config_stream(seed));
                    let armed = sweep.combination(seed).1;
                    let mut t = tallies.lock().expect("lock");
                    t.entry(group(&config))
                        .or_default()
                        .add(seed, armed, &outcome);
                    t.entry("all".to_string())
                        .or_default()
                        .add(seed, armed, &outcome);
                }
            });
        }
    });
    for e in failed.into_inner().expect("lock") {
        eprintln!("could not run {e}");
    }
    for (name, t) in tallies.into_inner().expect("lock") {
        print_tally(&name, &t);
    }
    Ok(())
}

fn print_tally(name: &str, t: &Tally) {
    println!("## {name}");
    println!(
        "seeds {}, crash points {}, recoveries checked {}, clean refusals {}, rollbacks {}",
        t.seeds, t.crash_points, t.recoveries, t.refusals, t.rollbacks
    );
    let faults: Vec<String> = t
        .faults
        .iter()
        .map(|(c, (armed, fired))| format!("{c} {fired}/{armed}"))
        .collect();
    println!("faults fired/armed (seeds): {}", faults.join(", "));
    if t.violations.is_empty() {
        println!("violations: none");
    } else {
        let v: Vec<String> = t
            .violations
            .iter()
            .map(|(k, (n, first))| format!("{k} {n} (first: seed {first})"))
            .collect();
        println!("violations: {}", v.join(", "));
    }
    println!();
}
