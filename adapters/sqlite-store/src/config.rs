//! What a [`crate::SqliteKv`] runs with: SQLite's journal mode and synchronous level, a canary
//! defect, and what the VFS tells SQLite about the disk ([`DeviceAssumptions`]).

use faultfs::CrashPolicy;
use serde::{Deserialize, Serialize};

use crate::KvError;

/// SQLite's `PRAGMA journal_mode`, limited to the two modes whose durability this crate documents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Journal {
    /// Rollback journal `data.sqlite-journal`, deleted to commit.
    #[default]
    Delete,
    /// Write-ahead log `data.sqlite-wal`, run with `locking_mode=EXCLUSIVE` because the VFS has no
    /// shared memory (see the crate doc).
    Wal,
}

impl Journal {
    /// The pragma's value.
    pub fn pragma(self) -> &'static str {
        match self {
            Journal::Delete => "delete",
            Journal::Wal => "wal",
        }
    }
}

/// SQLite's `PRAGMA synchronous`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sync {
    /// FULL plus a directory sync after the rollback journal is deleted (DELETE mode).
    Extra,
    /// Syncs at every commit.
    #[default]
    Full,
    /// Syncs at the critical moments only (WAL: at checkpoints).
    Normal,
    /// Never syncs.
    Off,
}

impl Sync {
    /// The pragma's value.
    pub fn pragma(self) -> &'static str {
        match self {
            Sync::Extra => "extra",
            Sync::Full => "full",
            Sync::Normal => "normal",
            Sync::Off => "off",
        }
    }

    /// The number `PRAGMA synchronous` reads back.
    pub fn level(self) -> i64 {
        match self {
            Sync::Off => 0,
            Sync::Normal => 1,
            Sync::Full => 2,
            Sync::Extra => 3,
        }
    }
}

/// A known defect switched on on purpose, so a sweep can prove it catches it. The configuration
/// still declares the durability of its `journal` and `synchronous`; the canary breaks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Canary {
    /// SQLite runs with `synchronous=OFF` whatever `synchronous` says.
    SynchronousOff,
    /// The VFS acknowledges every file and directory sync without passing it to the file system
    /// (a disk that lies about flushing).
    VfsDropsSyncs,
}

/// How a [`crate::SqliteKv`] runs SQLite.
///
/// There is no `checksum` option: SQLite's page checksums come from the `cksumvfs` shim, which
/// lives in SQLite's `ext/misc/` sources and is not part of the amalgamation that
/// `libsqlite3-sys` compiles for the `bundled` feature, so it cannot be registered from here.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqliteConfig {
    /// The journal mode.
    pub journal: Journal,
    /// The synchronous level.
    pub synchronous: Sync,
    /// A defect to run with (for canary scenarios only).
    pub canary: Option<Canary>,
}

/// Which calls make acknowledged writes durable under a configuration, as SQLite documents it
/// plus what [`crate::SqliteKv`] adds (the crate doc has the table and the reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Promise {
    /// Every commit is durable when `write` returns Ok, sync requested or not.
    pub every_commit: bool,
    /// A `write` with `sync_requested` is durable (with everything before it) when it returns Ok.
    pub synced_write: bool,
    /// `sync()` returning Ok makes every acknowledged write durable.
    pub sync: bool,
    /// `close()` returning Ok makes every acknowledged write durable.
    pub close: bool,
    /// A power cut never leaves the database damaged, on a disk that honours fsync however it
    /// orders the writes between syncs.
    pub never_corrupt: bool,
}

