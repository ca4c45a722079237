//! Canaries: a store with a known durability defect runs through the crash loop while the loop
//! expects the promise of the configuration it declares. The loop must catch it; if these tests
//! ever fail, the crash loop (or the VFS) has stopped seeing lost commits.

use faultfs::CrashPolicy;
use sqlite_store::{Canary, DeviceAssumptions, Journal, SqliteConfig, Sync};

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
