//! `powercut kill-test [--dir D] [--seconds N | --rounds N] [--seed S] [--store S] [--lower B]`
//! and its hidden child, `powercut kill-test-child`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::killtest::{
    Budget, ChildArgs as Child, KillStoreKind, KillTestError, KillTestOptions, LowerBound,
    run_child, run_kill_test,
};

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
    /// The store: engine, careless or buffered.
    #[arg(long, default_value = "engine", value_parser = KillStoreKind::parse)]
    pub store: KillStoreKind,
    /// What the recovered state must at least hold: every acknowledged write (acked, what a
    /// kill keeps) or only the durable ones (durable, what a power cut keeps).
    #[arg(long, default_value = "acked", value_parser = LowerBound::parse)]
    pub lower: LowerBound,
    /// The longest delay, in milliseconds, between a child's start and its kill.
    #[arg(long, default_value_t = 300)]
    pub delay_max_ms: u64,
    /// Switch on a named engine defect (repeatable), to see whether a kill exposes it.
    #[arg(long = "bug", value_parser = crate::stores::engine::parse_bug)]
    pub bugs: Vec<engine::bugs::Bug>,
    /// Print the outcome as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The hidden subcommand the kill-test runs in each child process.
#[derive(clap::Args, Debug)]
pub struct ChildArgs {
    #[arg(long)]
    pub dir: PathBuf,
    #[arg(long, value_parser = KillStoreKind::parse)]
    pub store: KillStoreKind,
    #[arg(long)]
    pub seed: u64,
    #[arg(long)]
    pub first_id: u64,
    #[arg(long = "bug", value_parser = crate::stores::engine::parse_bug)]
    pub bugs: Vec<engine::bugs::Bug>,
}

/// Runs the kill-test: 0 passed, 1 a violation, 2 bad usage.
pub fn run(a: &Args) -> Result<u8> {
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
    let exe = std::env::current_exe().context("finding the powercut binary for the child")?;
    let options = KillTestOptions {
        dir: a.dir.clone(),
        budget,
        seed: a.seed,
        store: a.store,
        lower: a.lower,
        delay_max: Duration::from_millis(a.delay_max_ms),
        bugs: a.bugs.clone(),
        ..KillTestOptions::new(exe)
    };
    let outcome = match run_kill_test(&options) {
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
    eprintln!("powercut kill-test: {message}");
    Ok(2)
}

/// Runs one child until it is killed.
pub fn run_child_command(a: &ChildArgs) -> Result<u8> {
    Ok(run_child(&Child {
        dir: a.dir.clone(),
        store: a.store,
        seed: a.seed,
        first_id: a.first_id,
        bugs: a.bugs.clone(),
    }))
}

/// The kill-test's own command line (`kill-test` and the hidden `kill-test-child`), as the
/// shipped `powercut` binary offers it.
#[derive(clap::Parser, Debug)]
#[command(name = "powercut", version)]
struct KillCli {
    #[command(subcommand)]
    command: KillCommand,
}

#[derive(clap::Subcommand, Debug)]
enum KillCommand {
    /// Kills the store in a child process with SIGKILL on a real disk and checks each recovery.
    KillTest(Args),
    /// One child process of the kill-test (started by `kill-test`, not by hand).
    #[command(hide = true)]
    KillTestChild(ChildArgs),
}

/// Parses `args` (program name first) as `kill-test` or `kill-test-child` and runs it.
pub fn main_with(args: Vec<std::ffi::OsString>) -> u8 {
    use clap::Parser;
    let cli = match KillCli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let result = match cli.command {
        KillCommand::KillTest(a) => run(&a),
        KillCommand::KillTestChild(a) => run_child_command(&a),
    };
    result.unwrap_or_else(|e| {
        eprintln!("powercut: {e:#}");
        2
    })
}
