//! [`RedbConfig`]: how [`crate::RedbKv`] drives redb, including one configuration that lies.

use serde::{Deserialize, Serialize};

/// The durability of a redb commit, as this crate offers it (redb's `Durability`, made
/// serializable).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitDurability {
    /// `Durability::Immediate`: persistent when `commit` returns.
    #[default]
    Immediate,
    /// `Durability::None`: atomic and visible, but persistent only once a later `Immediate`
    /// commit (or a clean close) succeeds.
    None,
}

impl CommitDurability {
    /// redb's own value.
    pub fn to_redb(self) -> redb::Durability {
        match self {
            CommitDurability::Immediate => redb::Durability::Immediate,
            CommitDurability::None => redb::Durability::None,
        }
    }
}

/// How [`crate::RedbKv`] opens the database and commits.
///
/// The default is redb's own default, which is also its safest single-process setting:
/// one-phase commit with checksums, `Immediate` durability for writes the caller wants durable,
/// and no quick-repair. Writes without `sync` always commit with `Durability::None`, the weakest
/// level that still keeps a commit atomic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedbConfig {
    /// Commit in two phases (fsync the new slot, then flip the god byte and fsync again) instead
    /// of redb's default one-phase commit, which relies on checksums to spot a torn commit.
    pub two_phase_commit: bool,
    /// Save the allocator state with every durable commit so that recovery loads it instead of
    /// walking every tree; redb turns two-phase commit on for such commits.
    pub quick_repair: bool,
    /// The durability of the commits that promise durability: a `write` with `sync: true` and
    /// `sync()`. `Immediate` keeps the promise; `None` is the canary (see [`RedbConfig::canary`]).
    pub durable_writes: CommitDurability,
    /// Verify the checksum of every committed page on every open, so a damaged file is refused
    /// with a corruption error instead of being trusted (redb defaults to checking only after an
    /// unclean shutdown, when its repair walks the trees anyway).
    pub check_integrity_on_open: bool,
    /// redb's page cache budget in bytes. A small cache makes redb write pages of non-durable
    /// commits to the file early (eviction), which crash tests may want to reach.
    pub cache_size_bytes: usize,
    /// A defect, never part of a configuration file: skip every directory sync, so the name of
    /// a new database file is never made durable, as redb's own `Database::create` leaves it.
    /// A power cut can then take the whole file away after writes were acknowledged durable.
    #[serde(skip)]
    pub skip_dir_sync: bool,
}

/// redb's default page cache budget (1 GiB), as its `Builder::new` documents.
pub const REDB_DEFAULT_CACHE_BYTES: usize = 1024 * 1024 * 1024;

impl Default for RedbConfig {
    fn default() -> Self {
        RedbConfig {
            two_phase_commit: false,
            quick_repair: false,
            durable_writes: CommitDurability::Immediate,
            check_integrity_on_open: false,
            cache_size_bytes: REDB_DEFAULT_CACHE_BYTES,
            skip_dir_sync: false,
        }
    }
}

impl RedbConfig {
    /// A configuration that promises more than it keeps: writes the caller asked to sync, and
    /// `sync()` itself, commit with `Durability::None`, so a power cut may take back what was
    /// acknowledged as durable. A crash tester that passes this configuration is broken.
    pub fn canary() -> RedbConfig {
        RedbConfig {
            durable_writes: CommitDurability::None,
            ..RedbConfig::default()
        }
    }

    /// Tells whether this configuration keeps its durability promise (no defect is on).
    pub fn keeps_durability_promise(&self) -> bool {
        self.durable_writes == CommitDurability::Immediate && !self.skip_dir_sync
    }
}