impl SqliteConfig {
    /// The durability this configuration promises (a canary promises the same: that is the
    /// point of a canary).
    pub fn promise(&self) -> Promise {
        let every_commit = match (self.journal, self.synchronous) {
            (_, Sync::Off) => false,
            // The commit deletes the journal; only EXTRA syncs the directory afterwards.
            (Journal::Delete, Sync::Extra) => true,
            (Journal::Delete, Sync::Full | Sync::Normal) => false,
            // FULL and EXTRA sync the WAL at every commit; NORMAL only at checkpoints.
            (Journal::Wal, Sync::Extra | Sync::Full) => true,
            (Journal::Wal, Sync::Normal) => false,
        };
        let syncs = self.synchronous != Sync::Off;
        // DELETE + NORMAL writes the journal's header (with its record count) and its records
        // before one sync; a disk that persists the header but not every record leaves a hot
        // journal whose missing sectors read as zeros, and the record checksum (one byte in 200)
        // may not notice, so rollback writes a wrong page. SQLite documents the risk ("older
        // file systems"); FULL syncs the records before writing the header, and WAL frames carry
        // full checksums.
        let never_corrupt =
            syncs && !(self.journal == Journal::Delete && self.synchronous == Sync::Normal);
        Promise {
            every_commit,
            synced_write: syncs,
            sync: syncs,
            close: syncs,
            never_corrupt,
        }
    }

    /// The synchronous level SQLite really runs with (the canary may override the configured one).
    pub(crate) fn effective_synchronous(&self) -> Sync {
        match self.canary {
            Some(Canary::SynchronousOff) => Sync::Off,
            _ => self.synchronous,
        }
    }
}

/// What the VFS tells SQLite the disk guarantees across a power cut, through
/// `xDeviceCharacteristics` and `xSectorSize`. The default promises nothing, so SQLite relies only
/// on fsync; claim more only when the simulated disk really gives it
/// ([`DeviceAssumptions::for_policy`] says what each crash policy gives).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceAssumptions {
    /// A write of one aligned sector is all-or-nothing (`SQLITE_IOCAP_ATOMIC512` .. `ATOMIC64K`,
    /// by `sector_size`). The bundled build does not consult these bits (they matter only with
    /// `SQLITE_ENABLE_ATOMIC_WRITE`), so they are reported for honesty, not for effect.
    pub atomic_sectors: bool,
    /// A crash never changes bytes outside the range being written
    /// (`SQLITE_IOCAP_POWERSAFE_OVERWRITE`). Without it SQLite treats a whole sector as the blast
    /// radius of a write: rollback journals cover whole sectors and WAL commits are padded to a
    /// sector boundary.
    pub powersafe_overwrite: bool,
    /// Appended data reaches the disk before the larger file size (`SQLITE_IOCAP_SAFE_APPEND`).
    /// Without it SQLite syncs a rollback journal's records before writing the header that counts
    /// them (under FULL).
    pub safe_append: bool,
    /// `xSectorSize`: the unit the disk writes, a power of two from 512 to 65536.
    pub sector_size: u32,
}

impl Default for DeviceAssumptions {
    fn default() -> Self {
        DeviceAssumptions {
            atomic_sectors: false,
            powersafe_overwrite: false,
            safe_append: false,
            sector_size: 512,
        }
    }
}

/// SQLite's largest sector size (`MAX_SECTOR_SIZE` in `pager.c`).
const SECTOR_BYTES_MAX: u32 = 65_536;
/// The smallest sector the rollback journal format allows.
const SECTOR_BYTES_MIN: u32 = 512;

impl DeviceAssumptions {
    /// What a disk that crashes under `policy` really guarantees, read off faultfs's durability
    /// model: damage from a cut stays inside the bytes of the write it hits under every policy
    /// (powersafe overwrite); a sector is all-or-nothing except under `Torn`, whose cut sector
    /// may hold zeros or garbage; and only `Strict` and `KeepAll` never let a file grow before its
    /// appended bytes land (`Torn` can leave a grown file with a garbage tail, `Reorder` a later
    /// sector without an earlier one).
    pub fn for_policy(policy: CrashPolicy) -> DeviceAssumptions {
        match policy {
            CrashPolicy::Strict | CrashPolicy::KeepAll => DeviceAssumptions {
                atomic_sectors: true,
                powersafe_overwrite: true,
                safe_append: true,
                sector_size: SECTOR_BYTES_MIN,
            },
            CrashPolicy::Torn { sector } => DeviceAssumptions {
                atomic_sectors: false,
                powersafe_overwrite: true,
                safe_append: false,
                sector_size: sector,
            },
            CrashPolicy::Reorder { sector } => DeviceAssumptions {
                atomic_sectors: true,
                powersafe_overwrite: true,
                safe_append: false,
                sector_size: sector,
            },
        }
    }

