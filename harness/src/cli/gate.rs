//! `powercut gate`: the durability gate (see `powercut::gate`).
//!
//! Exit 0 nothing violated, 1 a violation (or an expected coverage cell missed under
//! `--min-coverage`), 2 bad usage or input.

use std::path::PathBuf;
use std::sync::Once;

use anyhow::{Context, Result};

use super::{Ctx, RunFlags};
use crate::coverage::PolicyKind;
use crate::gate::progress::Progress;
use crate::gate::sweep::{Shard, Sweep};
use crate::gate::{self, GateError, GateOptions, GateOutcome, bugs, junit, regressions, report};
use crate::store::Store;
use crate::swarm::ALL_FAULTS;

/// Sweeps seeds over crash policies and fault classes within a budget.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Time budget in seconds (default 60 when no --seeds is given either).
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Seed budget; with --seconds, whichever ends first.
    #[arg(long)]
    pub seeds: Option<u64>,
    /// The first seed of the sweep.
    #[arg(long, default_value_t = 0)]
    pub seed_start: u64,
    /// Run only shard K of N (1-based): every N-th seed from seed-start + K - 1.
    #[arg(long, value_parser = Shard::parse, default_value = "1/1")]
    pub shard: Shard,
    /// Crash policy to sweep (repeatable; strict, keepall, torn, reorder, all). Default all.
    #[arg(long = "policy", value_parser = parse_policy_arg)]
    pub policies: Vec<PolicyArg>,
    /// Fault class to sweep (repeatable; a class, none for crash-only runs, or all). Default:
    /// crash-only runs and every class.
    #[arg(long = "fault", value_parser = parse_fault_arg)]
    pub faults: Vec<FaultArg>,
    /// Switch on a named store defect (repeatable; see --list-bugs).
    #[arg(long = "bug")]
    pub bugs: Vec<String>,
    #[command(flatten)]
    pub run: RunFlags,
    /// Workload length per seed.
    #[arg(long, default_value_t = 100)]
    pub ops: usize,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Stop after this many failing seeds.
    #[arg(long, default_value_t = 1)]
    pub max_violations: u64,
    /// Fail when a coverage cell the sweep is expected to reach was not reached.
    #[arg(long)]
    pub min_coverage: bool,
    /// Write the JSON report here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// The regression folder replayed before the sweep.
    #[arg(long, default_value = regressions::DEFAULT_DIR)]
    pub regressions: PathBuf,
    /// Do not replay the regression folder.
    #[arg(long)]
    pub no_regressions: bool,
    /// Save each shrunk failure as a scenario in the regression folder.
    #[arg(long)]
    pub save_regressions: bool,
    /// Candidate runs to shrink each failure with (0: do not shrink).
    #[arg(long, default_value_t = 400)]
    pub shrink_runs: usize,
    /// No progress display.
    #[arg(long)]
    pub quiet: bool,
    /// Print the JSON Schema of the report and exit.
    #[arg(long)]
    pub print_schema: bool,
    /// List the store defects --bug accepts, one line each, and exit.
    #[arg(long)]
    pub list_bugs: bool,
    /// Run every store defect over 20 seed ranges and print a markdown table of how fast each
    /// is caught.
    #[arg(long)]
    pub bug_table: bool,
}

/// A `--policy` value: one policy or all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyArg {
    All,
    One(PolicyKind),
}

/// A `--fault` value: a class, crash-only runs, or every class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultArg {
    All,
    None,
    One(faultfs::FaultClass),
}

fn parse_policy_arg(name: &str) -> Result<PolicyArg, String> {
    if name == "all" {
        return Ok(PolicyArg::All);
    }
    PolicyKind::parse(name)
        .map(PolicyArg::One)
        .ok_or_else(|| format!("unknown policy {name:?} (strict, keepall, torn, reorder, all)"))
}

fn parse_fault_arg(name: &str) -> Result<FaultArg, String> {
    match name {
        "all" => Ok(FaultArg::All),
        "none" => Ok(FaultArg::None),
        _ => super::parse_fault(name)
            .map(FaultArg::One)
            .map_err(|e| format!("{e}, or none, or all")),
    }
}

