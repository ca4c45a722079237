//! A store's defect catalog ([`Store::defects`]) seen from the gate: `--bug` names,
//! `--list-bugs`, and `--bug-table`, which measures how fast the gate catches each defect.
//!
//! The table runs, for every defect, the gate's sweep from 20 different starting seeds (ranges
//! [`RANGE_STRIDE`] apart) with the defect switched on, stopping at the first violation, and
//! reports the median number of seeds and seconds until detection.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Result;

use crate::gate::{GateOptions, run_gate};
use crate::store::{Defect, Store};

/// Seed ranges per defect in the table.
pub const RANGES: u64 = 20;
/// Distance between the first seeds of two ranges.
pub const RANGE_STRIDE: u64 = 100_000;
/// Seeds per range before a defect counts as not caught there.
pub const RANGE_SEEDS: u64 = 3_000;

/// The name of every defect the store can switch on, in catalog order.
pub fn names<S: Store>() -> Vec<&'static str> {
    S::defects().iter().map(|d| d.name).collect()
}

/// Checks `--bug` names against the store's catalog.
pub fn check_names<S: Store>(given: &[String]) -> Result<(), String> {
    let known = names::<S>();
    for g in given {
        if !known.contains(&g.as_str()) {
            return Err(format!(
                "unknown {} defect {g:?}; `--list-bugs` lists them",
                S::name()
            ));
        }
    }
    Ok(())
}

/// The first clause of a catalog text (up to its first colon).
fn headline(text: &str) -> &str {
    text.split(':').next().unwrap_or(text).trim()
}

/// One line per defect: its name and what exposes it.
pub fn list<S: Store>() -> String {
    S::defects()
        .iter()
        .map(|d| format!("{:<34} exposed by {}\n", d.name, headline(d.description)))
        .collect()
}

/// How one defect fared over the ranges.
#[derive(Clone, Debug, Default)]
pub struct Detection {
    /// Seeds run until the first violation, per range where it was caught.
    pub seeds: Vec<u64>,
    /// Seconds until the first violation, per range where it was caught.
    pub seconds: Vec<f64>,
    /// Violation kinds of the first violations, with counts.
    pub kinds: BTreeMap<String, u64>,
    /// Ranges run.
    pub ranges: u64,
}

impl Detection {
    pub fn caught(&self) -> u64 {
        self.seeds.len() as u64
    }
}

fn median_u64(v: &[u64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_unstable();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2] as f64),
        _ => Some((v[n / 2 - 1] + v[n / 2]) as f64 / 2.0),
    }
}

fn median_f64(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// Runs the gate's sweep with `bug` switched on from `ranges` starting seeds.
pub fn detect<S: Store>(
    bug: &Defect,
    base: &GateOptions,
    ranges: u64,
    range_seeds: u64,
) -> Detection {
    let mut d = Detection {
        ranges,
        ..Detection::default()
    };
    for r in 0..ranges {
        let start = base.seed_start.wrapping_add(r * RANGE_STRIDE);
        if let Some((seeds, seconds, kind)) = first_detection::<S>(bug, base, start, range_seeds) {
            d.seeds.push(seeds);
            d.seconds.push(seconds);
            *d.kinds.entry(kind).or_default() += 1;
        }
    }
    d
}

/// Sweeps from `start` with `bug` on until a seed fails because of it: a failing seed that
/// also fails with the defect off is not the defect's doing, and the sweep goes on past it.
/// Returns the seeds run, the seconds taken and the violation kind.
fn first_detection<S: Store>(
    bug: &Defect,
    base: &GateOptions,
    start: u64,
    budget: u64,
) -> Option<(u64, f64, String)> {
    let clock = Instant::now();
    let mut from = start;
    while from.wrapping_sub(start) < budget {
        let mut opts = base.clone();
        opts.sweep.bugs = vec![bug.name.to_string()];
        opts.seed_start = from;
        opts.shard = crate::gate::sweep::Shard::ALL;
        opts.seeds = Some(budget - from.wrapping_sub(start));
        opts.seconds = None;
        opts.max_violations = 1;
        opts.regressions = None;
        opts.shrink_runs = 0;
        opts.save_regressions = false;
        opts.min_coverage = false;
        let outcome = run_gate::<S>(&opts, |_| {}).ok()?;
        let v = outcome.report.violations.first()?;
        let mut clean = base.sweep.clone();
        clean.bugs.clear();
        if crate::run::run_seed::<S>(v.seed, &clean.run_options(v.seed)).is_ok_and(|o| o.passed()) {
            let seeds = v.seed.wrapping_sub(start) + 1;
            return Some((seeds, clock.elapsed().as_secs_f64(), v.kind.clone()));
        }
        from = v.seed.wrapping_add(1);
    }
    None
}

/// Escapes a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The markdown table of detections.
pub fn table(rows: &[(Defect, Detection)]) -> String {
    let mut out = String::from(
        "| defect | source | exposing fault | caught | median seeds | median seconds | violations |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for (bug, d) in rows {
        let seeds = median_u64(&d.seeds).map_or("-".to_string(), |m| format!("{m:.0}"));
        let secs = median_f64(&d.seconds).map_or("-".to_string(), |m| format!("{m:.3}"));
        let kinds: Vec<String> = d.kinds.iter().map(|(k, n)| format!("{k} ({n})")).collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {}/{} | {} | {} | {} |\n",
            bug.name,
            cell(bug.source),
            cell(bug.description),
            d.caught(),
            d.ranges,
            seeds,
            secs,
            kinds.join(", ")
        ));
    }
    out
}

/// `powercut gate --bug-table`: every defect (or those given with `--bug`) over 20 ranges.
pub fn run_table<S: Store>(opts: &GateOptions) -> Result<u8> {
    let bugs: Vec<Defect> = S::defects()
        .into_iter()
        .filter(|d| opts.sweep.bugs.is_empty() || opts.sweep.bugs.iter().any(|b| b == d.name))
        .collect();
    let mut rows = Vec::new();
    for bug in bugs {
        let d = detect::<S>(&bug, opts, RANGES, opts.seeds.unwrap_or(RANGE_SEEDS));
        eprintln!("{}: caught in {}/{} ranges", bug.name, d.caught(), d.ranges);
        rows.push((bug, d));
    }
    print!("{}", table(&rows));
    let all_caught = rows.iter().all(|(_, d)| d.caught() == d.ranges);
    Ok(u8::from(!all_caught))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_lists() {
        assert_eq!(median_u64(&[5, 1, 3]), Some(3.0));
        assert_eq!(median_u64(&[4, 1, 3, 2]), Some(2.5));
        assert_eq!(median_u64(&[]), None);
        assert_eq!(median_f64(&[0.5, 0.1]), Some(0.3));
    }

    #[cfg(feature = "engine")]
    #[test]
    fn every_catalog_name_is_accepted_and_others_are_not() {
        type E = crate::stores::EngineStore;
        let names: Vec<String> = names::<E>().iter().map(|n| n.to_string()).collect();
        assert!(check_names::<E>(&names).is_ok());
        assert!(check_names::<E>(&["no_such_bug".to_string()]).is_err());
        assert_eq!(list::<E>().lines().count(), engine::bugs::Bug::ALL.len());
    }
}
