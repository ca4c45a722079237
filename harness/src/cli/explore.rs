//! `powercut explore [--seed S | --scenario F] [--ops N] [--bound B] [--policy P] [--threads T]`

use std::path::PathBuf;

use anyhow::Result;

use super::RunFlags;
use crate::explore::{ExploreOptions, explore};
use crate::run::RunOptions;
use crate::scenario::Scenario;
use crate::store::Store;
use crate::swarm::RunConfig;

/// Tries every crash point of one run.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The seed whose workload to explore.
    #[arg(long, conflicts_with = "scenario")]
    pub seed: Option<u64>,
    /// A scenario file to explore instead.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunFlags,
    /// Workload length (seeded workloads).
    #[arg(long, default_value_t = 1000)]
    pub ops: usize,
    /// Distinct post-crash disks per crash point, at most.
    #[arg(long, default_value_t = 8)]
    pub bound: usize,
    /// Also crash inside the recovery of every distinct disk (a second crash, exhaustively).
    #[arg(long)]
    pub recovery: bool,
    /// Crash policy whose disks are enumerated (repeatable; default torn and reorder).
    #[arg(long = "policy", value_parser = super::parse_policy)]
    pub policies: Vec<faultfs::CrashPolicy>,
    /// Threads that recover the post-crash disks (0: one per core; 1: all on the thread that
    /// runs the workload). The outcome does not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

pub fn run<S: Store + 'static>(a: &Args) -> Result<u8> {
    let case = match &a.scenario {
        Some(path) => match Scenario::load(path).and_then(|s| s.to_case::<S>(path)) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("explore: {e}");
                return Ok(2);
            }
        },
        None => {
            let opts = RunOptions {
                ops: a.ops,
                config: a.run.config.clone(),
                assumptions: a.run.assumptions::<S>(),
                ..RunOptions::default()
            };
            match RunConfig::from_seed::<S>(a.seed.unwrap_or(0), &opts) {
                Ok(c) => crate::explore::explorable(&c.case()),
                Err(e) => {
                    eprintln!("explore: {e}");
                    return Ok(2);
                }
            }
        }
    };
    let mut opts = ExploreOptions {
        bound: a.bound,
        recovery_crashes: a.recovery,
        threads: a.threads,
        ..ExploreOptions::default()
    };
    if !a.policies.is_empty() {
        opts.policies = a.policies.clone();
    }
    let started = std::time::Instant::now();
    let out = match explore::<S>(&case, &opts) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("explore: {e}");
            return Ok(2);
        }
    };
    println!(
        "crash points: {} (+{} inside recoveries), disks tried: {}, duplicates skipped: {}, violations: {}, time: {:.2?}",
        out.points,
        out.recovery_points,
        out.disks_tried,
        out.disks_skipped,
        out.violations.len(),
        started.elapsed()
    );
    for (phase, n) in &out.points_by_phase {
        println!("  {phase}: {n} points");
    }
    for v in &out.violations {
        println!(
            "VIOLATION at crash point {} (phase {}, before {}) under {:?}: {}: {}",
            v.op_index, v.phase, v.op, v.policy, v.violation.kind, v.violation.message
        );
        for d in v.violation.diffs.iter().take(10) {
            println!(
                "  {:?}: expected {:?}, recovered {:?}",
                d.key, d.expected, d.recovered
            );
        }
    }
    if let Some(v) = &out.run_violation {
        println!(
            "VIOLATION while running the workload: {}: {}",
            v.kind, v.message
        );
    }
    Ok(u8::from(
        !out.violations.is_empty() || out.run_violation.is_some(),
    ))
}
