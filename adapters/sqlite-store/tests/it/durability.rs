//! What a power cut keeps, one scenario at a time: the promises of the crate doc's table.

use faultfs::{CrashPolicy, SimFs};
use sqlite_store::{DeviceAssumptions, Journal, Sync};

use crate::common::{config, contents, open_sim, put};

/// Writes two commits (the second with `sync_requested` as given), cuts the power, reboots
/// keeping only durable state, and returns whether the second commit survived.
fn second_commit_survives(journal: Journal, synchronous: Sync, sync_requested: bool) -> bool {
    let fs = SimFs::new();
    let cfg = config(journal, synchronous);
    let mut kv = open_sim(&fs, &cfg, DeviceAssumptions::default()).expect("open");
    kv.write(&[put("a", "1")], true).expect("first write");
    kv.write(&[put("b", "2")], sync_requested)
        .expect("second write");
    fs.power_off();
    drop(kv);
    fs.reboot(CrashPolicy::Strict, 0);
    let mut kv = open_sim(&fs, &cfg, DeviceAssumptions::default()).expect("reopen");
    kv.check_integrity().expect("integrity");
    let now = contents(&mut kv).expect("scan");
    assert_eq!(
        now.get("a").map(String::as_str),
        Some("1"),
        "synced commit lost"
    );
    now.contains_key("b")
}

#[test]
fn a_synced_commit_survives_a_power_cut_in_every_syncing_mode() {
    for journal in [Journal::Delete, Journal::Wal] {
        for synchronous in [Sync::Extra, Sync::Full, Sync::Normal] {
            assert!(
                second_commit_survives(journal, synchronous, true),
                "{journal:?} {synchronous:?}"
            );
        }
    }
}

#[test]
fn every_commit_survives_in_wal_full_and_delete_extra() {
    assert!(second_commit_survives(Journal::Wal, Sync::Full, false));
    assert!(second_commit_survives(Journal::Delete, Sync::Extra, false));
}

/// SQLite documents this: under DELETE + FULL the commit deletes the journal without syncing the
/// directory, so a power cut right after can bring the journal back and SQLite rolls the
/// committed transaction back. Only EXTRA (or a directory sync, which `sync_requested` makes)
/// closes the gap; the crate's promise says so and this test keeps it honest.
#[test]
fn delete_full_can_roll_back_the_last_unsynced_commit() {
    assert!(!second_commit_survives(Journal::Delete, Sync::Full, false));
}

/// WAL + NORMAL syncs the WAL only at checkpoints, so an unsynced commit is lost to a cut.
#[test]
fn wal_normal_loses_an_unsynced_commit() {
    assert!(!second_commit_survives(Journal::Wal, Sync::Normal, false));
}

#[test]
fn close_makes_everything_durable() {
    for journal in [Journal::Delete, Journal::Wal] {
        let fs = SimFs::new();
        let cfg = config(journal, Sync::Normal);
        let mut kv = open_sim(&fs, &cfg, DeviceAssumptions::default()).expect("open");
        kv.write(&[put("a", "1")], false).expect("write");
        kv.close().expect("close");
        drop(kv);
        fs.reboot(CrashPolicy::Strict, 0);
        let mut kv = open_sim(&fs, &cfg, DeviceAssumptions::default()).expect("reopen");
        assert_eq!(
            kv.get("a").expect("get").as_deref(),
            Some("1"),
            "{journal:?}"
        );
    }
}
