//! Recovery on a real directory: torn tails cut, damage reported, leftovers neither reused nor
//! fatal, missing files named.

use std::io::Write;

use engine::Error;

use crate::common::*;

fn only(t: &TestDir, suffix: &str) -> String {
    let names = t.names(|n| n.ends_with(suffix) || n.starts_with(suffix));
    assert_eq!(names.len(), 1, "{names:?}");
    names[0].clone()
}

fn append(path: &std::path::Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

/// Synced writes left only in the WAL (the engine is dropped, not closed).
fn wal_with_synced_writes(t: &TestDir, n: u32) {
    let db = t.open(small_options()).unwrap();
    for i in 0..n {
        db.put(&key(i), &value(i, 0), SYNC).unwrap();
    }
    drop(db);
}

#[test]
fn torn_and_zero_filled_wal_tails_are_cut_with_the_data_before_intact() {
    for tail in [
        vec![0u8; 300],
        vec![0x17, 0, 0, 0, 9, 9],
        b"\x40\x00\x00\x00garbage".to_vec(),
    ] {
        let t = TestDir::new();
        wal_with_synced_writes(&t, 10);
        append(&t.real(&only(&t, ".wal")), &tail);
        let db = t.open(small_options()).unwrap();
        assert_eq!(all(&db).len(), 10);
        db.check_invariants().unwrap();
    }
}

#[test]
fn torn_and_zero_filled_manifest_tails_are_cut() {
    for tail in [vec![0u8; 64], vec![0xff; 40]] {
        let t = TestDir::new();
        let db = t.open(small_options()).unwrap();
        for i in 0..40 {
            db.put(&key(i), &value(i, 0), NOSYNC).unwrap();
        }
        db.flush().unwrap();
        drop(db);
        append(&t.real(&only(&t, "MANIFEST-")), &tail);
        let db = t.open(small_options()).unwrap();
        assert_eq!(all(&db).len(), 40);
        db.check_invariants().unwrap();
    }
}

#[test]
fn damaged_wal_record_followed_by_valid_records_is_corruption() {
    let t = TestDir::new();
    wal_with_synced_writes(&t, 3);
    let wal = only(&t, ".wal");
    // The second batch starts after the header frame (16 + 9 bytes), the first batch (kind,
    // sequence number, count, one put) and its commit frame (16 + 1 bytes); flip a byte inside
    // its payload.
    let header = 16 + 9;
    let first_len = header + 16 + 1 + 8 + 4 + 1 + 4 + key(0).len() + 4 + value(0, 0).len() + 17;
    flip_byte(&t.real(&wal), (first_len + 20) as u64);
    match t.open(small_options()) {
        Err(Error::Corruption { file, offset, .. }) => {
            assert!(file.ends_with(&wal), "{file:?}");
            assert_eq!(offset, first_len as u64);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn damaged_manifest_record_followed_by_valid_records_is_corruption() {
    let t = TestDir::new();
    let db = t.open(small_options()).unwrap();
    for i in 0..30 {
        db.put(&key(i), &value(i, 0), NOSYNC).unwrap();
        if i % 10 == 9 {
            db.flush().unwrap();
        }
    }
    drop(db);
    let manifest = only(&t, "MANIFEST-");
    flip_byte(&t.real(&manifest), 30);
    match t.open(small_options()) {
        Err(Error::Corruption { file, offset, .. }) => {
            assert!(file.ends_with(&manifest));
            assert_eq!(offset, 0);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn damaged_current_is_corruption_naming_current() {
    let t = TestDir::new();
    t.open(small_options()).unwrap().close().unwrap();
    flip_byte(&t.real("CURRENT"), 3);
    match t.open(small_options()) {
        Err(Error::Corruption { file, .. }) => assert!(file.ends_with("CURRENT")),
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn damaged_sst_block_is_reported_as_corruption_on_read() {
    let t = TestDir::new();
    let db = t.open(small_options()).unwrap();
    for i in 0..20 {
        db.put(&key(i), &value(i, 0), NOSYNC).unwrap();
    }
    db.flush().unwrap();
    db.close().unwrap();
    let sst = only(&t, ".sst");
    flip_byte(&t.real(&sst), 10);
    let db = t.open(small_options()).unwrap();
    assert!(matches!(db.get(&key(0)), Err(Error::Corruption { .. })));
    assert!(matches!(all_result(&db), Err(Error::Corruption { .. })));
}

fn all_result(db: &engine::Db) -> engine::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    db.scan(std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)
}

#[test]
fn missing_sst_named_by_an_edit_is_reported_with_its_name() {
    let t = TestDir::new();
    let db = t.open(small_options()).unwrap();
    db.put(b"k", b"v", NOSYNC).unwrap();
    db.flush().unwrap();
    db.close().unwrap();
    let sst = only(&t, ".sst");
    std::fs::remove_file(t.real(&sst)).unwrap();
    match t.open(small_options()) {
        Err(Error::MissingFile { file, .. }) => assert!(file.ends_with(&sst)),
        other => panic!("expected a missing file, got {other:?}"),
    }
}

#[test]
fn data_files_without_current_are_refused_not_dropped() {
    let t = TestDir::new();
    wal_with_synced_writes(&t, 3);
    std::fs::remove_file(t.real("CURRENT")).unwrap();
    assert!(matches!(
        t.open(small_options()),
        Err(Error::MissingFile { .. })
    ));
}

#[test]
fn leftover_wal_of_a_finished_flush_is_not_replayed() {
    let t = TestDir::new();
    let db = t.open(small_options()).unwrap();
    db.put(b"k", b"old", SYNC).unwrap();
    let wal = only(&t, ".wal");
    let saved = std::fs::read(t.real(&wal)).unwrap();
    db.flush().unwrap();
    db.delete(b"k", SYNC).unwrap();
    db.flush().unwrap();
    drop(db);
    // A crash lost the removal of the first WAL: it is back with its old bytes.
    std::fs::write(t.real(&wal), saved).unwrap();
    let db = t.open(small_options()).unwrap();
    assert_eq!(
        db.get(b"k").unwrap(),
        None,
        "a flushed WAL resurrected a deleted key"
    );
    db.check_invariants().unwrap();
    assert!(!t.real(&wal).exists());
}

#[test]
fn leftover_sst_of_an_interrupted_flush_is_removed_and_its_number_never_reused() {
    let t = TestDir::new();
    let db = t.open(small_options()).unwrap();
    db.put(b"a", b"1", SYNC).unwrap();
    drop(db);
    std::fs::write(t.real("000500.sst"), b"half an SST").unwrap();
    std::fs::write(t.real("CURRENT.tmp"), b"half a CURRENT").unwrap();
    let db = t.open(small_options()).unwrap();
    assert!(!t.real("000500.sst").exists());
    assert!(!t.real("CURRENT.tmp").exists());
    db.check_invariants().unwrap();
    db.put(b"b", b"2", NOSYNC).unwrap();
    db.flush().unwrap();
    let numbers: Vec<u64> = t
        .names(|n| n.ends_with(".sst"))
        .iter()
        .map(|n| n[..6].parse().unwrap())
        .collect();
    assert!(numbers.iter().all(|&n| n > 500), "{numbers:?}");
    assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
}

#[test]
fn unsynced_writes_are_durable_after_sync_and_synced_ones_at_once() {
    let t = TestDir::new();
    let db = t.open(small_options()).unwrap();
    db.put(b"a", b"1", NOSYNC).unwrap();
    db.put(b"b", b"2", NOSYNC).unwrap();
    db.sync().unwrap();
    db.put(b"c", b"3", SYNC).unwrap();
    drop(db);
    let db = t.open(small_options()).unwrap();
    assert_eq!(all(&db).len(), 3);
}

#[test]
fn reopen_after_many_flushes_compactions_and_rollovers_keeps_everything() {
    let t = TestDir::new();
    let mut expected = std::collections::BTreeMap::new();
    for round in 0..4 {
        let db = t.open(small_options()).unwrap();
        for i in 0..500 {
            let k = key((i * 7 + round * 13) % 600);
            if i % 5 == 0 {
                db.delete(&k, NOSYNC).unwrap();
                expected.remove(&k);
            } else {
                db.put(&k, &value(i, round), NOSYNC).unwrap();
                expected.insert(k, value(i, round));
            }
        }
        if round % 2 == 0 {
            db.close().unwrap();
        } else {
            db.sync().unwrap();
            drop(db);
        }
    }
    let db = t.open(small_options()).unwrap();
    db.check_invariants().unwrap();
    assert_eq!(all(&db), expected.into_iter().collect::<Vec<_>>());
}