/// The sweep the flags describe.
pub fn sweep_of<S: Store>(a: &Args, ctx: &Ctx) -> Sweep {
    let mut sweep = Sweep::full();
    sweep.command = ctx.clone();
    sweep.config = a.run.config.clone();
    sweep.assumptions = a.run.assumptions::<S>();
    if !a.policies.is_empty() && !a.policies.contains(&PolicyArg::All) {
        let named: Vec<PolicyKind> = a
            .policies
            .iter()
            .filter_map(|p| match p {
                PolicyArg::One(k) => Some(*k),
                PolicyArg::All => None,
            })
            .collect();
        sweep.policies = gate::policies_of(&named);
    }
    if !a.faults.is_empty() {
        let mut slots: Vec<Option<faultfs::FaultClass>> = Vec::new();
        if a.faults.contains(&FaultArg::None) {
            slots.push(None);
        }
        for class in ALL_FAULTS {
            let named = a
                .faults
                .iter()
                .any(|f| *f == FaultArg::All || *f == FaultArg::One(class));
            if named {
                slots.push(Some(class));
            }
        }
        sweep.faults = slots;
    }
    sweep.bugs = a.bugs.clone();
    sweep.ops = a.ops;
    sweep
}

/// Checks the flags and turns them into gate options.
pub fn options_of<S: Store>(a: &Args, ctx: &Ctx) -> Result<GateOptions, GateError> {
    let usage = |m: String| Err(GateError::Usage(m));
    if let Some(s) = a.seconds
        && !(s.is_finite() && s > 0.0)
    {
        return usage(format!("--seconds must be a positive number, not {s}"));
    }
    if a.seeds == Some(0) {
        return usage("--seeds must be at least 1".into());
    }
    if a.threads == Some(0) {
        return usage("--threads must be at least 1".into());
    }
    if a.max_violations == 0 {
        return usage("--max-violations must be at least 1".into());
    }
    if a.ops == 0 {
        return usage("--ops must be at least 1".into());
    }
    if a.save_regressions && a.no_regressions {
        return usage(
            "--save-regressions needs the regression folder; drop --no-regressions".into(),
        );
    }
    if a.save_regressions && a.shrink_runs == 0 {
        return usage(
            "--save-regressions saves shrunk failures; give --shrink-runs above 0".into(),
        );
    }
    bugs::check_names::<S>(&a.bugs).map_err(GateError::Usage)?;
    let seconds = match (a.seconds, a.seeds) {
        (None, None) => Some(60.0),
        (s, _) => s,
    };
    Ok(GateOptions {
        store: S::name().to_string(),
        sweep: sweep_of::<S>(a, ctx),
        seed_start: a.seed_start,
        shard: a.shard,
        seeds: a.seeds,
        seconds,
        threads: a.threads.unwrap_or_else(default_threads),
        max_violations: a.max_violations,
        min_coverage: a.min_coverage,
        regressions: (!a.no_regressions).then(|| a.regressions.clone()),
        shrink_runs: a.shrink_runs,
        save_regressions: a.save_regressions,
    })
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Keeps panics inside gate workers quiet: a store that panics is a reported violation, and a
/// backtrace per seed from several threads would bury the report. Other threads keep the
/// previous hook.
fn quiet_worker_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_worker = std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with(gate::pool::WORKER_NAME));
            if !in_worker {
                previous(info);
            }
        }));
    });
}

pub fn run<S: Store>(a: &Args, ctx: &Ctx) -> Result<u8> {
    if a.print_schema {
        println!("{}", report::SCHEMA_JSON.trim_end());
        return Ok(0);
    }
    if a.list_bugs {
        print!("{}", bugs::list::<S>());
        return Ok(0);
    }
    let opts = match options_of::<S>(a, ctx) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{}: {e}", ctx.line("gate"));
            return Ok(2);
        }
    };
    quiet_worker_panics();
    if a.bug_table {
        return bugs::run_table::<S>(&opts);
    }
    println!("{}", header(&opts));
    let mut progress = Progress::new(a.quiet, opts.seeds, opts.seconds);
    let outcome = gate::run_gate::<S>(&opts, |t| progress.tick(t));
    progress.finish();
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{}: {e}", ctx.line("gate"));
            return Ok(2);
        }
    };
    print_outcome(&outcome, ctx);
    write_files(a, &outcome)?;
    Ok(outcome.exit_code())
}