    /// Refuses a sector size SQLite would silently clamp, so what is declared is what runs.
    pub fn validate(&self) -> Result<(), KvError> {
        let s = self.sector_size;
        if !s.is_power_of_two() || !(SECTOR_BYTES_MIN..=SECTOR_BYTES_MAX).contains(&s) {
            return Err(KvError::Other(format!(
                "sector_size {s}: must be a power of two from {SECTOR_BYTES_MIN} to {SECTOR_BYTES_MAX}"
            )));
        }
        Ok(())
    }

    /// The `xDeviceCharacteristics` bits.
    pub fn characteristics(&self) -> i32 {
        use rusqlite::ffi;
        let mut bits = 0;
        if self.atomic_sectors {
            // SQLITE_IOCAP_ATOMIC512 is 0x2 and each next power of two doubles it, up to
            // ATOMIC64K (0x100): the bit for sector size s is s / 256 (sqlite3.h).
            bits |= (self.sector_size / 256) as i32;
        }
        if self.powersafe_overwrite {
            bits |= ffi::SQLITE_IOCAP_POWERSAFE_OVERWRITE;
        }
        if self.safe_append {
            bits |= ffi::SQLITE_IOCAP_SAFE_APPEND;
        }
        bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::ffi;

    #[test]
    fn default_device_promises_nothing() {
        assert_eq!(DeviceAssumptions::default().characteristics(), 0);
    }

    #[test]
    fn atomic_sector_bit_follows_the_sector_size() {
        let mut d = DeviceAssumptions {
            atomic_sectors: true,
            ..DeviceAssumptions::default()
        };
        assert_eq!(d.characteristics(), ffi::SQLITE_IOCAP_ATOMIC512);
        d.sector_size = 4096;
        assert_eq!(d.characteristics(), ffi::SQLITE_IOCAP_ATOMIC4K);
        d.sector_size = 65_536;
        assert_eq!(d.characteristics(), ffi::SQLITE_IOCAP_ATOMIC64K);
    }

    #[test]
    fn odd_sector_sizes_are_refused() {
        for s in [0, 256, 1000, 131_072] {
            let d = DeviceAssumptions {
                sector_size: s,
                ..DeviceAssumptions::default()
            };
            assert!(d.validate().is_err(), "{s}");
        }
        assert!(DeviceAssumptions::default().validate().is_ok());
    }

    #[test]
    fn only_wal_full_and_delete_extra_make_every_commit_durable() {
        let every = |journal, synchronous| {
            SqliteConfig {
                journal,
                synchronous,
                canary: None,
            }
            .promise()
            .every_commit
        };
        assert!(every(Journal::Wal, Sync::Full));
        assert!(every(Journal::Delete, Sync::Extra));
        assert!(!every(Journal::Delete, Sync::Full));
        assert!(!every(Journal::Wal, Sync::Normal));
        assert!(!every(Journal::Wal, Sync::Off));
    }

    #[test]
    fn only_delete_normal_and_off_may_corrupt() {
        for journal in [Journal::Delete, Journal::Wal] {
            for synchronous in [Sync::Extra, Sync::Full, Sync::Normal, Sync::Off] {
                let never = SqliteConfig {
                    journal,
                    synchronous,
                    canary: None,
                }
                .promise()
                .never_corrupt;
                let risky = synchronous == Sync::Off
                    || (journal == Journal::Delete && synchronous == Sync::Normal);
                assert_eq!(never, !risky, "{journal:?} {synchronous:?}");
            }
        }
    }

    #[test]
    fn config_round_trips_through_json() {
        let c = SqliteConfig {
            journal: Journal::Wal,
            synchronous: Sync::Normal,
            canary: Some(Canary::VfsDropsSyncs),
        };
        let text = serde_json::to_string(&c).expect("serialize");
        assert_eq!(
            serde_json::from_str::<SqliteConfig>(&text).expect("parse"),
            c
        );
    }
}
