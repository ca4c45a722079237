//! [`SqliteStore`]: [`SqliteKv`] behind Powercut's [`Store`] seam, so the gate, replay,
//! shrinking and exploration run real SQLite (`powercut-sqlite`, or `powercut::sweep` in a test).
//!
//! # What it declares, and why
//!
//! - **Files** ([`Store::file_kind`]): `data.sqlite` is data, the rollback journal and the WAL
//!   are logs, the directory lock is other. Faults are drawn only against data and logs: nothing
//!   reads or writes the lock file's bytes, so a fault aimed at it could never fire.
//! - **Configuration**: [`SqliteConfig`]. A seed draws one of five journal x synchronous pairs
//!   ([`SqliteStore::draw_config`] has the weights and the two it leaves out).
//! - **Durability** ([`Store::durability`]): every setting but OFF keeps synced writes, `sync`,
//!   `flush` and `close` ([`SqliteConfig::promise`] says how each mode gets there); OFF keeps
//!   nothing ([`Durability::NONE`]). What a `write` with `sync: false` keeps differs (WAL + FULL,
//!   WAL + EXTRA and DELETE + EXTRA keep every commit, the others only atomicity), and the
//!   harness has no way to hear it: it checks such commits as atomic only, which under-tests
//!   those three modes but never accuses SQLite of a promise it does not make.
//! - **Disk** ([`Store::assumptions`]): sectors may tear (SQLite reports no `IOCAP` flag, so it
//!   relies on nothing but fsync), and [`DamageRule::Unchecked`] for media damage. SQLite keeps
//!   no checksum of database pages: a flipped bit or a misplaced write in a page reads back as
//!   data, and a WAL frame or journal record whose checksum fails ends the log there, silently
//!   dropping every commit after it. Media damage is outside its promise: the harness reports
//!   what it does after damage as findings (SQLite's documented trade-off, not defects) and
//!   still fails a panic.
//! - **Defects** ([`SqliteStore::defects`]): `synchronous_off_declared_full` and
//!   `vfs_drops_syncs`, the canaries a sweep must catch.
//!
//! # What `Env` changes
//!
//! `env.assumptions` is what the run holds the disk to, and the VFS tells SQLite exactly that
//! ([`device_for`]). `env.background` changes nothing: SQLite has no background work in this
//! setup. Checkpoints happen inside the calls that make them (`sync`, `flush`, `compact`,
//! `close`, and the automatic checkpoint a commit runs once the WAL passes 1000 pages), on the
//! caller's thread, so every run replays exactly.
//!
//! # Errors
//!
//! [`KvError`] maps one to one onto [`StoreError`]. [`SqliteKv`] poisons itself after any I/O
//! error other than a power cut (a failed fsync may have dropped pages that SQLite's cache still
//! shows), so the next call is [`StoreError::Poisoned`] until the store is reopened. A power cut
//! is latched here: once one call saw it, every later call answers `PowerLoss`, even one SQLite
//! could serve from its page cache.

use std::ops::Bound;
use std::path::Path;

use powercut::faultfs::FaultClass;
use powercut::rand::RngExt;
use powercut::{
    ChaCha8Rng, DamageRule, Defect, DiskAssumptions, Durability, Env, FileKind, Mutation, Pairs,
    Store, StoreError,
};

use crate::{Canary, DeviceAssumptions, Journal, KvError, SqliteConfig, SqliteKv, Sync};

/// The sector size the VFS reports when sectors may tear: the unix VFS's default, and the larger
/// of the two the simulator cuts at, so SQLite treats at least a whole simulated sector as the
/// blast radius of a write.
const TEARING_SECTOR_BYTES: u32 = 4096;
/// The sector size reported with atomic sectors: the smallest the simulator cuts at, so the
/// atomic-write bit claimed (`ATOMIC512`) holds for either.
const ATOMIC_SECTOR_BYTES: u32 = 512;

/// The configurations a seed draws, with their weights (see [`SqliteStore::draw_config`]).
const DRAWN: [(Journal, Sync, u32); 5] = [
    (Journal::Wal, Sync::Full, 4),
    (Journal::Delete, Sync::Full, 4),
    (Journal::Wal, Sync::Normal, 2),
    (Journal::Delete, Sync::Extra, 1),
    (Journal::Wal, Sync::Extra, 1),
];

