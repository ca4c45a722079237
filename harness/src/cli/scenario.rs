//! `powercut scenario FILE...`

use std::path::PathBuf;

use anyhow::Result;

use super::Ctx;
use crate::scenario::{Scenario, run_scenario, scenario_passed};
use crate::store::Store;

/// Runs scenario files.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Scenario files (JSON).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

pub fn run<S: Store>(a: &Args, ctx: &Ctx) -> Result<u8> {
    let mut scenarios = Vec::new();
    for f in &a.files {
        match Scenario::load(f).and_then(|s| s.to_case::<S>(f).map(|_| s)) {
            Ok(s) => scenarios.push((f, s)),
            Err(e) => {
                eprintln!("{}: {e}", ctx.line("scenario"));
                return Ok(2);
            }
        }
    }
    let mut failed = 0;
    for (path, s) in &scenarios {
        let outcome = match run_scenario::<S>(s) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("{}: {e}", ctx.line("scenario"));
                return Ok(2);
            }
        };
        if scenario_passed(s, &outcome) {
            println!("ok   {} ({})", s.name, path.display());
        } else {
            failed += 1;
            println!("FAIL {} ({})", s.name, path.display());
            match (&outcome.report, s.expect_violation) {
                (Some(r), _) => println!("{r}"),
                (None, Some(kind)) => println!("expected a {kind} violation; the run passed"),
                (None, None) => {}
            }
        }
    }
    println!("{} scenarios, {failed} failed", scenarios.len());
    Ok(u8::from(failed > 0))
}
