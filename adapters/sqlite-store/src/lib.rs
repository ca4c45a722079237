//! Real SQLite with every file operation routed through a [`faultfs::Fs`], so Powercut's crash
//! simulator decides what a power cut leaves of a SQLite database.
//!
//! Three layers:
//! - [`VfsMount`] and the `"powercut"` SQLite VFS ([`VFS_NAME`]): open any rusqlite connection on
//!   a file system (see the [`vfs`] module for how a connection finds its file system among many,
//!   and for how each VFS method maps onto [`faultfs::Fs`] and [`faultfs::File`]).
//! - [`SqliteKv`]: one table `kv(key TEXT PRIMARY KEY, value TEXT)` in `dir/data.sqlite`, with
//!   `write` (one transaction per batch), `get`, `scan`, `sync`, `compact`, `close` and
//!   `check_integrity`, and errors classified into power loss, damage and other I/O
//!   ([`KvError`]).
//! - [`SqliteStore`]: `SqliteKv` behind Powercut's [`powercut::Store`] seam, with its
//!   declarations (durability per mode, disk assumptions, canary defects; the [`store`] module
//!   says why each). The `powercut-sqlite` binary gives it every Powercut subcommand:
//!   `powercut-sqlite gate --config '{"journal":"wal","synchronous":"full"}'`.
//!
//! SQLite is the `bundled` build of `libsqlite3-sys` (through rusqlite), so the library under
//! test is the one compiled into this crate. Shared memory is not implemented: WAL mode runs
//! with `PRAGMA locking_mode=EXCLUSIVE`, which SQLite documents as the way to use WAL without a
//! shared-memory wal-index (the index then lives in the connection's heap). One connection per
//! database, which is all a store needs.
//!
//! # Durability: what SQLite promises, and what `SqliteKv` adds
//!
//! SQLite documents (pragma `synchronous`, "Atomic Commit In SQLite", "Write-Ahead Logging")
//! that, as long as the disk honours fsync, FULL and EXTRA never let a power cut corrupt the
//! database, nor does NORMAL in WAL mode, and that every setting keeps commits across a *process*
//! crash (the OS still has the written pages). What differs is which commits survive a *power
//! cut*, and whether DELETE + NORMAL and OFF stay consistent at all
//! ([`Promise::never_corrupt`]):
//!
//! | journal | synchronous | a commit, when `write` returns | `write(.., sync_requested)` | `sync()` / `close()` |
//! |---|---|---|---|---|
//! | DELETE | EXTRA | durable: the journal's deletion is followed by a directory sync | durable | durable |
//! | DELETE | FULL | atomic, not yet durable: database and journal are synced, but a cut can undo the journal's deletion, and SQLite then rolls the commit back. It becomes durable when the next transaction's journal is first synced (its directory sync carries the deletion) | durable: `SqliteKv` syncs the directory | durable |
//! | DELETE | NORMAL | as FULL for durability, but not always atomic: the journal's header and records share one sync, and SQLite warns that on older file systems a cut at the wrong moment can corrupt the database. The crash loop reproduces it under `Reorder` (a hot journal whose header survived but not every record is rolled back into the database) | durable: directory sync | durable |
//! | WAL | FULL, EXTRA | durable: the WAL is synced at every commit | durable | durable |
//! | WAL | NORMAL | atomic, not durable: the WAL is synced only before a checkpoint, so a cut can take any commit since the last checkpoint | durable: `SqliteKv` checkpoints | durable: checkpoint (FULL) |
//! | any | OFF | atomic while the OS survives; across a power cut nothing is durable and the database may be corrupt | nothing | nothing |
//!
//! [`SqliteConfig::promise`] returns the same facts as a value, for a harness adapter to declare.
//! The default configuration is DELETE + FULL: SQLite's own default, with the durability gap
//! that only a sync request closes.
//!
//! One more gap of DELETE + FULL, found by the gate and not in SQLite's documentation: a
//! transaction that shrinks the file (`VACUUM`, [`SqliteKv::compact`]) deletes its journal to
//! commit and only then cuts the database file, with no sync between. A disk that keeps the cut
//! and loses the deletion (POSIX orders neither; ext4 and XFS commit metadata in order and
//! would) leaves a hot journal that cannot restore the pages the cut dropped, and the database
//! is corrupt. EXTRA syncs the deletion first and is safe (`tests/it/vacuum_truncate.rs`).
//!
//! What SQLite does not promise at all: **media damage**. Without the `cksumvfs` shim (not in the
//! bundled build, see [`SqliteConfig`]) SQLite keeps no checksum of database pages, so a flipped
//! bit or a torn sector in a synced page is read back as data; `PRAGMA integrity_check` finds
//! only damage that breaks the b-tree structure. The rollback journal's record checksums and the
//! WAL's frame checksums only tell SQLite where its own log ends. A harness must not count a
//! damaged page read back as data as a SQLite bug.
//!
//! # What the VFS tells SQLite about the disk
//!
//! [`DeviceAssumptions`] becomes `xDeviceCharacteristics` and `xSectorSize`. Its default claims
//! nothing (no atomic sectors, no powersafe overwrite, no safe append, 512-byte sectors), so
//! SQLite relies on fsync alone; [`DeviceAssumptions::for_policy`] says what each of faultfs's
//! crash policies really guarantees, for runs that let SQLite rely on more.
//!
//! # Determinism
//!
//! SQLite draws journal nonces and WAL salts from its own process-wide generator, seeded from
//! the default (unix) VFS. Those bytes differ between runs, but no file operation depends on
//! them: the sequence of operations, offsets and lengths, and so the simulator's event log and
//! trace hash, is the same for the same workload (a test checks). Nothing else in the VFS reads
//! time or randomness.

#![warn(missing_docs)]

mod config;
mod error;
mod kv;
mod store;
pub mod vfs;

pub use config::{Canary, DeviceAssumptions, Journal, Promise, SqliteConfig, Sync};
pub use error::KvError;
pub use kv::{DB_FILE, LOCK_FILE, SqliteKv};
pub use store::{SqliteStore, classify, device_for};
pub use vfs::{SeenErrors, VFS_NAME, VfsMount};

/// The role of a file `SqliteKv` (or any SQLite database on the VFS) uses, for
/// [`faultfs::SimFs::set_file_kinds`]: the journal and the WAL are logs, the database file is
/// data, anything else (the lock file) is other.
pub fn file_kind(path: &std::path::Path) -> faultfs::FileKind {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with("-journal") || name.ends_with("-wal") {
        faultfs::FileKind::Log
    } else if name.ends_with(".sqlite") {
        faultfs::FileKind::Data
    } else {
        faultfs::FileKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultfs::FileKind;
    use std::path::Path;

    #[test]
    fn journals_and_wals_are_logs_and_the_database_is_data() {
        assert_eq!(file_kind(Path::new("db/data.sqlite")), FileKind::Data);
        assert_eq!(
            file_kind(Path::new("db/data.sqlite-journal")),
            FileKind::Log
        );
        assert_eq!(file_kind(Path::new("db/data.sqlite-wal")), FileKind::Log);
        assert_eq!(file_kind(Path::new("db/data.sqlite.lock")), FileKind::Other);
    }
}
