//! redb on faultfs: the [redb](https://www.redb.org) embedded database (version 4.6) running on a
//! [`faultfs::Fs`], so Powercut can crash it in the simulator and check what it recovers.
//!
//! - [`FaultfsBackend`] is redb's `StorageBackend` over one [`faultfs::File`]. Its errors keep
//!   the file system's `io::Error` as their source, so [`faultfs::is_power_loss`] still sees a
//!   power cut.
//! - [`RedbKv`] is a byte-keyed map in one redb table: the layer a harness adapter calls.
//! - [`KvError`] sorts every failure into power loss, damage, poisoning, other I/O, other.
//! - [`RedbStore`] is redb behind Powercut's `Store` seam, with what redb promises and assumes
//!   declared (see its module doc), so every Powercut tool runs on it; the `powercut-redb`
//!   binary is Powercut's command line over it (`powercut-redb gate`).
//!
//! # Files
//!
//! A store in directory `dir` keeps its data in `dir/data.redb` (one redb database file) and
//! holds a faultfs lock on `dir/LOCK` while open. redb itself needs one file and no directory
//! operations, but it initializes a new database in place, in steps that a power cut can leave
//! half done, and its own `Database::create` never syncs the parent directory. So the store
//! creates the file as [`create`] describes (initialized under `data.redb.creating`, renamed into
//! place, directory synced): `data.redb` always names a complete database, and its name is
//! durable before any write is acknowledged.
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
//! | `Durability::Immediate`, 2-phase | durable: the new slot and its pages are fsynced, then the god byte is flipped and fsynced again, and the god byte records that the commit was 2-phase, so recovery never falls back to the other slot: a primary that fails its checksums is refused. |
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
//! On a disk whose sectors are atomic (faultfs's atomic-sector model, which [`RedbStore`]
//! declares) every crash policy stays inside these assumptions. Without it, `Torn` may fill the
//! sector a cut write was in with zeros or garbage, which breaks assumption 1.
//!
//! # What crash testing finds (tests `crash_loop`, `sweep` and `known_findings`)
//!
//! Under every crash policy, with every I/O error and truncation, in every commit mode, every
//! recovery is a prefix of the attempted commits that holds every acknowledged durable one, and
//! redb refuses further work after an I/O error until reopened. With
//! [`RedbConfig::check_integrity_on_open`], damage to durable bytes (flipped bits, torn sectors,
//! misdirected writes) is refused, or rolled back under one-phase commit, too. What remains:
//!
//! - **Non-atomic create** (redb; the store avoids it). redb sizes a new file, writes a header
//!   without the magic number, fsyncs, then writes the magic number and fsyncs again. A power
//!   cut in between, under any policy that keeps unsynced changes, leaves a non-empty file
//!   without the magic number, which every later open refuses ("Not a redb database: magic
//!   number mismatch") although no write was acknowledged. The store initializes under a
//!   temporary name, so the cut leaves no `data.redb`, and refuses an empty `data.redb` as damage
//!   instead of letting redb initialize it over the writes it held.
//! - **Damage trusted** (a documented trade-off). After a clean shutdown, and after any
//!   quick-repair commit, redb opens the file without checking a checksum and never checks one
//!   on a read: a flipped bit in a committed value is served as the value.
//! - **A panic on a damaged page** (a redb defect, reached only by damage). A page whose type
//!   byte is neither leaf nor branch makes redb hit `unreachable!()` (in `Btree::get_helper`,
//!   and in the range cursor), and a branch page with a damaged key offset makes it index a
//!   slice out of range (`BranchAccessor::key`), in a read or inside `open` itself, where its
//!   other checks of a page's shape return a corruption error.
//! - **Torn header sector** (outside redb's assumptions). redb rewrites its whole 320-byte
//!   header (magic number, god byte and both commit slots) at offset 0 with every durable commit
//!   and keeps no second copy. If that sector comes back zeroed or as garbage, every committed
//!   write is lost and the file is refused as not a redb database. This needs a disk whose
//!   sectors tear, which redb's design rules out and the store declares it does not run on.
//!
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
pub mod create;
mod error;
mod kv;
mod store;

pub use backend::{BackendFailure, BackendOp, FailureLatch, FaultfsBackend, FirstFailure};
pub use config::{CommitDurability, REDB_DEFAULT_CACHE_BYTES, RedbConfig};
pub use error::{ErrorClass, KvError};
pub use kv::{BatchOp, DATA_FILE, LOCK_FILE, Pairs, RedbKv};
pub use store::{NAME_NOT_SYNCED, NON_DURABLE_COMMITS, RedbStore};
