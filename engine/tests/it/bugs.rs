//! Each catalogued defect (issue 6) really changes behaviour: a crash sweep or a direct
//! scenario shows the violation it causes, where the correct engine (covered by the same sweeps
//! in `sim.rs` and the same scenarios in `recovery.rs`) shows none.

use std::ops::Bound;
use std::sync::Arc;

use engine::bugs::Bug;
use engine::{Db, Error, Options};
use faultfs::{CrashPolicy, Fault, Fs, FsyncMode, IoOp, PathPattern, SimFs};

use crate::common::*;
use crate::sim::sweep;

fn with(bug: Bug) -> Options {
    let mut options = small_options();
    options.bugs.insert(bug);
    options
}

/// The sweep finds a violation with the defect on (and the test says which).
fn caught(bug: Bug, policy: CrashPolicy) -> String {
    caught_with(with(bug), policy)
}

/// Memtables that fill between the workload's flushes, so WALs switch on their own.
fn tiny_memtables(bug: Bug) -> Options {
    Options {
        memtable_bytes: 600,
        ..with(bug)
    }
}

fn caught_with(options: Options, policy: CrashPolicy) -> String {
    let bug = options.bugs.iter().next().copied();
    match sweep(&options, policy, 2) {
        Err(violation) => violation,
        Ok(points) => panic!("{bug:?}: {points} crash points under {policy:?} found nothing"),
    }
}

const TORN: CrashPolicy = CrashPolicy::Torn { sector: 512 };
const REORDER: CrashPolicy = CrashPolicy::Reorder { sector: 512 };

#[test]
fn sst_dir_entry_not_synced_loses_a_named_sst() {
    let v = caught(Bug::SstDirEntryNotSynced, CrashPolicy::Strict);
    assert!(
        v.contains("missing file") || v.contains("reopen failed"),
        "{v}"
    );
}

#[test]
fn edit_before_sst_sync_names_an_sst_without_bytes() {
    caught(Bug::EditBeforeSstSync, CrashPolicy::Strict);
}

#[test]
fn obsolete_removed_before_edit_leaves_the_manifest_naming_removed_files() {
    let v = caught(Bug::ObsoleteRemovedBeforeEdit, CrashPolicy::Strict);
    assert!(v.contains("reopen failed"), "{v}");
}

#[test]
fn current_in_place_can_leave_current_torn() {
    let v = caught(Bug::CurrentInPlace, TORN);
    assert!(v.contains("CURRENT"), "{v}");
}

#[test]
fn current_before_manifest_durable_names_an_empty_manifest() {
    let v = caught(Bug::CurrentBeforeManifestDurable, CrashPolicy::Strict);
    assert!(v.contains("MANIFEST"), "{v}");
}

#[test]
fn sync_write_without_wal_sync_loses_acknowledged_writes() {
    let v = caught(Bug::SyncWriteWithoutWalSync, CrashPolicy::Strict);
    assert!(v.contains("not a prefix"), "{v}");
}

#[test]
fn wal_removed_before_flush_durable_loses_the_memtable() {
    caught(Bug::WalRemovedBeforeFlushDurable, CrashPolicy::Strict);
}

#[test]
fn no_wal_sync_at_switch_leaves_a_hole() {
    caught_with(tiny_memtables(Bug::NoWalSyncAtSwitch), CrashPolicy::Strict);
}

#[test]
fn file_numbers_from_manifest_only_reuse_a_live_wal_number() {
    let v = caught_with(
        tiny_memtables(Bug::FileNumbersFromManifestOnly),
        CrashPolicy::Strict,
    );
    assert!(v.contains("live WAL"), "{v}");
}

#[test]
fn zero_frame_accepted_replays_past_a_hole() {
    caught_with(tiny_memtables(Bug::ZeroFrameAccepted), REORDER);
}

/// Three synced records; the middle one is damaged (flipped, or zeroed) on disk.
fn damaged_middle_record(zero: bool, options: Options) -> engine::Result<Db> {
    let t = TestDir::new();
    let db = t.open(small_options()).unwrap();
    for i in 0..3 {
        db.put(&key(i), &value(i, 0), SYNC).unwrap();
    }
    drop(db);
    let wal = t.names(|n| n.ends_with(".wal")).pop().unwrap();
    let path = t.real(&wal);
    let mut bytes = std::fs::read(&path).unwrap();
    // The WAL starts with a header frame (16 + 9 bytes); each batch (kind, sequence number,
    // count, one put) is followed by a commit frame of 17 bytes.
    let batch = |i: u32| 16 + 1 + 8 + 4 + 1 + 4 + key(i).len() + 4 + value(i, 0).len();
    let first = 25 + batch(0) + 17;
    let second = first + batch(1);
    if zero {
        bytes[first..second].fill(0);
    } else {
        bytes[first + 20] ^= 0x40;
    }
    std::fs::write(&path, bytes).unwrap();
    let db = t.open(options);
    // Keep the directory alive for the caller's reads.
    std::mem::forget(t);
    db
}

