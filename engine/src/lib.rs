//! An LSM key-value engine that touches storage only through [`faultfs::Fs`].
//!
//! The durability contract (DESIGN.md section 3): a write acknowledged with `sync: true` is
//! durable when the call returns; an unsynced acknowledged write is durable once a later
//! `sync()`, `flush()`, `close()` or synced write returns Ok; recovery yields a prefix of the
//! acknowledged history, batches whole; any write-path I/O error poisons the engine until it is
//! reopened; damaged files give [`Error::Corruption`], a torn log tail is cut away.
//!
//! Every write gets a sequence number, carried by its WAL record and recorded (the newest one
//! flushed) in the MANIFEST and in each SST's footer. Recovery checks that the WALs continue the
//! MANIFEST's sequence numbers without a break, so lost records or lost edits are refused as
//! corruption instead of recovering later writes without earlier ones.
//!
//! Files in a database directory:
//!
//! | name              | what                                                        |
//! |-------------------|-------------------------------------------------------------|
//! | `LOCK`            | flock'd while a `Db` is open                                |
//! | `CURRENT`         | the name of the live MANIFEST, one line, and its checksum   |
//! | `CURRENT.tmp`     | the next CURRENT before its rename                          |
//! | `MANIFEST-NNNNNN` | append-only log of framed JSON version edits                |
//! | `NNNNNN.wal`      | write-ahead log of one memtable                             |
//! | `NNNNNN.sst`      | sorted string table                                         |
//!
//! Modules, one concept each: [`log_frame`] (framing shared by WAL and MANIFEST), [`wal`],
//! [`memtable`], [`sst`] (block, index, bloom, footer, builder, table), [`cache`], [`merge`],
//! [`version`] (edits and their pure application), [`picker`] (pure compaction choice),
//! [`manifest`], [`current`], `db` (write path, reads, flush, compaction, recovery, threads).

/// Tells whether a named defect is switched on; without the `bugs` feature it is always false
/// and the defect does not exist in the binary.
#[cfg(feature = "bugs")]
macro_rules! bug {
    ($options:expr, $name:ident) => {
        $options.bug($crate::bugs::Bug::$name)
    };
}
#[cfg(not(feature = "bugs"))]
macro_rules! bug {
    ($options:expr, $name:ident) => {{
        let _ = &$options;
        false
    }};
}

mod batch;
#[cfg(feature = "bugs")]
pub mod bugs;
pub mod cache;
pub mod current;
mod db;
mod error;
pub mod filename;
pub mod log_frame;
pub mod manifest;
pub mod memtable;
pub mod merge;
mod options;
pub mod picker;
pub mod sst;
pub mod version;
pub mod wal;

pub use batch::{BatchOp, WriteBatch, WriteOptions};
pub use db::Db;
pub use error::{Error, Result};
pub use options::{Background, CompactionStyle, Options};
