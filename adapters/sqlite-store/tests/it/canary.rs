//! Canaries: a store with a known durability defect runs through the crash loop while the loop
//! expects the promise of the configuration it declares. The loop must catch it; if these tests
//! ever fail, the crash loop (or the VFS) has stopped seeing lost commits.

use faultfs::CrashPolicy;
use powercut::{RunOptions, ViolationKind, run_seed};
use sqlite_store::{Canary, DeviceAssumptions, Journal, SqliteConfig, SqliteStore, Sync};

use crate::crash_loop::{Sweep, sweep};

fn canary_sweep(journal: Journal, canary: Canary) -> usize {
    let s = Sweep {
        config: SqliteConfig {
            journal,
            synchronous: Sync::Full,
            canary: Some(canary),
        },
        device: DeviceAssumptions::default(),
        policy: CrashPolicy::Strict,
        sync_requested: true,
        acked_loss_allowed: 0,
    };
    let report = sweep(&s);
    println!("canary {canary:?} on {journal:?}+FULL, Strict: {report}");
    if let Some(first) = report.violations.first() {
        println!("  first caught: {first}");
    }
    report.violations.len()
}

#[test]
fn synchronous_off_posing_as_full_loses_acknowledged_commits_and_is_caught() {
    for journal in [Journal::Delete, Journal::Wal] {
        assert!(
            canary_sweep(journal, Canary::SynchronousOff) > 0,
            "{journal:?}"
        );
    }
}

#[test]
fn a_vfs_that_drops_syncs_loses_acknowledged_commits_and_is_caught() {
    for journal in [Journal::Delete, Journal::Wal] {
        assert!(
            canary_sweep(journal, Canary::VfsDropsSyncs) > 0,
            "{journal:?}"
        );
    }
}

/// Seeds the harness gets to catch a canary; each of the first few catches both today.
const HARNESS_SEEDS_MAX: u64 = 16;

/// The first seed (from 0) whose run the harness fails with `kind`, under `defect`.
fn first_seed_caught(defect: &str, kind: ViolationKind) -> Option<u64> {
    let opts = RunOptions {
        bugs: vec![defect.to_string()],
        ..RunOptions::default()
    };
    (0..HARNESS_SEEDS_MAX).find(|&seed| {
        let outcome = run_seed::<SqliteStore>(seed, &opts).expect("the defect is known");
        outcome.violations.first().is_some_and(|v| v.kind == kind)
    })
}

/// The harness's canary: the `synchronous_off_declared_full` defect runs SQLite with
/// synchronous=OFF while the store declares FULL's durability, so a power cut takes writes that
/// synced writes and sync() acknowledged. If the harness stops seeing that, it checks nothing.
#[test]
fn synchronous_off_declared_full_is_caught_by_the_harness_as_lost_durable_writes() {
    let seed = first_seed_caught("synchronous_off_declared_full", ViolationKind::LostDurable);
    println!("synchronous_off_declared_full caught at seed {seed:?}");
    assert!(seed.is_some(), "not caught in {HARNESS_SEEDS_MAX} seeds");
}

#[test]
fn a_vfs_that_drops_syncs_is_caught_by_the_harness_as_lost_durable_writes() {
    let seed = first_seed_caught("vfs_drops_syncs", ViolationKind::LostDurable);
    println!("vfs_drops_syncs caught at seed {seed:?}");
    assert!(seed.is_some(), "not caught in {HARNESS_SEEDS_MAX} seeds");
}
