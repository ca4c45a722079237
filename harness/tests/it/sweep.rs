//! Engine sweeps: many seeds under every crash policy and every fault class must pass.
//! Size with POWERCUT_SEEDS (default 200 per sweep).

use faultfs::FaultClass;
use powercut::{PolicyKind, RunOptions};

use crate::support::engine_seed as run_seed;

fn seeds() -> u64 {
    std::env::var("POWERCUT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

fn sweep(opts: &RunOptions, what: &str) {
    let n = seeds();
    let mut failures = Vec::new();
    for seed in 0..n {
        let outcome = run_seed(seed, opts);
        if let Some(r) = &outcome.report {
            failures.push(format!("{r}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{what}: {} of {n} seeds failed; first:\n{}",
        failures.len(),
        failures[0]
    );
}

#[test]
fn the_engine_passes_seeds_under_every_crash_policy() {
    for kind in PolicyKind::ALL {
        let opts = RunOptions {
            policy: Some(kind.policy()),
            ..RunOptions::default()
        };
        sweep(&opts, kind.name());
    }
}

/// One test per fault class, so a finding names its class.
macro_rules! fault_sweeps {
    ($($name:ident => $class:ident,)*) => {$(
        #[test]
        fn $name() {
            let opts = RunOptions { faults: vec![FaultClass::$class], ..RunOptions::default() };
            sweep(&opts, stringify!($class));
        }
    )*};
}

fault_sweeps! {
    the_engine_passes_seeds_with_read_errors => ReadError,
    the_engine_passes_seeds_with_write_errors => WriteError,
    the_engine_passes_seeds_with_sync_errors => SyncError,
    the_engine_passes_seeds_with_enospc => NoSpace,
    the_engine_passes_seeds_with_fsync_mark_clean => FsyncMarkClean,
    the_engine_passes_seeds_with_fsync_report_later => FsyncReportLater,
    the_engine_passes_seeds_with_fsync_revert => FsyncRevert,
    the_engine_passes_seeds_with_aimed_bit_flips => BitFlip,
    the_engine_passes_seeds_with_aimed_torn_sectors => TornSector,
    the_engine_passes_seeds_with_misdirected_writes => MisdirectedWrite,
    the_engine_passes_seeds_with_truncated_files => Truncate,
}

#[test]
fn the_engine_passes_seeds_with_every_fault_class_at_once() {
    let opts = RunOptions {
        faults: powercut::swarm::ALL_FAULTS.to_vec(),
        ..RunOptions::default()
    };
    sweep(&opts, "all faults");
}

#[test]
fn faults_fire_in_a_sweep() {
    let opts = RunOptions {
        faults: vec![FaultClass::WriteError, FaultClass::SyncError],
        ..RunOptions::default()
    };
    let fired: u64 = (0..seeds().min(50))
        .map(|s| run_seed(s, &opts).counts.faults_fired)
        .sum();
    assert!(
        fired > 0,
        "no fault fired: the fault schedule misses the engine's files"
    );
}

#[test]
fn seeded_crashes_land_in_every_engine_phase() {
    use std::collections::BTreeSet;
    let phases: BTreeSet<faultfs::Phase> = (0..seeds().min(200))
        .flat_map(|s| run_seed(s, &RunOptions::default()).crashes)
        .map(|c| c.phase)
        .collect();
    for p in faultfs::Phase::ALL {
        assert!(
            phases.contains(&p),
            "no crash fell in phase {p}: {phases:?}"
        );
    }
}

#[test]
fn seeded_crashes_fall_inside_recovery() {
    let inside: usize = (0..seeds().min(200))
        .map(|s| {
            run_seed(s, &RunOptions::default())
                .crashes
                .iter()
                .filter(|c| c.during_recovery)
                .count()
        })
        .sum();
    assert!(inside > 0, "no crash fell inside a recovery");
}
