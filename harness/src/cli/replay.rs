//! `replay --seed S [--policy P] [--fault CLASS]... [--bug NAME]... [--config JSON]`

use anyhow::Result;

use super::{Ctx, RunFlags};
use crate::run::{RunOptions, run_seed};
use crate::store::Store;

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
    /// Switch on a named store defect (repeatable; see `gate --list-bugs`).
    #[arg(long = "bug")]
    pub bugs: Vec<String>,
    #[command(flatten)]
    pub run: RunFlags,
    /// Workload length.
    #[arg(long, default_value_t = 100)]
    pub ops: usize,
    /// At most this many crashes per run (plus the final power cut).
    #[arg(long, default_value_t = 3)]
    pub crashes: u32,
    /// Print the outcome as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// On a violation, do not shrink the failing run to a minimal case.
    #[arg(long)]
    pub no_shrink: bool,
    /// On a violation, write the shrunk case to this scenario file.
    #[arg(long)]
    pub save_scenario: Option<std::path::PathBuf>,
}

/// The run options these flags describe.
pub fn run_options<S: Store>(a: &Args, ctx: &Ctx) -> RunOptions {
    RunOptions {
        policy: a.policy,
        faults: a.faults.clone(),
        bugs: a.bugs.clone(),
        config: a.run.config.clone(),
        assumptions: a.run.assumptions::<S>(),
        command: ctx.clone(),
        ops: a.ops,
        crashes_max: a.crashes,
        ..RunOptions::default()
    }
}

pub fn run<S: Store>(a: &Args, ctx: &Ctx) -> Result<u8> {
    let outcome = match run_seed::<S>(a.seed, &run_options::<S>(a, ctx)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{}: {e}", ctx.line("replay"));
            return Ok(2);
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else if let Some(report) = &outcome.report {
        println!("{report}");
        if !a.no_shrink {
            print_shrunk::<S>(a, ctx, &outcome)?;
        }
    } else {
        println!(
            "seed {}: ok ({} steps, {} crashes, {} recoveries checked)",
            a.seed, outcome.counts.steps, outcome.counts.crashes, outcome.counts.recoveries
        );
    }
    println!("trace-hash: {:016x}", outcome.trace_hash);
    Ok(u8::from(!outcome.passed()))
}

/// Shrinks a failing run and prints the minimal case (and saves it when asked).
fn print_shrunk<S: Store>(a: &Args, ctx: &Ctx, outcome: &crate::run::RunOutcome) -> Result<()> {
    let Some(v) = outcome.violations.first() else {
        return Ok(());
    };
    let opts = crate::shrink::ShrinkOptions {
        command: ctx.clone(),
        ..crate::shrink::ShrinkOptions::default()
    };
    let mut small = crate::shrink::shrink::<S>(&outcome.case, &opts);
    if let Some(path) = &a.save_scenario {
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("seed_{}", a.seed));
        let description = format!(
            "Shrunk from `{}`: {}",
            outcome
                .report
                .as_ref()
                .map(|r| r.replay.as_str())
                .unwrap_or_default(),
            v.message
        );
        crate::shrink::write_scenario(dir, &name, &description, &mut small)?;
    }
    println!(
        "\n--- shrunk to {} steps ({} candidate runs) ---",
        small.case.steps.len(),
        small.runs
    );
    if let Some(r) = &small.outcome.report {
        println!("{r}");
    }
    Ok(())
}
