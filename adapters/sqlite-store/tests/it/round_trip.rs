//! Writes read back, in both journal modes, on the simulator and on the real disk, before and
//! after a clean close.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use faultfs::{Fs, SimFs, StdFs};
use sqlite_store::{DeviceAssumptions, Journal, SqliteKv, Sync};

use crate::common::{Contents, config, contents, del, put, states, workload};

/// Runs the workload, checks reads, closes, reopens and checks again.
fn round_trip(fs: Arc<dyn Fs>, journal: Journal) {
    let cfg = config(journal, Sync::Full);
    let dir = Path::new("store/nested");
    let batches = workload(12);
    let expected = states(&batches).pop().unwrap_or_default();
    let mut kv = SqliteKv::open(fs.clone(), dir, &cfg, DeviceAssumptions::default())
        .expect("open new store");
    for (i, batch) in batches.iter().enumerate() {
        kv.write(batch, i % 2 == 0).expect("write");
    }
    check_reads(&mut kv, &expected);
    kv.check_integrity().expect("integrity");
    kv.close().expect("close");
    drop(kv);

    let mut kv = SqliteKv::open(fs, dir, &cfg, DeviceAssumptions::default()).expect("reopen");
    check_reads(&mut kv, &expected);
    kv.write(&[del("k0"), put("new", "value")], true)
        .expect("write after reopen");
    assert_eq!(kv.get("k0").expect("get"), None);
    assert_eq!(kv.get("new").expect("get").as_deref(), Some("value"));
}

fn check_reads(kv: &mut SqliteKv, expected: &Contents) {
    assert_eq!(&contents(kv).expect("scan"), expected);
    for (k, v) in expected {
        assert_eq!(kv.get(k).expect("get").as_ref(), Some(v), "{k}");
    }
    assert_eq!(kv.get("absent").expect("get"), None);
    let from_k1: Vec<String> = kv
        .scan(Bound::Included("k1"), Bound::Excluded("k3"))
        .expect("scan range")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let want: Vec<String> = expected
        .range::<str, _>((Bound::Included("k1"), Bound::Excluded("k3")))
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(from_k1, want);
    let after_k1: Vec<String> = kv
        .scan(Bound::Excluded("k1"), Bound::Unbounded)
        .expect("scan tail")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let want: Vec<String> = expected
        .range::<str, _>((Bound::Excluded("k1"), Bound::Unbounded))
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(after_k1, want);
}

#[test]
fn round_trip_on_simfs_in_delete_mode() {
    round_trip(Arc::new(SimFs::new()), Journal::Delete);
}

#[test]
fn round_trip_on_simfs_in_wal_mode() {
    round_trip(Arc::new(SimFs::new()), Journal::Wal);
}

#[test]
fn round_trip_on_the_real_disk_in_delete_mode() {
    let tmp = tempfile::tempdir().expect("tempdir");
    round_trip(
        Arc::new(StdFs::new(tmp.path()).expect("stdfs")),
        Journal::Delete,
    );
    assert!(tmp.path().join("store/nested/data.sqlite").is_file());
}

#[test]
fn round_trip_on_the_real_disk_in_wal_mode() {
    let tmp = tempfile::tempdir().expect("tempdir");
    round_trip(
        Arc::new(StdFs::new(tmp.path()).expect("stdfs")),
        Journal::Wal,
    );
    assert!(tmp.path().join("store/nested/data.sqlite").is_file());
}

#[test]
fn a_wal_database_reopens_in_delete_mode_and_back() {
    let fs = SimFs::new();
    let dir = Path::new("db");
    let arc: Arc<dyn Fs> = Arc::new(fs.clone());
    let mut kv = SqliteKv::open(
        arc.clone(),
        dir,
        &config(Journal::Wal, Sync::Full),
        DeviceAssumptions::default(),
    )
    .expect("open wal");
    kv.write(&[put("a", "1")], true).expect("write");
    // Dropped without close: the WAL stays behind, with the commit in it.
    drop(kv);
    let mut kv = SqliteKv::open(
        arc.clone(),
        dir,
        &config(Journal::Delete, Sync::Full),
        DeviceAssumptions::default(),
    )
    .expect("open delete");
    assert_eq!(kv.get("a").expect("get").as_deref(), Some("1"));
    kv.write(&[put("b", "2")], true).expect("write");
    drop(kv);
    let mut kv = SqliteKv::open(
        arc,
        dir,
        &config(Journal::Wal, Sync::Full),
        DeviceAssumptions::default(),
    )
    .expect("open wal again");
    assert_eq!(kv.get("b").expect("get").as_deref(), Some("2"));
}

#[test]
fn a_second_store_on_the_same_directory_is_refused() {
    let fs = SimFs::new();
    let cfg = config(Journal::Delete, Sync::Full);
    let _first = crate::common::open_sim(&fs, &cfg, DeviceAssumptions::default()).expect("open");
    let second = crate::common::open_sim(&fs, &cfg, DeviceAssumptions::default());
    assert!(
        matches!(second, Err(sqlite_store::KvError::Other(_))),
        "{second:?}"
    );
}

/// `compact` (VACUUM, then in WAL mode a truncating checkpoint) keeps every pair, gives freed
/// pages back, and in WAL mode leaves an empty WAL.
#[test]
fn compact_keeps_the_contents_and_shrinks_the_files() {
    for journal in [Journal::Delete, Journal::Wal] {
        let fs = SimFs::new();
        let cfg = config(journal, Sync::Full);
        let mut kv = SqliteKv::open(
            Arc::new(fs.clone()),
            Path::new("db"),
            &cfg,
            DeviceAssumptions::default(),
        )
        .expect("open");
        let big: Vec<_> = (0..30)
            .map(|i| put(&format!("k{i:02}"), &"x".repeat(3000)))
            .collect();
        kv.write(&big, true).expect("write");
        let gone: Vec<_> = (1..30).map(|i| del(&format!("k{i:02}"))).collect();
        kv.write(&gone, true).expect("delete");
        kv.sync().expect("sync");
        let len = |path: &str| fs.open(Path::new(path)).and_then(|f| f.len()).unwrap_or(0);
        let before = len("db/data.sqlite");
        kv.compact().expect("compact");
        assert!(
            len("db/data.sqlite") < before,
            "{journal:?}: VACUUM freed nothing"
        );
        if journal == Journal::Wal {
            assert_eq!(len("db/data.sqlite-wal"), 0, "the WAL was not truncated");
        }
        let want: Contents = [("k00".to_string(), "x".repeat(3000))].into();
        assert_eq!(contents(&mut kv).expect("scan"), want, "{journal:?}");
        kv.check_integrity().expect("integrity");
    }
}
