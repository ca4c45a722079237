//! The gate catches every defect of the engine's catalog (issue 6): with `--bug NAME` it exits 1
//! within a small seed budget, naming a violation of the kind the defect causes, and the seed it
//! names passes with the defect off; over the same seeds without `--bug` the gate exits 0.

use engine::bugs::Bug;

use crate::gate_support::{gate, gate_report};

/// Seeds each gate may run: every defect is caught well inside it from seed 0.
const BUDGET: &str = "1500";

/// What a lost or reordered write looks like to the checker, depending on what was lost.
const LOSS: &[&str] = &["lost_durable", "not_a_prefix", "resurrected", "torn_batch"];
/// A store that cannot open what it wrote, or that opens a hole in its log.
const REFUSAL: &[&str] = &["unclean_refusal"];

/// The replay command of a violation with its `--bug` flags dropped.
fn without_defect(replay: &str) -> Vec<&str> {
    let mut plain = Vec::new();
    let mut words = replay.split_whitespace();
    while let Some(w) = words.next() {
        if w == "--bug" {
            words.next();
        } else {
            plain.push(w);
        }
    }
    plain
}

fn caught(bug: Bug, kinds: &[&[&str]]) {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--bug",
        bug.name(),
        "--seeds",
        BUDGET,
        "--max-violations",
        "5",
        "--no-regressions",
        "--shrink-runs",
        "0",
    ];
    let (code, report) = gate_report(dir.path(), bug.name(), &args);
    assert_eq!(code, 1, "{} was not caught in {BUDGET} seeds", bug.name());
    // The defect, not something else, must make the seed fail: the first violation whose seed
    // passes with the defect off is the defect's.
    let own = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| {
            let plain = without_defect(v["replay"].as_str().unwrap());
            powercut::cli::shipped_main(plain.iter().map(Into::into).collect()) == 0
        })
        .unwrap_or_else(|| panic!("{}: every failing seed fails without it too", bug.name()));
    let kind = own["kind"].as_str().unwrap();
    assert!(
        kinds.iter().any(|k| k.contains(&kind)),
        "{}: caught as {kind}, not a kind this defect causes: {}",
        bug.name(),
        own["message"]
    );
}

#[test]
fn the_gate_passes_the_engine_over_the_defect_tests_seeds() {
    assert_eq!(gate(&["--seeds", BUDGET, "--no-regressions"]), 0);
}

#[test]
fn every_catalog_defect_has_a_test_here() {
    // Keep this list in step with the tests below.
    let tested = [
        Bug::SstDirEntryNotSynced,
        Bug::EditBeforeSstSync,
        Bug::ObsoleteRemovedBeforeEdit,
        Bug::CurrentInPlace,
        Bug::CurrentBeforeManifestDurable,
        Bug::SyncWriteWithoutWalSync,
        Bug::WalRemovedBeforeFlushDurable,
        Bug::BadRecordIsTornTail,
        Bug::ZeroFrameAccepted,
        Bug::FileNumbersFromManifestOnly,
        Bug::MemtableBeforeWal,
        Bug::FsyncRetried,
        Bug::ReplayFlushedWal,
        Bug::TombstoneDroppedEarly,
        Bug::NoWalSyncAtSwitch,
    ];
    assert_eq!(tested.to_vec(), Bug::ALL.to_vec());
}

macro_rules! defect {
    ($test:ident, $bug:ident, $($kinds:expr),+) => {
        #[test]
        fn $test() {
            caught(Bug::$bug, &[$($kinds),+]);
        }
    };
}

// A file the MANIFEST names is missing or damaged after the crash: a refusal no damage explains,
// or (when the store opens anyway) lost writes.
defect!(
    sst_dir_entry_not_synced_is_caught,
    SstDirEntryNotSynced,
    REFUSAL,
    LOSS
);
defect!(
    edit_before_sst_sync_is_caught,
    EditBeforeSstSync,
    REFUSAL,
    LOSS
);
defect!(
    obsolete_removed_before_edit_is_caught,
    ObsoleteRemovedBeforeEdit,
    REFUSAL,
    LOSS
);
defect!(current_in_place_is_caught, CurrentInPlace, REFUSAL);
defect!(
    current_before_manifest_durable_is_caught,
    CurrentBeforeManifestDurable,
    REFUSAL
);
// Acknowledged writes vanish.
defect!(
    sync_write_without_wal_sync_is_caught,
    SyncWriteWithoutWalSync,
    LOSS
);
defect!(
    wal_removed_before_flush_durable_is_caught,
    WalRemovedBeforeFlushDurable,
    LOSS,
    REFUSAL
);
defect!(
    bad_record_is_torn_tail_is_caught,
    BadRecordIsTornTail,
    LOSS,
    REFUSAL
);
defect!(
    zero_frame_accepted_is_caught,
    ZeroFrameAccepted,
    LOSS,
    &["phantom"]
);
// A reused file number: the invariant check finds two files with one number, or data is lost.
defect!(
    file_numbers_from_manifest_only_is_caught,
    FileNumbersFromManifestOnly,
    &["invariant"],
    LOSS
);
// A failed write shows up in reads.
defect!(
    memtable_before_wal_is_caught,
    MemtableBeforeWal,
    &["read_your_writes"]
);
// The retried fsync hides dropped pages: lost writes, or a hole the engine then reports.
defect!(fsync_retried_is_caught, FsyncRetried, LOSS, REFUSAL);
// Old WAL records replayed over newer state.
defect!(
    replay_flushed_wal_is_caught,
    ReplayFlushedWal,
    &["phantom"],
    LOSS,
    REFUSAL
);
// Deleted keys come back, in reads or after recovery.
defect!(
    tombstone_dropped_early_is_caught,
    TombstoneDroppedEarly,
    &["phantom", "read_your_writes"],
    LOSS
);
// The old WAL's unsynced tail is lost behind synced writes: a hole.
defect!(
    no_wal_sync_at_switch_is_caught,
    NoWalSyncAtSwitch,
    LOSS,
    REFUSAL
);
