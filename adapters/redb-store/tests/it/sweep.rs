//! redb under Powercut's own sweep (the gate's policy x fault matrix, through
//! `powercut::sweep`), and the defects the sweep must catch.
//!
//! Size: `POWERCUT_SEEDS` sets the seeds of each sweep (defaults below, about 150, a few seconds
//! in release); `POWERCUT_POLICIES` narrows the policies. The fault classes are fixed per test,
//! because redb keeps its contract under damage to durable bytes only when it checks its file
//! on open (see `known_findings`).

use std::time::Instant;

use faultfs::FaultClass;
use powercut::{RunOptions, SweepOptions, ViolationKind};
use redb_store::{NAME_NOT_SYNCED, NON_DURABLE_COMMITS, RedbStore};

/// The seeds of a sweep: `POWERCUT_SEEDS` when set, else `default`.
fn seeds(default: u64) -> u64 {
    match std::env::var_os("POWERCUT_SEEDS") {
        Some(_) => SweepOptions::from_env().seeds,
        None => default,
    }
}

/// Crash-only runs, every I/O error and truncation: what redb's contract covers whatever it is
/// configured with.
#[test]
fn redb_keeps_its_contract_under_every_policy_io_fault_and_truncation() {
    let faults = [
        FaultClass::ReadError,
        FaultClass::WriteError,
        FaultClass::SyncError,
        FaultClass::NoSpace,
        FaultClass::FsyncMarkClean,
        FaultClass::FsyncReportLater,
        FaultClass::FsyncRevert,
        FaultClass::Truncate,
    ];
    powercut::sweep::<RedbStore>(&SweepOptions {
        seeds: seeds(160),
        faults: std::iter::once(None)
            .chain(faults.into_iter().map(Some))
            .collect(),
        ..SweepOptions::from_env()
    });
}

/// Flipped bits, torn sectors and misdirected writes in durable bytes: redb refuses the file or,
/// under one-phase commit, rolls back to the previous commit, once it is told to check its file
/// on every open.
#[test]
fn redb_checking_its_file_on_open_keeps_its_contract_under_damage_too() {
    powercut::sweep::<RedbStore>(&SweepOptions {
        seeds: seeds(120),
        faults: vec![
            Some(FaultClass::BitFlip),
            Some(FaultClass::TornSector),
            Some(FaultClass::MisdirectedWrite),
        ],
        config: Some(serde_json::json!({ "check_integrity_on_open": true })),
        ..SweepOptions::from_env()
    });
}

/// Runs crash-only seeds from 0 with `defect` switched on until one fails with `kind`; returns
/// how many seeds that took, or fails the test naming what was seen instead.
fn seeds_to_catch(defect: &str, kind: ViolationKind, max_seeds: u64) -> u64 {
    let opts = RunOptions {
        bugs: vec![defect.to_string()],
        ..RunOptions::default()
    };
    let start = Instant::now();
    let mut seen = Vec::new();
    for seed in 0..max_seeds {
        let outcome = powercut::run_seed::<RedbStore>(seed, &opts).expect("the seed runs");
        if let Some(v) = outcome.violations.first() {
            if v.kind == kind {
                eprintln!(
                    "{defect}: caught as {kind} at seed {seed} ({} seeds, {:.3} s)",
                    seed + 1,
                    start.elapsed().as_secs_f64()
                );
                return seed + 1;
            }
            seen.push((seed, v.kind));
        }
    }
    panic!("{defect} was not caught as {kind} in {max_seeds} seeds (other violations: {seen:?})");
}

/// The canary promises durability it does not keep; if no seed catches it losing an
/// acknowledged durable write, the harness or the adapter is broken.
#[test]
fn the_sweep_catches_non_durable_commits_losing_a_durable_write() {
    seeds_to_catch(NON_DURABLE_COMMITS, ViolationKind::LostDurable, 100);
}

/// A database file whose name was never synced vanishes in a strict power cut, with every write
/// acknowledged as durable.
#[test]
fn the_sweep_catches_an_unsynced_database_name_losing_a_durable_write() {
    seeds_to_catch(NAME_NOT_SYNCED, ViolationKind::LostDurable, 100);
}
