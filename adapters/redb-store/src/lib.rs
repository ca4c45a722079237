//! redb on faultfs: the [redb](https://www.redb.org) embedded database (version 4.6) running on a
//! [`faultfs::Fs`], so Powercut can crash it in the simulator and check what it recovers.
//!
//! - [`FaultfsBackend`] is redb's `StorageBackend` over one [`faultfs::File`]. Its errors keep
//!   the file system's `io::Error` as their source, so [`faultfs::is_power_loss`] still sees a
//!   power cut.
//! - [`RedbKv`] is a byte-keyed map in one redb table: the layer a harness adapter calls.
//! - [`KvError`] sorts every failure into power loss, damage, poisoning, other I/O, other.
//!
//! # Files
//!
//! A store in directory `dir` keeps its data in `dir/data.redb` (one redb database file) and
//! holds a faultfs lock on `dir/LOCK` while open. redb itself needs one file and no directory
//! operations, and its own `Database::create` never syncs the parent directory, so on a strict
//! disk the name of a new database file is not durable; the store syncs the directory once per
//! open, after redb's initialization, so the name is durable before any write is acknowledged.
//!
//! # What redb promises (4.6, from its docs and design document)
//!
//! redb keeps two commit slots in its header and a "god byte" whose primary bit says which slot
//! holds the current commit. Every page is written copy-on-write and checksummed (XXH3-128, a
//! Merkle tree from the slot down). Every commit is atomic whatever its durability.
//!
//! | commit | what `commit()` returning Ok guarantees after a power cut |
//! |---|---|
//! | `Durability::Immediate`, 1-phase (default) | durable: the new slot and the flipped god byte are written, then one fsync. A cut during that fsync may leave the god byte pointing at a slot whose pages are partly written; recovery verifies the primary slot's transaction id and every checksum it reaches and, if any fails, falls back to the other slot. So the 1-phase commit **relies on checksums to detect a torn commit**: a recovery that lands on the previous commit after a cut *during* a commit is a legitimate rollback, not a loss. |
//! | `Durability::Immediate`, 2-phase | durable: the new slot and its pages are fsynced, then the god byte is flipped and fsynced again, and the god byte records that the commit was 2-phase, so recovery trusts the primary slot without checking checksums. |
//! | `Durability::Immediate` with quick-repair | as 2-phase (redb forces 2-phase), and the allocator state is saved in the commit, so recovery loads it instead of rebuilding it. |
//! | `Durability::None` | nothing: the commit is atomic and visible to later reads, but redb documents that it "will not be persisted to disk unless followed by a commit with `Durability::Immediate`". After a crash the database returns to the last durable commit (the design document also allows the last non-durable one). Its pages stay in redb's write buffer and the header is not written, so in practice even a process kill loses it. |
//!
//! A clean [`RedbKv::close`] makes pending non-durable commits durable. An empty `Immediate`
//! commit makes every earlier non-durable commit durable, which is how [`RedbKv::sync`] works.
//!
//! What redb assumes of the disk (its design document, "Assumptions about underlying media"):
//! 1. a single-byte write is atomic (the god byte is written whole or not at all);
//! 2. after `fsync` returns, the data written before it is durable;
//! 3. "powersafe overwrite": a write changes no byte outside its range, even if cut.
//!
//! faultfs's `Strict`, `KeepAll` and `Reorder` policies stay inside these assumptions (a sector
//! survives whole or not at all). `Torn` may fill the sector a cut write was in with zeros or
//! garbage, which breaks assumption 1.
//!
//! # What the crash sweep finds (tests `crash_loop` and `known_findings`)
//!
//! Under `Strict`, `KeepAll` and `Reorder { sector: 4096 }`, in all three commit modes, every
//! recovery is a prefix of the attempted commits that holds every acknowledged durable one; a
//! torn 1-phase commit is rolled back by its checksums. Two ways to lose the database remain:
//!
//! - **Non-atomic create.** redb creates a database by sizing the file, writing a header without
//!   the magic number, fsyncing, then writing the magic number and fsyncing again. A power cut
//!   after the sized file reaches the disk and before the magic number does leaves a non-empty
//!   file without the magic number, which every later open refuses ("Not a redb database:
//!   magic number mismatch"), on `open` and `create` alike. No write was acknowledged, but the
//!   directory stays unusable until someone deletes the file. On a strict disk the store avoids
//!   it (the file's name becomes durable only after redb's initialization); under a process kill
//!   or reordered sectors it happens. [`RedbKv::open`] reports it as [`KvError::Damaged`] and
//!   does not delete the file.
//! - **Torn header sector.** redb rewrites its whole 320-byte header (magic number, god byte and
//!   both commit slots) at offset 0 with every durable commit and keeps no second copy. If that
//!   sector comes back zeroed or as garbage, every committed write is lost and the file is
//!   refused as not a redb database. This needs a disk that breaks assumption 1, so it is outside
//!   redb's contract, but it is one sector away from losing everything.

//! # Errors through redb
//!
//! redb keeps a backend's `io::Error` by value in `StorageError::Io` but does not expose it as a
//! `source()`, so the classifier matches redb's variants instead of walking a chain. After its
//! first I/O failure redb answers every call with `PreviousIo`, which carries nothing; the backend
//! records its first failure in a [`FailureLatch`] so that a `PreviousIo` after a power cut is
//! still reported as [`KvError::PowerLoss`], and after another error as [`KvError::Poisoned`].

#![warn(missing_docs)]

mod backend;
mod config;
mod error;
mod kv;

pub use backend::{BackendFailure, BackendOp, FailureLatch, FaultfsBackend, FirstFailure};
pub use config::{CommitDurability, REDB_DEFAULT_CACHE_BYTES, RedbConfig};
pub use error::{ErrorClass, KvError};
pub use kv::{BatchOp, DATA_FILE, LOCK_FILE, Pairs, RedbKv};
