//! [`RedbStore`]: redb behind Powercut's [`Store`] seam, declaring what redb promises and assumes.
//!
//! # What the store declares, and why
//!
//! - **Durability** ([`Store::durability`]): the full contract, because redb documents all of
//!   it. A write with `sync` commits with `Durability::Immediate`, durable when `commit`
//!   returns. `sync()` is an empty `Immediate` commit, which makes every earlier
//!   `Durability::None` commit durable with it. `close()` is redb's clean shutdown, which
//!   persists pending non-durable commits. `flush()` is the same empty `Immediate` commit as
//!   `sync()`: redb keeps the pages of non-durable commits in its write buffer, and the one call
//!   that moves them to their place in the file is a durable commit, so a flush that did
//!   anything else would be a flush redb does not have. A write without `sync` commits with
//!   `Durability::None`: atomic and visible at once, durable only at a later durable point.
//! - **Disk assumptions** ([`Store::assumptions`]): atomic sectors, because redb's design
//!   document assumes a single-byte write is atomic and that a write changes no byte outside its
//!   range ("powersafe overwrite"); it rewrites its 320-byte header, god byte and both commit
//!   slots in place at offset 0 and keeps no copy. The damage rule depends on the commit mode:
//!   - one-phase commit: [`DamageRule::Rollback`]. Recovery verifies the primary commit slot's
//!     checksums and, when any fails, falls back to the other slot. That is how redb tells a
//!     commit torn by a power cut during its one fsync, and it cannot tell that from a flipped
//!     bit in the newest commit's pages, so going back to the previous commit after damage is
//!     its documented design.
//!   - two-phase commit (and quick-repair, which forces it): [`DamageRule::Strict`]. The god
//!     byte records that the primary slot was written in two phases, and recovery then trusts
//!     it alone: a primary that fails its checksums is refused ("Primary is corrupted despite
//!     2-phase commit"), never rolled back.
//!
//!   Either rule holds only where redb looks at its checksums: on every open with
//!   [`RedbConfig::check_integrity_on_open`], otherwise only when it repairs after a crash whose
//!   last commit recorded no allocator state. A clean shutdown records one, and so does every
//!   quick-repair commit, and redb then trusts the file without checking a page ("guarantees
//!   that the primary commit slot is valid without needing to look at the checksums", says
//!   `set_quick_repair`): damage to durable bytes is served as data, or makes redb panic on a
//!   page of no known type. So without the integrity check on open the store declares
//!   [`DamageRule::Unchecked`]: damage is outside the contract there, what redb does after it is
//!   a finding, and a panic still fails the gate.
//! - **Unreachable faults**: none. redb reads, writes, resizes and syncs its one file in every
//!   configuration, and damage reaches it at every reboot.
//! - **Background work**: none. redb has no threads; every write to the file happens inside the
//!   call that causes it, so [`Env::background`] changes nothing.
//!
//! # Errors
//!
//! [`KvError`] maps one to one onto [`StoreError`]. After an I/O error redb itself refuses
//! every call with `PreviousIo` until the database is reopened, which the store reports as
//! [`StoreError::Poisoned`]. The store adds no latch of its own on top, so the harness's probe
//! (a write after an I/O error must be refused) tests redb's latch, not the adapter's.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use faultfs::{Fs, Phase};

use powercut::rand::RngExt;
use powercut::swarm::pick;
use powercut::{
    ChaCha8Rng, DamageRule, Defect, DiskAssumptions, Durability, Env, FileKind, Mutation, Pairs,
    Store, StoreError,
};

use crate::config::{CommitDurability, REDB_DEFAULT_CACHE_BYTES, RedbConfig};
use crate::create::CREATING_FILE;
use crate::error::KvError;
use crate::kv::{BatchOp, DATA_FILE, RedbKv};

/// The defect that makes the durable commits non-durable: the canary.
pub const NON_DURABLE_COMMITS: &str = "non_durable_commits";

/// The defect that leaves a new database file's name unsynced.
pub const NAME_NOT_SYNCED: &str = "name_not_synced";

/// redb as a Powercut store: a [`RedbKv`] in the run's directory.
#[derive(Debug)]
pub struct RedbStore {
    /// `None` once closed.
    kv: Option<RedbKv>,
    /// The file system, to label flushes and compactions in its event log.
    fs: Arc<dyn Fs>,
}

impl From<KvError> for StoreError {
    fn from(err: KvError) -> StoreError {
        match err {
            KvError::PowerLoss { .. } => StoreError::PowerLoss(err.to_string()),
            KvError::Damaged { file, detail } => StoreError::Damaged { file, detail },
            KvError::Poisoned { .. } => StoreError::Poisoned(err.to_string()),
            KvError::Io { .. } => StoreError::Io(err.to_string()),
            KvError::Other(detail) => StoreError::Other(detail),
        }
    }
}

impl RedbStore {
    fn kv(&mut self) -> Result<&mut RedbKv, StoreError> {
        self.kv
            .as_mut()
            .ok_or_else(|| StoreError::Other("the store was closed".to_string()))
    }

    /// Runs `work` with the file system's events labelled `phase`, so a crash or fault inside
    /// it is reported in that phase's coverage column.
    fn in_phase<T>(
        &mut self,
        phase: Phase,
        work: impl FnOnce(&mut RedbKv) -> Result<T, KvError>,
    ) -> Result<T, StoreError> {
        let fs = Arc::clone(&self.fs);
        let kv = self.kv()?;
        fs.set_phase(phase);
        let result = work(kv);
        fs.set_phase(Phase::Write);
        Ok(result?)
    }
}

