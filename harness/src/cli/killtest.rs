//! `kill-test [--dir D] [--seconds N | --rounds N] [--seed S] [--lower B] [--bug NAME]...`
//! and its hidden child, `kill-test-child`, for any store that runs on a real disk.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use super::Ctx;
use crate::killtest::{
    Budget, ChildArgs as Child, KillTestError, KillTestOptions, LowerBound, run_child,
    run_kill_test,
};
use crate::store::Store;

/// Kills the store in a child process with SIGKILL, again and again, and checks every recovery.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The directory to run in (new or empty; kept afterwards). Default: a temporary directory,
    /// removed when the test passes and kept when it fails.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Run rounds for this many seconds (default 10 when neither budget is given).
    #[arg(long, conflicts_with = "rounds")]
    pub seconds: Option<f64>,
    /// Run exactly this many rounds.
    #[arg(long)]
    pub rounds: Option<u64>,
    /// The seed every round's workload and kill delay are drawn from.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// What the recovered state must at least hold: every acknowledged write (acked, what a
    /// kill keeps) or only the durable ones (durable, what a power cut keeps).
    #[arg(long, default_value = "acked", value_parser = LowerBound::parse)]
    pub lower: LowerBound,
    /// The longest delay, in milliseconds, between a child's start and its kill.
    #[arg(long, default_value_t = 300)]
    pub delay_max_ms: u64,
    /// Switch on a named store defect (repeatable), to see whether a kill exposes it.
    #[arg(long = "bug")]
    pub bugs: Vec<String>,
    /// Configuration fields over the store's kill-test configuration (a JSON object).
    #[arg(long, value_parser = super::parse_config)]
    pub config: Option<serde_json::Value>,
    /// Kill after a seeded number of the child's events instead of a seeded delay, so where the
    /// kills land depends on the seed, not on the machine's speed (no kills during recovery).
    #[arg(long)]
    pub by_progress: bool,
    /// Print the outcome as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The hidden subcommand the kill-test runs in each child process.
#[derive(clap::Args, Debug)]
pub struct ChildArgs {
    #[arg(long)]
    pub dir: PathBuf,
    #[arg(long)]
    pub seed: u64,
    #[arg(long)]
    pub first_id: u64,
    #[arg(long = "bug")]
    pub bugs: Vec<String>,
    #[arg(long)]
    pub config: Option<String>,
}

/// Runs the kill-test: 0 passed, 1 a violation, 2 bad usage.
pub fn run<S: Store>(a: &Args, ctx: &Ctx) -> Result<u8> {
    let budget = match (a.seconds, a.rounds) {
        (_, Some(0)) => return usage("--rounds must be at least 1"),
        (_, Some(n)) => Budget::Rounds(n),
        (Some(s), None) if !(s > 0.0 && s.is_finite()) => {
            return usage("--seconds must be a positive number");
        }
        (Some(s), None) => Budget::Time(Duration::from_secs_f64(s)),
        (None, None) => Budget::Time(Duration::from_secs(10)),
    };
    if a.delay_max_ms < 2 {
        return usage("--delay-max-ms must be at least 2");
    }
    let exe = std::env::current_exe().context("finding this binary for the child")?;
    let options = KillTestOptions {
        dir: a.dir.clone(),
        budget,
        seed: a.seed,
        lower: a.lower,
        delay_max: Duration::from_millis(a.delay_max_ms),
        bugs: a.bugs.clone(),
        config: a.config.clone(),
        by_progress: a.by_progress,
        child_store: ctx.store.clone(),
        ..KillTestOptions::new(exe)
    };
    let outcome = match run_kill_test::<S>(&options) {
        Ok(o) => o,
        Err(KillTestError::Usage(m)) => return usage(&m),
        Err(e) => return Err(e.into()),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        if let Some(report) = &outcome.report {
            println!("{report}\n");
        }
        println!("{outcome}");
    }
    if let Some(report) = &outcome.report {
        let path = outcome.dir.join("killtest-report.txt");
        std::fs::write(&path, format!("{report}\n\n{outcome}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(u8::from(!outcome.passed()))
}

fn usage(message: &str) -> Result<u8> {
    eprintln!("kill-test: {message}");
    Ok(2)
}

/// Runs one child until it is killed.
pub fn run_child_command<S: Store>(a: &ChildArgs, ctx: &Ctx) -> Result<u8> {
    Ok(run_child::<S>(&Child {
        dir: a.dir.clone(),
        store: ctx.store.clone(),
        seed: a.seed,
        first_id: a.first_id,
        bugs: a.bugs.clone(),
        config: a.config.clone(),
    }))
}