/// The canary defects: name, canary, what exposes it, what it is modelled on.
const DEFECTS: [(&str, Canary, &str, &str); 2] = [
    (
        "synchronous_off_declared_full",
        Canary::SynchronousOff,
        "a power cut after a synced write or sync(): SQLite ran with synchronous=OFF while the \
         store declared FULL, so the acknowledged writes were never on disk",
        "applications that turn synchronous off for speed and keep promising durability",
    ),
    (
        "vfs_drops_syncs",
        Canary::VfsDropsSyncs,
        "a power cut after any acknowledged commit: the VFS acknowledged every file and \
         directory sync without passing it on, so commits are lost or half-applied",
        "disks and virtual disks that ignore flush requests (SQLite's 'How To Corrupt' list)",
    ),
];

/// What the VFS tells SQLite about a disk with these assumptions: with atomic sectors, the
/// atomic-write and powersafe-overwrite characteristics (which is what the harness's
/// `atomic_sectors` stands for), else no characteristic at all. Never safe-append: the simulator
/// can persist a grown length before the appended bytes.
pub fn device_for(assumptions: &DiskAssumptions) -> DeviceAssumptions {
    DeviceAssumptions {
        atomic_sectors: assumptions.atomic_sectors,
        powersafe_overwrite: assumptions.atomic_sectors,
        safe_append: false,
        sector_size: if assumptions.atomic_sectors {
            ATOMIC_SECTOR_BYTES
        } else {
            TEARING_SECTOR_BYTES
        },
    }
}

/// The harness's classification of a [`KvError`].
pub fn classify(err: KvError) -> StoreError {
    match err {
        KvError::PowerLoss { .. } => StoreError::PowerLoss(err.to_string()),
        KvError::Damaged { file, detail } => StoreError::Damaged { file, detail },
        KvError::Io { .. } => StoreError::Io(err.to_string()),
        KvError::Poisoned(_) => StoreError::Poisoned(err.to_string()),
        other => StoreError::Other(other.to_string()),
    }
}

/// An open SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    kv: SqliteKv,
    /// The power cut one call saw; every later call reports it again.
    power_lost: Option<String>,
}

impl SqliteStore {
    /// Runs `f` on the store unless the power is known to be gone, classifying its error and
    /// latching a power cut.
    fn run<T>(
        &mut self,
        f: impl FnOnce(&mut SqliteKv) -> Result<T, KvError>,
    ) -> Result<T, StoreError> {
        if let Some(cut) = &self.power_lost {
            return Err(StoreError::PowerLoss(cut.clone()));
        }
        f(&mut self.kv).map_err(|e| {
            let err = classify(e);
            if let StoreError::PowerLoss(m) = &err {
                self.power_lost = Some(m.clone());
            }
            err
        })
    }

    /// The key-value layer underneath.
    pub fn kv(&mut self) -> &mut SqliteKv {
        &mut self.kv
    }
}

/// Keys and values cross the seam as bytes; SQLite stores them as TEXT.
fn utf8<'a>(what: &str, bytes: &'a [u8]) -> Result<&'a str, StoreError> {
    std::str::from_utf8(bytes).map_err(|e| StoreError::Other(format!("{what} is not UTF-8: {e}")))
}

fn bound<'a>(what: &str, b: Bound<&'a [u8]>) -> Result<Bound<&'a str>, StoreError> {
    Ok(match b {
        Bound::Included(k) => Bound::Included(utf8(what, k)?),
        Bound::Excluded(k) => Bound::Excluded(utf8(what, k)?),
        Bound::Unbounded => Bound::Unbounded,
    })
}

impl Store for SqliteStore {
    type Config = SqliteConfig;

