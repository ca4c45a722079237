//! The data path on a real directory: reads see writes through memtables, flushes,
//! compactions and reopens.

use std::ops::Bound;

use engine::{CompactionStyle, Error, Options, WriteBatch};

use crate::common::*;

#[test]
fn put_get_delete_and_scan_see_the_latest_writes() {
    let t = TestDir::new();
    let db = t.open(small_options()).unwrap();
    db.put(b"a", b"1", NOSYNC).unwrap();
    db.put(b"b", b"2", NOSYNC).unwrap();
    db.put(b"a", b"3", SYNC).unwrap();
    db.delete(b"b", NOSYNC).unwrap();
    db.put(b"c", b"", NOSYNC).unwrap();
    assert_eq!(db.get(b"a").unwrap(), Some(b"3".to_vec()));
    assert_eq!(db.get(b"b").unwrap(), None);
    assert_eq!(db.get(b"c").unwrap(), Some(Vec::new()));
    assert_eq!(
        all(&db),
        vec![(b"a".to_vec(), b"3".to_vec()), (b"c".to_vec(), Vec::new())]
    );
    db.close().unwrap();
}

#[test]
fn data_survives_flushes_compactions_and_reopen() {
    for style in [CompactionStyle::Leveled, CompactionStyle::Tiered] {
        let t = TestDir::new();
        let options = Options {
            compaction: style,
            ..small_options()
        };
        let db = t.open(options.clone()).unwrap();
        for round in 0..3 {
            for i in 0..400 {
                db.put(&key(i), &value(i, round), NOSYNC).unwrap();
            }
            for i in (0..400).step_by(3) {
                db.delete(&key(i + round), NOSYNC).unwrap();
            }
        }
        let expected = all(&db);
        assert!(expected.len() > 200);
        db.flush().unwrap();
        db.force_compact().unwrap();
        assert_eq!(all(&db), expected);
        db.check_invariants().unwrap();
        assert!(db.level_file_counts().iter().sum::<usize>() > 0);
        db.close().unwrap();
        let db = t.open(options).unwrap();
        db.check_invariants().unwrap();
        assert_eq!(all(&db), expected, "{style:?}");
        for (k, v) in &expected {
            assert_eq!(db.get(k).unwrap().as_ref(), Some(v));
        }
        db.close().unwrap();
    }
}

#[test]
fn scan_honours_bounds_across_memtables_and_levels() {
    let t = TestDir::new();
    let db = t.open(small_options()).unwrap();
    for i in 0..300 {
        db.put(&key(i), &value(i, 0), NOSYNC).unwrap();
        if i % 100 == 99 {
            db.flush().unwrap();
        }
    }
    db.delete(&key(150), NOSYNC).unwrap();
    let (lo, hi) = (key(140), key(160));
    let got = db.scan(Bound::Included(&lo), Bound::Excluded(&hi)).unwrap();
    assert_eq!(got.len(), 19);
    assert_eq!(got[0].0, key(140));
    let got = db.scan(Bound::Excluded(&lo), Bound::Included(&hi)).unwrap();
    assert_eq!(got.first().unwrap().0, key(141));
    assert_eq!(got.last().unwrap().0, key(160));
}

#[test]
fn batches_apply_whole() {
    let t = TestDir::new();
    let db = t.open(small_options()).unwrap();
    let mut batch = WriteBatch::new();
    batch
        .put(b"x", b"1")
        .put(b"y", b"2")
        .delete(b"x")
        .put(b"z", b"3");
    db.write(&batch, SYNC).unwrap();
    assert_eq!(db.get(b"x").unwrap(), None);
    assert_eq!(all(&db).len(), 2);
    drop(db);
    let db = t.open(small_options()).unwrap();
    assert_eq!(db.get(b"y").unwrap(), Some(b"2".to_vec()));
    assert_eq!(db.get(b"x").unwrap(), None);
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let t = TestDir::new();
    let db = t.open(small_options()).unwrap();
    assert!(matches!(t.open(small_options()), Err(Error::Io { .. })));
    db.close().unwrap();
    t.open(small_options()).unwrap();
}

#[test]
fn closed_engine_refuses_work() {
    let t = TestDir::new();
    let db = t.open(small_options()).unwrap();
    db.close().unwrap();
    assert!(matches!(db.put(b"a", b"b", NOSYNC), Err(Error::Closed)));
    assert!(matches!(db.get(b"a"), Err(Error::Closed)));
    db.close().unwrap();
}

#[test]
fn bad_options_are_refused_with_the_field_named() {
    let t = TestDir::new();
    let err = t
        .open(Options {
            levels: 1,
            ..small_options()
        })
        .unwrap_err();
    assert!(err.to_string().contains("levels"), "{err}");
}

#[test]
fn without_wal_close_flushes_every_memtable() {
    let t = TestDir::new();
    let options = Options {
        wal: false,
        ..small_options()
    };
    let db = t.open(options.clone()).unwrap();
    for i in 0..50 {
        db.put(&key(i), &value(i, 0), NOSYNC).unwrap();
    }
    db.close().unwrap();
    assert!(t.names(|n| n.ends_with(".wal")).is_empty());
    let db = t.open(options).unwrap();
    assert_eq!(all(&db).len(), 50);
}

#[test]
fn threaded_background_work_keeps_every_write() {
    let t = TestDir::new();
    let options = Options {
        background: engine::Background::Threads,
        memtable_bytes: 16 << 10,
        ..small_options()
    };
    let db = t.open(options.clone()).unwrap();
    for i in 0..3000 {
        db.put(&key(i % 1000), &value(i, i / 1000), NOSYNC).unwrap();
    }
    db.sync().unwrap();
    for i in 0..1000 {
        assert_eq!(
            db.get(&key(i)).unwrap(),
            Some(value(i + 2000, 2)),
            "key {i}"
        );
    }
    db.close().unwrap();
    let db = t.open(options).unwrap();
    db.check_invariants().unwrap();
    assert_eq!(all(&db).len(), 1000);
    db.close().unwrap();
}

#[test]
fn manifest_rolls_over_and_old_ones_are_removed() {
    let t = TestDir::new();
    let db = t.open(small_options()).unwrap();
    let first = t.names(|n| n.starts_with("MANIFEST-"));
    for i in 0..2000 {
        db.put(&key(i), &value(i, 0), NOSYNC).unwrap();
    }
    db.flush().unwrap();
    let now = t.names(|n| n.starts_with("MANIFEST-"));
    assert_eq!(now.len(), 1);
    assert_ne!(first, now, "the MANIFEST should have rolled over");
    db.check_invariants().unwrap();
    drop(db);
    let db = t.open(small_options()).unwrap();
    assert_eq!(all(&db).len(), 2000);
}
