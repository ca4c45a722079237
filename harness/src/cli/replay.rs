//! `powercut replay --seed S [--policy P] [--fault CLASS]... [--store S] [--bug NAME]...`

use anyhow::Result;

use crate::case::StoreKind;
use crate::run::{RunOptions, run_seed};

/// Reruns one seeded run exactly.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The seed to replay.
    #[arg(long)]
    pub seed: u64,
    /// Fix the crash policy (otherwise the seed draws it).
    #[arg(long, value_parser = super::parse_policy)]
    pub policy: Option<faultfs::CrashPolicy>,
    /// Allow a fault class (repeatable); the seed draws among them.
    #[arg(long = "fault", value_parser = super::parse_fault)]
    pub faults: Vec<faultfs::FaultClass>,
    /// The store: engine or careless.
    #[arg(long, default_value = "engine", value_parser = parse_store)]
    pub store: StoreKind,
    /// Switch on a named engine defect (repeatable).
    #[arg(long = "bug", value_parser = parse_bug_name)]
    pub bugs: Vec<String>,
    /// Workload length.
    #[arg(long, default_value_t = 100)]
    pub ops: usize,
    /// Print the outcome as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Checks an engine defect name.
pub fn parse_bug_name(name: &str) -> Result<String, String> {
    crate::stores::engine::parse_bug(name).map(|_| name.to_string())
}

/// Parses a store name.
pub fn parse_store(name: &str) -> Result<StoreKind, String> {
    match name {
        "engine" => Ok(StoreKind::Engine),
        "careless" => Ok(StoreKind::Careless),
        _ => Err(format!("unknown store {name:?} (engine, careless)")),
    }
}

/// The run options these flags describe.
pub fn run_options(a: &Args) -> RunOptions {
    RunOptions {
        store: a.store,
        policy: a.policy,
        faults: a.faults.clone(),
        bugs: a.bugs.clone(),
        ops: a.ops,
        ..RunOptions::default()
    }
}

pub fn run(a: &Args) -> Result<u8> {
    let outcome = run_seed(a.seed, &run_options(a));
    if a.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else if let Some(report) = &outcome.report {
        println!("{report}");
    } else {
        println!(
            "seed {}: ok ({} steps, {} crashes, {} recoveries checked)",
            a.seed, outcome.counts.steps, outcome.counts.crashes, outcome.counts.recoveries
        );
    }
    println!("trace-hash: {:016x}", outcome.trace_hash);
    Ok(u8::from(!outcome.passed()))
}