    fn name() -> &'static str {
        "sqlite"
    }

    /// The store module is private; tests name the type by its re-export.
    fn rust_path() -> &'static str {
        "sqlite_store::SqliteStore"
    }

    /// `data.sqlite` is data, `-journal` and `-wal` files are logs, the lock file is other.
    fn file_kind(path: &Path) -> FileKind {
        crate::file_kind(path)
    }

    /// The database file and its journal or WAL; the lock file's bytes are never touched.
    fn file_roles(_: &SqliteConfig) -> Option<Vec<FileKind>> {
        Some(vec![FileKind::Log, FileKind::Data])
    }

    /// What SQLite documents for the configured mode (the canary's real mode is not consulted:
    /// declaring more than it keeps is the defect).
    fn durability(config: &SqliteConfig) -> Durability {
        let p = config.promise();
        Durability {
            synced_write: p.synced_write,
            sync: p.sync,
            // flush() is sync(): for SQLite, moving buffered writes to their long-term home is a
            // WAL checkpoint, which is what sync() runs.
            flush: p.sync,
            close: p.close,
        }
    }

    /// Journal mode x synchronous, weighted toward the modes whose every commit or every synced
    /// write is durable: WAL + FULL and DELETE + FULL 4 each, WAL + NORMAL 2, DELETE + EXTRA and
    /// WAL + EXTRA 1 each. Two settings are never drawn, only run when pinned with `--config`:
    /// OFF and DELETE + NORMAL. SQLite documents that both may leave a corrupt database after a
    /// power cut (OFF always, DELETE + NORMAL on a disk that reorders a journal's writes, which
    /// the simulator's Reorder policy does), and a store cannot declare "may corrupt" to the
    /// harness, so every such run would be a violation of a promise SQLite never made.
    fn draw_config(rng: &mut ChaCha8Rng) -> SqliteConfig {
        let total: u32 = DRAWN.iter().map(|(_, _, w)| w).sum();
        let mut ticket = rng.random_range(0..total);
        for (journal, synchronous, weight) in DRAWN {
            if ticket < weight {
                return SqliteConfig {
                    journal,
                    synchronous,
                    canary: None,
                };
            }
            ticket -= weight;
        }
        SqliteConfig::default()
    }

    fn validate_config(config: &SqliteConfig) -> Result<(), String> {
        if config.canary == Some(Canary::SynchronousOff) && config.synchronous == Sync::Off {
            return Err(
                "the synchronous_off canary changes nothing when synchronous is off".into(),
            );
        }
        Ok(())
    }

    /// Sectors may tear, and damage rolls back (see the module doc).
    /// Sectors may tear (the VFS reports no atomic-write characteristics, so SQLite relies on
    /// none). Damage is unchecked: SQLite keeps no page checksums (the cksumvfs shim is not in
    /// the bundled build), its rollback journal samples one byte in 200 and its WAL checksums
    /// only mark where the log ends, so a flipped bit or a torn sector in durable pages is read
    /// back as data. Media damage is outside what a plain SQLite promises; the gate reports
    /// what it does after damage as findings, and still fails a panic.
    ///
    /// In rollback-journal (DELETE) mode metadata is assumed to reach the disk in issue order.
    /// A transaction that shrinks the database commits by deleting the journal and then
    /// truncates the database with no sync between (`tests/it/vacuum_truncate.rs`); a disk that
    /// keeps the truncation and loses the deletion leaves a hot journal that cannot restore the
    /// dropped pages. ext4 and XFS order those two changes; POSIX does not, and only
    /// `synchronous=EXTRA` (which syncs the directory after the deletion) survives such a disk:
    /// `--ordered-metadata false` shows it. WAL mode relies on no such order and is tested
    /// without it.
    fn assumptions(config: &SqliteConfig) -> DiskAssumptions {
        DiskAssumptions {
            atomic_sectors: false,
            damage: DamageRule::Unchecked,
            ordered_metadata: config.journal == Journal::Delete,
        }
    }

    /// Every class can reach SQLite's files; none is declared unreachable.
    fn unreachable_faults(_: &SqliteConfig) -> Vec<(FaultClass, &'static str)> {
        Vec::new()
    }

    fn defects() -> Vec<Defect> {
        DEFECTS
            .iter()
            .map(|(name, _, description, source)| Defect {
                name,
                description,
                source,
            })
            .collect()
    }

    /// `synchronous_off_declared_full` also sets `synchronous` to FULL, so the run declares FULL's
    /// durability whatever the seed drew; one canary at a time.
    fn enable_defect(config: &mut SqliteConfig, name: &str) -> Result<(), String> {
        let Some((_, canary, _, _)) = DEFECTS.iter().find(|(n, ..)| *n == name) else {
            let known: Vec<&str> = DEFECTS.iter().map(|(n, ..)| *n).collect();
            return Err(format!(
                "unknown defect {name:?} (one of: {})",
                known.join(", ")
            ));
        };
        if config.canary.is_some_and(|c| c != *canary) {
            return Err(format!(
                "{name}: the store runs one canary at a time, and {:?} is on",
                config.canary
            ));
        }
        config.canary = Some(*canary);
        if *canary == Canary::SynchronousOff {
            config.synchronous = Sync::Full;
        }
        Ok(())
    }

    fn open(env: &Env, config: &SqliteConfig) -> Result<Self, StoreError> {
        let device = device_for(&env.assumptions);
        let kv = SqliteKv::open(env.fs.clone(), &env.dir, config, device).map_err(classify)?;
        Ok(SqliteStore {
            kv,
            power_lost: None,
        })
    }

    /// One transaction. `sync: true` makes it durable with everything before it on return:
    /// free under WAL + FULL, WAL + EXTRA and DELETE + EXTRA (every commit is), a directory
    /// sync under DELETE + FULL (the journal's deletion), a checkpoint under WAL + NORMAL;
    /// nothing under OFF.
    fn write(&mut self, batch: &[Mutation], sync: bool) -> Result<(), StoreError> {
        let pairs: Vec<(String, Option<String>)> = batch
            .iter()
            .map(|m| (m.key().to_string(), m.value_after().map(str::to_string)))
            .collect();
        self.run(|kv| kv.write(&pairs, sync))
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let key = utf8("key", key)?;
        let value = self.run(|kv| kv.get(key))?;
        Ok(value.map(String::into_bytes))
    }

    fn scan(&mut self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<Pairs, StoreError> {
        let (lower, upper) = (bound("lower bound", lower)?, bound("upper bound", upper)?);
        let pairs = self.run(|kv| kv.scan(lower, upper))?;
        Ok(pairs
            .into_iter()
            .map(|(k, v)| (k.into_bytes(), v.into_bytes()))
            .collect())
    }

    /// DELETE: a directory sync (the last journal's deletion); WAL: a full checkpoint.
    fn sync(&mut self) -> Result<(), StoreError> {
        self.run(SqliteKv::sync)
    }

    /// The same as `sync`: a WAL checkpoint is SQLite's flush.
    fn flush(&mut self) -> Result<(), StoreError> {
        self.run(SqliteKv::sync)
    }

    /// `VACUUM`, then in WAL mode a truncating checkpoint ([`SqliteKv::compact`]).
    fn compact(&mut self) -> Result<(), StoreError> {
        self.run(SqliteKv::compact)
    }

    fn close(&mut self) -> Result<(), StoreError> {
        self.run(SqliteKv::close)
    }

    /// `PRAGMA integrity_check`; what it finds is damage to the database file.
    fn check_invariants(&mut self) -> Result<(), StoreError> {
        self.run(SqliteKv::check_integrity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use powercut::rand::SeedableRng;

    #[test]
    fn every_drawn_configuration_is_drawn_and_no_other() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let c = SqliteStore::draw_config(&mut rng);
            assert!(
                DRAWN
                    .iter()
                    .any(|(j, s, _)| (*j, *s) == (c.journal, c.synchronous)),
                "{c:?}"
            );
            seen.insert((c.journal.pragma(), c.synchronous.pragma()));
        }
        assert_eq!(seen.len(), DRAWN.len());
    }

    #[test]
    fn off_promises_nothing_and_the_others_keep_synced_writes() {
        for journal in [Journal::Delete, Journal::Wal] {
            for synchronous in [Sync::Extra, Sync::Full, Sync::Normal, Sync::Off] {
                let c = SqliteConfig {
                    journal,
                    synchronous,
                    canary: None,
                };
                let d = SqliteStore::durability(&c);
                let want = if synchronous == Sync::Off {
                    Durability::NONE
                } else {
                    Durability::WAL
                };
                assert_eq!(d, want, "{journal:?} {synchronous:?}");
            }
        }
    }

    #[test]
    fn the_off_canary_declares_full() {
        let mut c = SqliteConfig {
            journal: Journal::Wal,
            synchronous: Sync::Normal,
            canary: None,
        };
        SqliteStore::enable_defect(&mut c, "synchronous_off_declared_full").expect("known");
        assert_eq!(c.synchronous, Sync::Full);
        assert_eq!(c.effective_synchronous(), Sync::Off);
        assert_eq!(SqliteStore::durability(&c), Durability::WAL);
        assert!(SqliteStore::enable_defect(&mut c, "vfs_drops_syncs").is_err());
        assert!(SqliteStore::enable_defect(&mut c, "nonsense").is_err());
    }

    #[test]
    fn atomic_sectors_are_told_to_sqlite_as_atomic_and_powersafe() {
        let atomic = device_for(&DiskAssumptions {
            atomic_sectors: true,
            damage: DamageRule::Rollback,
            ordered_metadata: false,
        });
        assert!(atomic.atomic_sectors && atomic.powersafe_overwrite && !atomic.safe_append);
        assert_eq!(atomic.characteristics() & 0x2, 0x2, "ATOMIC512");
        let tearing = device_for(&DiskAssumptions::WORST);
        assert_eq!(tearing.characteristics(), 0);
        assert_eq!(tearing.sector_size, 4096);
        tearing.validate().expect("a sector size SQLite takes");
    }
}
