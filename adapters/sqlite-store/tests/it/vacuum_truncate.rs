//! A finding of the gate in SQLite itself (DELETE + FULL, seed 9362 under Torn, crash-only;
//! seeds 4875 and 7923 show the same): a transaction that shrinks the database (here `VACUUM`)
//! commits by deleting its journal, and only then cuts the database file to its new length, with
//! no sync between the two. SQLite journals only the pages it rewrites, not the ones the cut
//! drops, because once the journal is gone they are garbage. If the disk keeps the cut but not
//! the deletion (two metadata changes with no fsync ordering them), the reboot finds a hot
//! journal and a database missing its tail: the rollback restores the rewritten pages and the
//! old length, and the dropped pages come back as zeros. The database is corrupt, or holds a
//! mix of old and new pages.
//!
//! POSIX does not order the two changes; journaling file systems (ext4, XFS) commit metadata in
//! order and never show it. EXTRA syncs the directory after deleting the journal, before the
//! cut, and is safe.

use std::path::Path;
use std::sync::Arc;

use faultfs::{CrashPolicy, Fs, SimFs};
use sqlite_store::{DeviceAssumptions, Journal, SqliteKv, Sync};

use crate::common::{Contents, config, contents, del, put};

/// Seeds of the Reorder reboot tried per mode.
const SEEDS: u64 = 64;

/// What a reboot after the vacuum left, and whether the recovered database was whole.
struct After {
    /// The journal's deletion was lost: it is back, hot.
    journal_back: bool,
    /// The cut of the database file to its vacuumed length was kept.
    cut_kept: bool,
    whole: bool,
}

/// Fills and empties the database, syncs, vacuums, cuts the power right after, reboots with
/// `seed`, and tells what the disk kept and whether the recovered database is whole and holds
/// the one key left.
fn after_vacuum(synchronous: Sync, seed: u64, ordered_metadata: bool) -> After {
    let fs = SimFs::new();
    fs.set_ordered_metadata(ordered_metadata);
    let cfg = config(Journal::Delete, synchronous);
    let open = || {
        SqliteKv::open(
            Arc::new(fs.clone()),
            Path::new("db"),
            &cfg,
            DeviceAssumptions::default(),
        )
    };
    let mut kv = open().expect("open");
    let fill: Vec<_> = (0..30)
        .map(|i| put(&format!("k{i:02}"), &"x".repeat(3000)))
        .collect();
    kv.write(&fill, true).expect("fill");
    let empty: Vec<_> = (1..30).map(|i| del(&format!("k{i:02}"))).collect();
    kv.write(&empty, true).expect("empty");
    kv.compact().expect("vacuum");
    let vacuumed = db_len(&fs);
    fs.power_off();
    drop(kv);
    fs.reboot(CrashPolicy::Reorder { sector: 512 }, seed);
    let journal_back = fs
        .exists(Path::new("db/data.sqlite-journal"))
        .expect("exists");
    let cut_kept = db_len(&fs) == vacuumed;
    let want: Contents = [("k00".to_string(), "x".repeat(3000))].into();
    let whole = open().is_ok_and(|mut kv| {
        kv.check_integrity().is_ok() && contents(&mut kv).is_ok_and(|got| got == want)
    });
    After {
        journal_back,
        cut_kept,
        whole,
    }
}

fn db_len(fs: &SimFs) -> u64 {
    fs.open(Path::new("db/data.sqlite"))
        .and_then(|f| f.len())
        .expect("database file")
}

/// How many reboots broke the database; each must be one that kept the cut and lost the
/// journal's deletion.
fn broken(synchronous: Sync, ordered_metadata: bool) -> u64 {
    let mut n = 0;
    for seed in 0..SEEDS {
        let a = after_vacuum(synchronous, seed, ordered_metadata);
        if !a.whole {
            n += 1;
            assert!(
                a.journal_back && a.cut_kept,
                "seed {seed}: broken by something else (journal back {}, cut kept {})",
                a.journal_back,
                a.cut_kept
            );
        }
    }
    println!(
        "DELETE+{synchronous:?} (ordered metadata {ordered_metadata}): {n} of {SEEDS} reboots \
         after VACUUM broke the database"
    );
    n
}

#[test]
fn delete_full_vacuum_breaks_when_the_cut_outlives_the_journal_deletion_and_extra_does_not() {
    assert!(broken(Sync::Full, false) > 0);
    assert_eq!(broken(Sync::Extra, false), 0);
}

/// On a disk that keeps metadata in issue order (what `SqliteStore` declares in DELETE mode,
/// and what ext4 and XFS give) the cut never outlives the deletion, and FULL is whole.
#[test]
fn delete_full_vacuum_is_whole_when_metadata_reaches_the_disk_in_order() {
    assert_eq!(broken(Sync::Full, true), 0);
}

/// The gate seed that found it (DELETE + FULL, Torn, crash-only) passes on the disk SQLite's
/// store declares in DELETE mode and fails with an unclean refusal when metadata is unordered.
#[test]
fn the_gate_seed_that_found_it_passes_on_ordered_metadata_and_fails_without() {
    use powercut::{DiskAssumptions, RunOptions, Store, ViolationKind};
    use sqlite_store::{SqliteConfig, SqliteStore};
    let config = SqliteConfig {
        journal: Journal::Delete,
        synchronous: Sync::Full,
        ..SqliteConfig::default()
    };
    let declared = SqliteStore::assumptions(&config);
    assert!(
        declared.ordered_metadata,
        "DELETE mode declares ordered metadata"
    );
    let opts = RunOptions {
        policy: Some(CrashPolicy::Torn { sector: 512 }),
        faults: Vec::new(),
        config: Some(serde_json::json!({"journal": "delete", "synchronous": "full"})),
        ..RunOptions::default()
    };
    let ordered = powercut::run_seed::<SqliteStore>(9362, &opts).expect("runs");
    assert!(ordered.passed(), "{:?}", ordered.violations.first());
    let unordered = RunOptions {
        assumptions: Some(DiskAssumptions {
            ordered_metadata: false,
            ..declared
        }),
        ..opts
    };
    let out = powercut::run_seed::<SqliteStore>(9362, &unordered).expect("runs");
    let kinds: Vec<_> = out.violations.iter().map(|v| v.kind).collect();
    assert_eq!(
        kinds,
        [ViolationKind::UncleanRefusal],
        "{:?}",
        out.violations
    );
    let wal = SqliteConfig {
        journal: Journal::Wal,
        ..config
    };
    assert!(
        !SqliteStore::assumptions(&wal).ordered_metadata,
        "WAL relies on no order"
    );
}
