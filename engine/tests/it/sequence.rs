//! Sequence continuity at recovery: a MANIFEST that lost edits, or a WAL that lost records in
//! the middle, is refused (never a hole), while every state a crash can leave is accepted.

use std::path::Path;
use std::sync::Arc;

use engine::log_frame::{self, Leniency};
use engine::{Db, Error, Options};
use faultfs::{CrashPolicy, Fs, SimFs};

use crate::common::*;

/// Small memtables, but one MANIFEST for the whole session (no rollover).
fn options() -> Options {
    Options {
        manifest_rollover_bytes: 1 << 20,
        l0_compaction_trigger: 8,
        ..small_options()
    }
}

fn only(t: &TestDir, suffix: &str) -> String {
    let names = t.names(|n| n.ends_with(suffix) || n.starts_with(suffix));
    assert_eq!(names.len(), 1, "{names:?}");
    names[0].clone()
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

fn truncate(path: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn listing(t: &TestDir) -> Vec<(String, u64)> {
    t.names(|_| true)
        .into_iter()
        .map(|n| {
            let len = file_len(&t.real(&n));
            (n, len)
        })
        .collect()
}

fn expect_corruption_naming(result: engine::Result<Db>, prefix: &str) -> String {
    match result {
        Err(Error::Corruption { file, reason, .. }) => {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                name.starts_with(prefix) || name.ends_with(prefix),
                "{name}: {reason}"
            );
            reason
        }
        other => panic!("expected corruption naming {prefix}, got {other:?}"),
    }
}

/// Two flushes, each its own edit; returns the MANIFEST's name and its length after the first.
fn two_flushes(t: &TestDir, options: Options, write_after: bool) -> (String, u64) {
    let db = t.open(options).unwrap();
    db.put(b"k1", b"first", NOSYNC).unwrap();
    db.flush().unwrap();
    let manifest = only(t, "MANIFEST-");
    let after_first = file_len(&t.real(&manifest));
    db.put(b"k2", b"second", NOSYNC).unwrap();
    db.flush().unwrap();
    if write_after {
        db.put(b"k3", b"third", SYNC).unwrap();
    }
    drop(db);
    (manifest, after_first)
}

#[test]
fn truncated_manifest_that_lost_a_flush_edit_is_refused_not_a_hole() {
    let t = TestDir::new();
    let (manifest, after_first) = two_flushes(&t, options(), true);
    // Cut inside the second flush's edit: the WAL it retired is gone, the next WAL holds k3.
    truncate(&t.real(&manifest), after_first + 10);
    let before = listing(&t);
    let reason = expect_corruption_naming(t.open(options()), "MANIFEST-");
    assert!(reason.contains("lost edits"), "{reason}");
    assert_eq!(
        listing(&t),
        before,
        "a refusing recovery removed or changed files"
    );
    // Refusing again is just as clean.
    expect_corruption_naming(t.open(options()), "MANIFEST-");
}

#[test]
fn truncated_manifest_that_lost_the_last_flush_keeps_its_sst_and_refuses() {
    let t = TestDir::new();
    // Nothing written after the second flush: no WAL record shows the gap, the SST's footer does.
    let (manifest, after_first) = two_flushes(&t, options(), false);
    truncate(&t.real(&manifest), after_first + 10);
    let ssts = t.names(|n| n.ends_with(".sst"));
    let reason = expect_corruption_naming(t.open(options()), "MANIFEST-");
    assert!(reason.contains("lost the edit"), "{reason}");
    assert_eq!(t.names(|n| n.ends_with(".sst")), ssts);
}

#[test]
fn truncated_manifest_with_the_wal_off_recovers_an_older_consistent_state() {
    let t = TestDir::new();
    let options = Options {
        wal: false,
        ..options()
    };
    let (manifest, after_first) = two_flushes(&t, options.clone(), false);
    truncate(&t.real(&manifest), after_first + 10);
    let db = t.open(options.clone()).unwrap();
    assert_eq!(all(&db), vec![(b"k1".to_vec(), b"first".to_vec())]);
    db.check_invariants().unwrap();
    // Sequence numbers go on from the recovered state: later writes survive a reopen.
    db.put(b"k4", b"fourth", NOSYNC).unwrap();
    db.close().unwrap();
    let db = t.open(options).unwrap();
    assert_eq!(all(&db).len(), 2);
}

#[test]
fn leftover_sst_whose_writes_are_in_the_wal_is_removed_and_an_empty_new_wal_accepted() {
    let t = TestDir::new();
    let db = t.open(options()).unwrap();
    db.put(b"a", b"1", SYNC).unwrap();
    db.put(b"b", b"2", SYNC).unwrap();
    let manifest = only(&t, "MANIFEST-");
    let wal = only(&t, ".wal");
    let wal_bytes = std::fs::read(t.real(&wal)).unwrap();
    let manifest_len = file_len(&t.real(&manifest));
    // The flush writes its SST, logs its edit, removes the WAL and starts a new, empty one.
    db.flush().unwrap();
    drop(db);
    // A crash before the edit reached the disk: the edit is gone, the old WAL is back.
    truncate(&t.real(&manifest), manifest_len);
    std::fs::write(t.real(&wal), wal_bytes).unwrap();
    assert_eq!(t.names(|n| n.ends_with(".sst")).len(), 1);
    assert_eq!(t.names(|n| n.ends_with(".wal")).len(), 2);
    let db = t.open(options()).unwrap();
    assert_eq!(all(&db).len(), 2);
    db.check_invariants().unwrap();
}

#[test]
fn wals_left_by_memtable_switches_continue_each_other() {
    let t = TestDir::new();
    let options = Options {
        max_immutable_memtables: 8,
        ..options()
    };
    let db = t.open(options.clone()).unwrap();
    for i in 0..120 {
        db.put(&key(i), &value(i, 0), SYNC).unwrap();
    }
    drop(db);
    assert!(t.names(|n| n.ends_with(".wal")).len() >= 3);
    for round in 1..3 {
        let db = t.open(options.clone()).unwrap();
        assert_eq!(all(&db).len(), 120);
        db.check_invariants().unwrap();
        for i in 0..60 {
            db.put(&key(i), &value(i, round), SYNC).unwrap();
        }
        drop(db);
    }
    let db = t.open(options).unwrap();
    assert_eq!(db.get(&key(5)).unwrap(), Some(value(5, 2)));
}

/// The frames of a WAL: (offset, length) of each, commit frames included.
fn frames(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Ok(f) = log_frame::decode_at(bytes, pos) {
        out.push((pos, f.next - pos));
        pos = f.next;
    }
    out
}

/// A WAL of a header and three batches, none synced (each batch big enough to be written at
/// once); returns its name and its bytes.
fn unsynced_wal(t: &TestDir) -> (String, Vec<u8>) {
    let db = t.open(options()).unwrap();
    for i in 0..3 {
        db.put(&key(i), &vec![b'v'; 300], NOSYNC).unwrap();
    }
    drop(db);
    let wal = only(t, ".wal");
    let bytes = std::fs::read(t.real(&wal)).unwrap();
    let (read, _) = log_frame::read_log(&bytes, Leniency::default()).unwrap();
    assert_eq!(read.len(), 4, "a header and three batches");
    (wal, bytes)
}

#[test]
fn wal_whose_start_was_overwritten_by_later_records_is_refused() {
    let t = TestDir::new();
    let (wal, bytes) = unsynced_wal(&t);
    let f = frames(&bytes);
    // The write of the second batch was misdirected to offset 0, over the header and the
    // first batch; where it belonged, nothing was written.
    let (at, len) = f[2];
    let mut damaged = bytes.clone();
    damaged.copy_within(at..at + len, 0);
    damaged[at..at + len].fill(0);
    std::fs::write(t.real(&wal), damaged).unwrap();
    let reason = expect_corruption_naming(t.open(options()), ".wal");
    assert!(reason.contains("header"), "{reason}");
}

#[test]
fn wal_with_a_sequence_gap_is_refused() {
    let t = TestDir::new();
    let (wal, bytes) = unsynced_wal(&t);
    let f = frames(&bytes);
    // The second batch is missing: the header, the first batch, then the third.
    let mut damaged = bytes[..f[2].0].to_vec();
    damaged.extend_from_slice(&bytes[f[3].0..]);
    std::fs::write(t.real(&wal), damaged).unwrap();
    let reason = expect_corruption_naming(t.open(options()), ".wal");
    assert!(reason.contains("missing"), "{reason}");
}

/// A power cut at every point of a recovery that replays several WALs and flushes them: each
/// later recovery still finds an unbroken chain, and writes made after it survive the next.
#[test]
fn power_cut_anywhere_in_recovery_keeps_the_sequence_chain() {
    let options = Options {
        max_immutable_memtables: 8,
        ..options()
    };
    for policy in [
        CrashPolicy::Strict,
        CrashPolicy::Torn { sector: 512 },
        CrashPolicy::Reorder { sector: 512 },
    ] {
        let mut cut = 0;
        loop {
            let fs = SimFs::with_seed(cut);
            let dynfs: Arc<dyn Fs> = Arc::new(fs.clone());
            let db = Db::open(Arc::clone(&dynfs), DB, options.clone()).unwrap();
            db.put(b"flushed", b"0", NOSYNC).unwrap();
            db.flush().unwrap();
            for i in 0..80 {
                db.put(&key(i), &value(i, 0), SYNC).unwrap();
            }
            fs.power_off();
            drop(db);
            fs.reboot(policy, cut);
            fs.crash_after_ops(cut);
            let finished = match Db::open(Arc::clone(&dynfs), DB, options.clone()) {
                Ok(db) => {
                    drop(db);
                    true
                }
                Err(e) => {
                    assert!(e.is_power_loss(), "cut {cut}: {e}");
                    false
                }
            };
            fs.power_off();
            fs.reboot(policy, cut + 1000);
            let db = Db::open(Arc::clone(&dynfs), DB, options.clone())
                .unwrap_or_else(|e| panic!("{policy:?} cut {cut}: {e}"));
            assert_eq!(all(&db).len(), 81, "{policy:?} cut {cut}");
            db.check_invariants().unwrap();
            db.put(b"after", b"1", SYNC).unwrap();
            fs.power_off();
            drop(db);
            fs.reboot(policy, cut + 2000);
            let db = Db::open(dynfs, DB, options.clone())
                .unwrap_or_else(|e| panic!("{policy:?} cut {cut}, second reopen: {e}"));
            assert_eq!(db.get(b"after").unwrap(), Some(b"1".to_vec()));
            assert_eq!(all(&db).len(), 82);
            if finished {
                break;
            }
            cut += 1;
        }
        assert!(
            cut > 5,
            "{policy:?}: recovery made only {cut} mutating calls"
        );
    }
}
