//! SQLite under Powercut's own sweep (`powercut::sweep`): the gate's policy x fault matrix with
//! the journal mode pinned, shrunk and replayable like any gate failure. It guards the adapter
//! as much as SQLite: a misclassified error (an I/O error passed off as damage, a power cut as
//! EIO) or a durability point declared where SQLite makes none fails here first.
//!
//! The fault classes are those SQLite's promise covers: crash-only runs and every I/O-error and
//! fsync class. Media damage (bit flips, torn sectors, misdirected writes, truncation) is left
//! out: SQLite keeps no checksum of database pages, so such damage can read back as data, which
//! the store's module doc documents as a trade-off, not a defect.
//!
//! `POWERCUT_SEEDS` sizes the sweep (default 128 per mode: four seeds of each policy x fault
//! combination).

use faultfs::FaultClass;
use powercut::SweepOptions;
use sqlite_store::SqliteStore;

/// Every class but media damage.
fn covered() -> impl Iterator<Item = FaultClass> {
    FaultClass::ALL
        .into_iter()
        .filter(|c| !FaultClass::DAMAGE.contains(c))
}

const SEEDS_DEFAULT: u64 = 128;

fn sweep_pinned(journal: &str) {
    let mut opts = SweepOptions::from_env();
    if std::env::var_os("POWERCUT_SEEDS").is_none() {
        opts.seeds = SEEDS_DEFAULT;
    }
    opts.config = Some(serde_json::json!({ "journal": journal, "synchronous": "full" }));
    opts.faults = std::iter::once(None).chain(covered().map(Some)).collect();
    powercut::sweep::<SqliteStore>(&opts);
}

#[test]
fn wal_full_keeps_every_durable_write_through_crashes_and_io_errors() {
    sweep_pinned("wal");
}

#[test]
fn delete_full_keeps_every_durable_write_through_crashes_and_io_errors() {
    sweep_pinned("delete");
}