#[test]
fn bad_record_is_torn_tail_silently_cuts_valid_records() {
    assert!(matches!(
        damaged_middle_record(false, small_options()),
        Err(Error::Corruption { .. })
    ));
    let db = damaged_middle_record(false, with(Bug::BadRecordIsTornTail)).unwrap();
    assert_eq!(
        all(&db).len(),
        1,
        "records after the damage were cut without a word"
    );
}

#[test]
fn zero_frame_accepted_skips_a_zeroed_record() {
    assert!(matches!(
        damaged_middle_record(true, small_options()),
        Err(Error::Corruption { .. })
    ));
    let db = damaged_middle_record(true, with(Bug::ZeroFrameAccepted)).unwrap();
    let keys: Vec<_> = all(&db).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        vec![key(0), key(2)],
        "a hole in the middle of the history"
    );
}

fn sim() -> (SimFs, Arc<dyn Fs>) {
    let fs = SimFs::with_seed(3);
    let dynfs: Arc<dyn Fs> = Arc::new(fs.clone());
    (fs, dynfs)
}

#[test]
fn memtable_before_wal_shows_a_failed_write() {
    for (bug, visible) in [(false, false), (true, true)] {
        let (fs, dynfs) = sim();
        let options = if bug {
            with(Bug::MemtableBeforeWal)
        } else {
            small_options()
        };
        let db = Db::open(dynfs, DB, options).unwrap();
        fs.inject(Fault::IoError {
            op: IoOp::Write,
            path: PathPattern("*.wal".into()),
            nth: 1,
        });
        assert!(db.put(b"k", b"v", SYNC).is_err());
        assert_eq!(db.get(b"k").unwrap().is_some(), visible, "defect on: {bug}");
    }
}

#[test]
fn fsync_retried_acknowledges_a_write_that_is_lost() {
    for (bug, acked) in [(false, false), (true, true)] {
        let (fs, dynfs) = sim();
        let options = if bug {
            with(Bug::FsyncRetried)
        } else {
            small_options()
        };
        let db = Db::open(Arc::clone(&dynfs), DB, options.clone()).unwrap();
        fs.inject(Fault::FsyncFailure {
            path: PathPattern("*.wal".into()),
            nth: 1,
            mode: FsyncMode::MarkClean,
        });
        assert_eq!(db.put(b"k", b"v", SYNC).is_ok(), acked, "defect on: {bug}");
        fs.power_off();
        drop(db);
        fs.reboot(CrashPolicy::Strict, 1);
        // MarkClean dropped the pages either way: the write is gone, or (with the defect) the
        // commit frame the retried sync let through now vouches for bytes that never arrived.
        match Db::open(dynfs, DB, options) {
            Ok(db) => assert_eq!(db.get(b"k").unwrap(), None),
            Err(e) => assert!(bug && matches!(e, Error::Corruption { .. }), "{e}"),
        }
    }
}

#[test]
fn replay_flushed_wal_resurrects_a_deleted_key() {
    for (bug, resurrected) in [(false, false), (true, true)] {
        let options = if bug {
            with(Bug::ReplayFlushedWal)
        } else {
            small_options()
        };
        let t = TestDir::new();
        let db = t.open(options.clone()).unwrap();
        db.put(b"k", b"old", SYNC).unwrap();
        let wal = t.names(|n| n.ends_with(".wal")).pop().unwrap();
        let saved = std::fs::read(t.real(&wal)).unwrap();
        db.flush().unwrap();
        db.delete(b"k", SYNC).unwrap();
        db.flush().unwrap();
        db.force_compact().unwrap();
        drop(db);
        // The removal of the first WAL was lost in a crash.
        std::fs::write(t.real(&wal), saved).unwrap();
        let db = t.open(options).unwrap();
        assert_eq!(
            db.get(b"k").unwrap().is_some(),
            resurrected,
            "defect on: {bug}"
        );
    }
}

#[test]
fn tombstone_dropped_early_resurrects_deleted_keys_without_a_crash() {
    for (bug, resurrected) in [(false, false), (true, true)] {
        let options = if bug {
            with(Bug::TombstoneDroppedEarly)
        } else {
            small_options()
        };
        let t = TestDir::new();
        let db = t.open(options).unwrap();
        for i in 0..600 {
            db.put(&key(i), &value(i, 0), NOSYNC).unwrap();
        }
        db.flush().unwrap();
        db.force_compact().unwrap();
        for i in (0..600).step_by(3) {
            db.delete(&key(i), NOSYNC).unwrap();
        }
        db.flush().unwrap();
        db.force_compact().unwrap();
        let live = db.scan(Bound::Unbounded, Bound::Unbounded).unwrap().len();
        assert_eq!(
            live > 400,
            resurrected,
            "defect on: {bug}, {live} keys live"
        );
    }
}
