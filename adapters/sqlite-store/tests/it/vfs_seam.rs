//! Every byte SQLite writes goes through the file system it was given: the simulator sees every
//! file, the real disk sees none, the same workload gives the same event log, and a closed store
//! leaves no mount behind.

use std::collections::BTreeSet;
use std::path::Path;

use faultfs::{EventOp, Fs, SimFs};
use sqlite_store::{DeviceAssumptions, Journal, Sync, VfsMount};

use crate::common::{DIR, config, open_sim, workload};

/// The paths of files that were created, written or synced, from the event log.
fn touched(fs: &SimFs) -> BTreeSet<String> {
    fs.events()
        .into_iter()
        .filter_map(|e| match e.op {
            EventOp::Create { path } | EventOp::Write { path, .. } | EventOp::Sync { path } => {
                Some(String::from(path))
            }
            _ => None,
        })
        .collect()
}

fn run_workload(fs: &SimFs, journal: Journal) {
    let mut kv = open_sim(
        fs,
        &config(journal, Sync::Full),
        DeviceAssumptions::default(),
    )
    .expect("open");
    for batch in workload(6) {
        kv.write(&batch, true).expect("write");
    }
    kv.close().expect("close");
}

#[test]
fn every_file_of_a_delete_mode_database_is_in_the_simulators_log() {
    let fs = SimFs::new();
    run_workload(&fs, Journal::Delete);
    let seen = touched(&fs);
    assert!(seen.contains("db/data.sqlite"), "{seen:?}");
    assert!(seen.contains("db/data.sqlite-journal"), "{seen:?}");
    // Whatever is left in the directory came through the log too.
    for name in fs.list(Path::new(DIR)).expect("list") {
        let path = format!("{DIR}/{name}");
        let created = fs
            .events()
            .iter()
            .any(|e| matches!(&e.op, EventOp::Create { path: p } | EventOp::Lock { path: p } if *p == path));
        assert!(created, "{path} appeared without an event");
    }
}

#[test]
fn every_file_of_a_wal_mode_database_is_in_the_simulators_log() {
    let fs = SimFs::new();
    run_workload(&fs, Journal::Wal);
    let seen = touched(&fs);
    assert!(seen.contains("db/data.sqlite"), "{seen:?}");
    assert!(seen.contains("db/data.sqlite-wal"), "{seen:?}");
    assert!(
        !seen.iter().any(|p| p.ends_with("-shm")),
        "exclusive locking needs no shared memory: {seen:?}"
    );
}

#[test]
fn nothing_reaches_the_real_disk_from_a_simulated_store() {
    let fs = SimFs::new();
    run_workload(&fs, Journal::Delete);
    run_workload(&fs, Journal::Wal);
    // Relative to the working directory (where a stray relative open would land) and as the
    // absolute names SQLite was given.
    for name in [
        "db",
        "db/data.sqlite",
        "db/data.sqlite-journal",
        "db/data.sqlite-wal",
    ] {
        assert!(!Path::new(name).exists(), "{name} exists on the real disk");
    }
    let stray = std::fs::read_dir("/")
        .expect("list /")
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().starts_with("powercut-"));
    assert!(!stray, "a mount name reached the real root directory");
}

#[test]
fn the_same_workload_gives_the_same_trace() {
    for journal in [Journal::Delete, Journal::Wal] {
        let a = SimFs::new();
        let b = SimFs::new();
        run_workload(&a, journal);
        run_workload(&b, journal);
        assert_eq!(a.trace_hash(), b.trace_hash(), "{journal:?}");
        assert_eq!(a.event_count(), b.event_count(), "{journal:?}");
    }
}

#[test]
fn a_dropped_store_unmounts_its_file_system() {
    let fs = SimFs::new();
    let kv = open_sim(
        &fs,
        &config(Journal::Wal, Sync::Full),
        DeviceAssumptions::default(),
    )
    .expect("open");
    let token = kv.mount().token();
    assert!(VfsMount::is_mounted(token));
    drop(kv);
    assert!(!VfsMount::is_mounted(token));
}