/// A harness batch as [`RedbKv`] takes it.
fn to_batch(mutations: &[Mutation]) -> Vec<BatchOp> {
    mutations
        .iter()
        .map(|m| match m {
            Mutation::Put { key, value } => {
                (key.as_bytes().to_vec(), Some(value.as_bytes().to_vec()))
            }
            Mutation::Delete { key } => (key.as_bytes().to_vec(), None),
        })
        .collect()
}

impl Store for RedbStore {
    type Config = RedbConfig;

    fn name() -> &'static str {
        "redb"
    }

    /// The store module is private; tests name the type by its re-export.
    fn rust_path() -> &'static str {
        "redb_store::RedbStore"
    }

    /// `data.redb` is the database (data), and so is `data.redb.creating`, the same file while
    /// redb initializes it before it is renamed into place; the lock file and anything else are
    /// other.
    fn file_kind(path: &Path) -> FileKind {
        if path
            .file_name()
            .is_some_and(|n| n == DATA_FILE || n == CREATING_FILE)
        {
            FileKind::Data
        } else {
            FileKind::Other
        }
    }

    /// One database file; the lock file holds no data.
    fn file_roles(_: &RedbConfig) -> Option<Vec<FileKind>> {
        Some(vec![FileKind::Data])
    }

    /// Every durable point redb documents (see the module doc). The same for the canary: it
    /// promises this and keeps less.
    fn durability(_: &RedbConfig) -> Durability {
        Durability::WAL
    }

    /// One-phase or two-phase commit, quick-repair now and then, integrity checks on open now
    /// and then, and a page cache from none (every page of an unsynced commit reaches the file
    /// as soon as redb makes it) to redb's default (none before the next durable commit).
    fn draw_config(rng: &mut ChaCha8Rng) -> RedbConfig {
        RedbConfig {
            two_phase_commit: rng.random_ratio(1, 2),
            quick_repair: rng.random_ratio(1, 4),
            durable_writes: CommitDurability::Immediate,
            check_integrity_on_open: rng.random_ratio(1, 2),
            cache_size_bytes: pick(rng, &[0, 16 << 10, 256 << 10, REDB_DEFAULT_CACHE_BYTES]),
            skip_dir_sync: false,
        }
    }

    /// Sectors are atomic; damage rolls back under one-phase commit and is refused under
    /// two-phase commit (see the module doc).
    fn assumptions(config: &RedbConfig) -> DiskAssumptions {
        let two_phase = config.two_phase_commit || config.quick_repair;
        DiskAssumptions {
            atomic_sectors: true,
            // Opened without its integrity check, redb trusts the primary commit slot after a
            // clean shutdown or a quick-repair commit "without needing to look at the
            // checksums": damage there is read back as data, outside what it promises.
            damage: if !config.check_integrity_on_open {
                DamageRule::Unchecked
            } else if two_phase {
                DamageRule::Strict
            } else {
                DamageRule::Rollback
            },
            // One file, rewritten in place: redb relies on no metadata order.
            ordered_metadata: false,
        }
    }

    fn defects() -> Vec<Defect> {
        vec![
            Defect {
                name: NON_DURABLE_COMMITS,
                description: "a power cut after a synced write or sync(): the acknowledged \
                              writes are gone, committed with Durability::None",
                source: "redb's Durability::None, chosen for speed by an application that still \
                         promises its callers durability",
            },
            Defect {
                name: NAME_NOT_SYNCED,
                description: "a strict power cut after the first synced write: the database \
                              file's name was never synced, so the file and every write vanish",
                source: "redb's own Database::create, which never syncs the parent directory",
            },
        ]
    }

    fn enable_defect(config: &mut RedbConfig, name: &str) -> Result<(), String> {
        match name {
            NON_DURABLE_COMMITS => config.durable_writes = CommitDurability::None,
            NAME_NOT_SYNCED => config.skip_dir_sync = true,
            _ => {
                return Err(format!(
                    "unknown defect {name:?} (one of: {NON_DURABLE_COMMITS}, {NAME_NOT_SYNCED})"
                ));
            }
        }
        Ok(())
    }

    fn open(env: &Env, config: &RedbConfig) -> Result<Self, StoreError> {
        let kv = RedbKv::open(env.fs.clone(), &env.dir, config)?;
        Ok(RedbStore {
            kv: Some(kv),
            fs: Arc::clone(&env.fs),
        })
    }

    fn write(&mut self, batch: &[Mutation], sync: bool) -> Result<(), StoreError> {
        let batch = to_batch(batch);
        Ok(self.kv()?.write(&batch, sync)?)
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.kv()?.get(key)?)
    }

    fn scan(&mut self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<Pairs, StoreError> {
        Ok(self.kv()?.scan(lower, upper)?)
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        Ok(self.kv()?.sync()?)
    }

    /// The same durable empty commit as `sync` (see the module doc).
    fn flush(&mut self) -> Result<(), StoreError> {
        self.in_phase(Phase::Flush, RedbKv::sync)
    }

    /// redb's compaction. Its commits are durable, but the harness counts no compaction as a
    /// durable point, which only makes the check looser, never wrong.
    fn compact(&mut self) -> Result<(), StoreError> {
        self.in_phase(Phase::Compaction, |kv| kv.compact().map(drop))
    }

    fn close(&mut self) -> Result<(), StoreError> {
        match self.kv.take() {
            Some(kv) => Ok(kv.close()?),
            None => Ok(()),
        }
    }

    /// redb's full integrity check: every committed page's checksum, and the allocator state
    /// rebuilt from the trees and compared with the one redb holds. Right after an open it must
    /// find nothing to repair.
    fn check_invariants(&mut self) -> Result<(), StoreError> {
        if self.kv()?.check_integrity()? {
            Ok(())
        } else {
            Err(StoreError::Other(
                "redb's integrity check had to repair a database it had just opened".to_string(),
            ))
        }
    }
}