fn header(opts: &GateOptions) -> String {
    let budget = match (opts.seeds, opts.seconds) {
        (Some(n), Some(s)) => format!("{n} seeds or {s}s"),
        (Some(n), None) => format!("{n} seeds"),
        (None, Some(s)) => format!("{s}s"),
        (None, None) => "unbounded".to_string(),
    };
    let policies: Vec<&str> = opts.sweep.policies.iter().map(|p| p.name()).collect();
    let faults: Vec<String> = opts
        .sweep
        .faults
        .iter()
        .map(|f| gate::slot_name(*f))
        .collect();
    let bugs = if opts.sweep.bugs.is_empty() {
        String::new()
    } else {
        format!(", bugs {}", opts.sweep.bugs.join(","))
    };
    format!(
        "powercut gate: store {}{bugs}, seeds from {} (shard {}/{}), budget {budget}, {} threads\n  \
         policies: {}\n  faults: {}",
        opts.store,
        opts.seed_start,
        opts.shard.index,
        opts.shard.count,
        opts.threads,
        policies.join(", "),
        faults.join(", ")
    )
}

fn print_outcome(o: &GateOutcome, ctx: &Ctx) {
    let r = &o.report;
    if !r.regressions.is_empty() {
        let failed: Vec<&report::RegressionReport> =
            r.regressions.iter().filter(|x| !x.passed).collect();
        println!(
            "regressions: {} replayed, {} failed",
            r.regressions.len(),
            failed.len()
        );
        for (x, replayed) in r.regressions.iter().zip(&o.regressions) {
            if x.passed {
                continue;
            }
            println!("FAIL regression {} ({})", x.name, x.path);
            if let Some(rep) = &replayed.outcome.report {
                println!("{rep}");
            }
            println!("replay: {} {}", ctx.line("scenario"), x.path);
        }
    }
    if !o.regressions_elsewhere.is_empty() {
        println!(
            "regressions: {} written for other stores, left to their gates",
            o.regressions_elsewhere.len()
        );
    }
    println!("{}", o.matrix.render());
    let t = &r.totals;
    println!(
        "{} seeds ({}..{}) in {:.1}s: {} passed, {} failed; {} crash points, {} recoveries \
         checked, {} clean refusals, {} faults fired",
        r.seeds.run,
        r.seeds.first.map_or("-".into(), |s| s.to_string()),
        r.seeds.last.map_or("-".into(), |s| s.to_string()),
        r.timing.seconds,
        r.seeds.passed,
        r.seeds.failed,
        t.crash_points,
        t.recoveries,
        t.refusals,
        t.faults_fired
    );
    println!("digest: {}", r.seeds.digest);
    for v in &r.violations {
        println!();
        println!(
            "seed {} ({} + {}) failed: {}: {}",
            v.seed, v.policy, v.fault, v.kind, v.message
        );
        if let Some(s) = &v.shrunk {
            println!(
                "shrunk from {} to {} steps in {} runs; the shrunk case:",
                s.steps_before, s.steps_after, s.runs
            );
        }
        println!("{}", v.report);
        if v.report.replay != v.replay {
            println!("replay the seed: {}", v.replay);
        }
    }
    print_fault_classes(r);
    if r.config.min_coverage && !r.coverage.missing.is_empty() {
        if r.seeds.failed > 0 {
            println!("\ncoverage not judged: the sweep stopped at a violation");
        } else {
            println!("\nexpected coverage cells not reached:");
            for m in &r.coverage.missing {
                println!("  {} x {} x {}", m.cause, m.file, m.phase);
            }
        }
    }
    println!("{}", if r.passed { "PASS" } else { "FAIL" });
}

/// Armed vs fired per fault class; a class armed and never fired is named with what to check.
fn print_fault_classes(r: &report::GateReport) {
    if r.fault_classes.is_empty() {
        return;
    }
    println!("fault classes (seeds drawn / armed / fired):");
    for c in &r.fault_classes {
        let note = match (&c.unreachable, c.dead()) {
            (_, true) => " <- NEVER FIRED: check the store's file_kind and file_roles, or \
                          declare the class in unreachable_faults with the reason"
                .to_string(),
            (Some(why), false) => format!(" (cannot happen: {why})"),
            (None, false) => String::new(),
        };
        println!(
            "  {:<20} {:>6} / {:>6} / {:>6}{note}",
            c.class, c.seeds, c.armed, c.fired
        );
    }
}

fn write_files(a: &Args, o: &GateOutcome) -> Result<()> {
    if let Some(path) = &a.report {
        let json = serde_json::to_string_pretty(&o.report)?;
        write_file(path, &(json + "\n"))?;
    }
    if let Some(path) = &a.junit {
        write_file(path, &junit::render(&o.report))?;
    }
    Ok(())
}

fn write_file(path: &std::path::Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
