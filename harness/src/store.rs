//! The [`Store`] seam: what Powercut needs from any key-value store built on [`faultfs::Fs`].
//!
//! Implement it for your engine and every feature works on it: seeded sweeps, the gate, replay,
//! shrinking, exploration, scenarios and the kill-test, through your own binary
//! (`powercut::cli::main::<YourStore>()`) or a `cargo test` sweep (`powercut::sweep`). The
//! stores this crate ships (the LSM engine behind the `engine` feature, and a careless log store
//! that must fail) are implementations like any other.
//!
//! # What a store declares
//!
//! - [`Store::name`]: shown in reports, replay commands and test snippets.
//! - [`Store::file_kind`]: the role of each of its files ([`FileKind`]). Faults, aimed damage,
//!   hints and coverage aim at roles, so they reach your files whatever they are called.
//! - [`Store::durability`]: which calls make acknowledged writes durable; the checker holds the
//!   store to exactly that and no more.
//! - [`Store::draw_config`]: the configuration a seed draws (kept in the report, repeated by a
//!   replay); a store with nothing to vary keeps the default.
//! - [`Store::assumptions`]: what it assumes of the disk ([`DiskAssumptions`]); the simulator
//!   then never produces what such a disk never would.
//! - [`Store::unreachable_faults`]: fault classes that cannot happen to it, with the reason (a
//!   class that was swept, could happen and never fired fails the sweep).
//!
//! # Errors
//!
//! Classify every failure into a [`StoreError`]. [`StoreError::from_io`] does it for an
//! `io::Error` from faultfs: a power cut becomes [`StoreError::PowerLoss`], a short read (a
//! file cut shorter than the store expects) becomes [`StoreError::Damaged`], anything else
//! [`StoreError::Io`]. A store that latches its first I/O error ("previous I/O error" on every
//! later call) should latch the [`StoreError`] it classified, not a string, and answer later calls
//! with [`StoreError::Poisoned`] while keeping `is_power_loss` of the latched error in mind: once
//! the simulated power is gone, every call must keep failing with `PowerLoss` (the harness
//! reboots on it), so latch power loss as power loss.
//!
//! # Background work
//!
//! A simulated run must replay exactly, so a store's background work (flushes, compactions,
//! checkpoints) must happen at deterministic points. [`Env::background`] says how: under
//! [`Background::Inline`] (every simulated run) do the work inside the calls that trigger it
//! (a write that fills the memtable flushes before returning) and start no thread; under
//! [`Background::Threads`] (the kill-test on a real disk) run as in production.

use std::fmt;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use faultfs::{FaultClass, Fs};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

pub use faultfs::FileKind;

use crate::model::Mutation;

/// Key/value pairs in key order, as a scan returns them.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Which calls make acknowledged writes durable, as the store promises. The checker advances its
/// durable watermark D only at these points, so a store that promises less is checked less.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Durability {
    /// A write with `sync: true` is durable (with everything before it) when it returns Ok.
    pub synced_write: bool,
    /// `sync()` returning Ok makes every acknowledged write durable.
    pub sync: bool,
    /// `flush()` returning Ok makes every acknowledged write durable.
    pub flush: bool,
    /// `close()` returning Ok makes every acknowledged write durable.
    pub close: bool,
}

impl Durability {
    /// The full contract of an engine with a write-ahead log.
    pub const WAL: Durability = Durability {
        synced_write: true,
        sync: true,
        flush: true,
        close: true,
    };
    /// An engine without a write-ahead log: only flush and close make writes durable.
    pub const NO_WAL: Durability = Durability {
        synced_write: false,
        sync: false,
        flush: true,
        close: true,
    };
    /// A store that promises nothing across a power cut (only atomicity: a prefix of whole
    /// batches).
    pub const NONE: Durability = Durability {
        synced_write: false,
        sync: false,
        flush: false,
        close: false,
    };

    /// Whether `call`, having returned Ok, made every acknowledged write durable. The one rule
    /// every driver of a store (seeded runs, scenarios, exploration, the kill-test's child)
    /// advances D by.
    pub fn makes_durable(&self, call: Call) -> bool {
        match call {
            Call::Write { sync } => sync && self.synced_write,
            Call::Sync => self.sync,
            Call::Flush => self.flush,
            Call::Compact => false,
            Call::Close => self.close,
        }
    }
}

/// The store calls that may be durability points (see [`Durability::makes_durable`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// [`Store::write`] with its `sync` flag.
    Write { sync: bool },
    /// [`Store::sync`].
    Sync,
    /// [`Store::flush`].
    Flush,
    /// [`Store::compact`]: never a durability point by itself.
    Compact,
    /// [`Store::close`].
    Close,
}

/// What a store may assume of the disk. The defaults are the worst case; a store that declares
/// more is tested on a disk that keeps those promises, and every report says which held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiskAssumptions {
    /// A sector being written when the power goes holds its old or its new bytes, never zeros,
    /// garbage or a mix; bytes outside a write never change (SQLite's atomic-sector and
    /// powersafe-overwrite device characteristics). Off: a torn write may leave the sector it was
    /// writing full of zeros or garbage.
    pub atomic_sectors: bool,
    /// What the store promises after media damage (a flipped bit, a torn or misdirected sector in
    /// bytes that were durable).
    pub damage: DamageRule,
    /// Metadata reaches the disk in the order it was issued: after a crash, the creates,
    /// renames, removes and `set_len`s that survive are a prefix of them in issue order (what
    /// ext4 and XFS give by journaling metadata in order; POSIX promises nothing of the kind).
    /// Off: each directory's operations and each file's changes survive independently of the
    /// others. See `faultfs::SimFs::set_ordered_metadata`.
    pub ordered_metadata: bool,
}

impl DiskAssumptions {
    /// The worst case: sectors tear into zeros or garbage; damage must be refused or survived.
    pub const WORST: DiskAssumptions = DiskAssumptions {
        atomic_sectors: false,
        damage: DamageRule::Strict,
        ordered_metadata: false,
    };

    /// A one-line description for reports.
    pub fn describe(&self) -> String {
        format!(
            "sectors {}, damage {}, metadata {}",
            if self.atomic_sectors {
                "atomic"
            } else {
                "may tear into zeros or garbage"
            },
            self.damage.name(),
            if self.ordered_metadata {
                "in issue order"
            } else {
                "unordered"
            }
        )
    }

    /// Sets the simulated disk to keep these promises.
    pub fn apply_to(&self, sim: &faultfs::SimFs) {
        sim.set_atomic_sectors(self.atomic_sectors);
        sim.set_ordered_metadata(self.ordered_metadata);
    }
}

/// How a recovery after media damage is judged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DamageRule {
    /// Damage to durable bytes must be refused cleanly (naming the file) or survived: the
    /// recovered state stays within D..N. Silently rolling back past D is a violation.
    #[default]
    Strict,
    /// Rolling back to an earlier durable state after damage is the store's documented design
    /// (a store that commits in place with one fsync and a checksum cannot tell damage to its
    /// newest commit from a torn commit). Such a recovery passes and is reported as a rollback.
    Rollback,
    /// The store does not check what it reads back (no page checksums: plain SQLite; redb opened
    /// without its integrity check), so media damage is outside what it promises: after damage
    /// struck, whatever it recovers (or a refusal, or an error) is not judged, and the run
    /// reports it as a finding and stops. A panic is still a violation.
    Unchecked,
}

impl DamageRule {
    /// The name used in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            DamageRule::Strict => "strict",
            DamageRule::Rollback => "rollback",
            DamageRule::Unchecked => "unchecked",
        }
    }
}

/// How a store is asked to run its background work (see the module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Background {
    /// At deterministic points inside the calls that trigger it, on the caller's thread.
    #[default]
    Inline,
    /// On the store's own threads, as in production.
    Threads,
}

/// Where and how a store is opened.
#[derive(Clone, Debug)]
pub struct Env {
    /// The file system: `SimFs` in simulated runs, `StdFs` in the kill-test.
    pub fs: Arc<dyn Fs>,
    /// The store's directory on that file system.
    pub dir: PathBuf,
    /// How to run background work.
    pub background: Background,
    /// What the disk promises in this run (the store's own declaration, or what the run
    /// overrode it with). A store that tells its engine about the device (SQLite's device
    /// characteristics) should tell it exactly this.
    pub assumptions: DiskAssumptions,
}

/// A named defect a store can switch on, for testing the tester (`--bug NAME`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Defect {
    /// The name on the command line and in scenario files.
    pub name: &'static str,
    /// What exposes it, in a sentence.
    pub description: &'static str,
    /// The real-world bug or bug class it is modelled on ("" when none).
    pub source: &'static str,
}

/// Why a store call failed, classified so the harness knows which outcome is allowed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The simulated power went (the run reboots the disk).
    #[error("power lost: {0}")]
    PowerLoss(String),
    /// A file's bytes are damaged or a file the store needs is missing or short; a clean refusal.
    #[error("damaged file {file}: {detail}")]
    Damaged { file: PathBuf, detail: String },
    /// An earlier I/O error poisoned the store; it refuses work until reopened.
    #[error("poisoned: {0}")]
    Poisoned(String),
    /// Another I/O error (EIO, ENOSPC, ...): the store must now be poisoned.
    #[error("I/O error: {0}")]
    Io(String),
    /// Anything else (a bad argument, a broken invariant, a closed store).
    #[error("{0}")]
    Other(String),
}

impl StoreError {
    /// Tells whether this is a simulated power cut.
    pub fn is_power_loss(&self) -> bool {
        matches!(self, StoreError::PowerLoss(_))
    }

    /// Classifies an `io::Error` from the file system: power loss, a short read (the file is
    /// shorter than the store expected: damage, named by `context`), or another I/O error.
    pub fn from_io(context: &str, err: &std::io::Error) -> StoreError {
        if faultfs::is_power_loss(err) {
            StoreError::PowerLoss(format!("{context}: {err}"))
        } else if err.kind() == std::io::ErrorKind::UnexpectedEof {
            StoreError::Damaged {
                file: PathBuf::from(context),
                detail: format!("short read: {err}"),
            }
        } else {
            StoreError::Io(format!("{context}: {err}"))
        }
    }

    /// [`StoreError::from_io`] for an operation on `file`: a short read names that file.
    pub fn from_io_at(file: &Path, err: &std::io::Error) -> StoreError {
        StoreError::from_io(&file.display().to_string(), err)
    }
}

/// A key-value store Powercut can crash, reopen and check.
///
/// Keys and values are bytes; the harness uses printable ASCII so reports stay readable.
/// Every method may fail with [`StoreError::PowerLoss`] once the simulated power is off.
pub trait Store: Sized + fmt::Debug {
    /// The store's configuration. Its JSON form is what scenario files, reports and replays
    /// carry; scenario files may give only some fields, the rest come from `Default`.
    type Config: Clone
        + fmt::Debug
        + PartialEq
        + Default
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static;

    /// A short name for reports, replay commands and `--store`.
    fn name() -> &'static str;

    /// How a test outside the store's crate names this type (`my_engine::MyStore`), for the
    /// `#[test]` a report prints. The default is the compiler's full path of the type, which
    /// names the module that defines it: override this when that module is private and the
    /// type is re-exported elsewhere.
    fn rust_path() -> &'static str {
        std::any::type_name::<Self>()
    }

    /// The role of the file at `path` (the path as the store gave it to [`Fs`]: its directory
    /// joined with the file's name).
    fn file_kind(path: &Path) -> FileKind;

    /// The roles of the files the store has under `config`, when it knows them up front; `None`
    /// (the default) lets the harness learn them from a short probe run. Faults are only drawn
    /// against roles in this list, so each drawn fault can fire.
    fn file_roles(config: &Self::Config) -> Option<Vec<FileKind>> {
        let _ = config;
        None
    }

    /// Which calls make writes durable under `config`.
    fn durability(config: &Self::Config) -> Durability;

    /// The configuration one seed draws (default: `Config::default()`).
    fn draw_config(rng: &mut ChaCha8Rng) -> Self::Config {
        let _ = rng;
        Self::Config::default()
    }

    /// Rejects a configuration the store cannot run (a scenario's bad `config`), saying why.
    fn validate_config(config: &Self::Config) -> Result<(), String> {
        let _ = config;
        Ok(())
    }

    /// What the store assumes of the disk under `config` (default: the worst case).
    fn assumptions(config: &Self::Config) -> DiskAssumptions {
        let _ = config;
        DiskAssumptions::WORST
    }

    /// Fault classes that cannot happen to this store under `config`, each with the reason (for
    /// example "every file is synced once, so a deferred fsync error has no later sync to
    /// report it"). A swept class that is neither listed here nor fired fails the sweep.
    fn unreachable_faults(config: &Self::Config) -> Vec<(FaultClass, &'static str)> {
        let _ = config;
        Vec::new()
    }

    /// Named defects `enable_defect` accepts.
    fn defects() -> Vec<Defect> {
        Vec::new()
    }

    /// Switches a named defect on in `config`.
    fn enable_defect(config: &mut Self::Config, name: &str) -> Result<(), String> {
        let _ = config;
        let known: Vec<&str> = Self::defects().iter().map(|d| d.name).collect();
        Err(if known.is_empty() {
            format!(
                "unknown defect {name:?}: the {} store has none",
                Self::name()
            )
        } else {
            format!("unknown defect {name:?} (one of: {})", known.join(", "))
        })
    }

    /// The configuration the kill-test runs the store with on a real disk (`StdFs`, background
    /// work on threads), sized so a round of a few hundred milliseconds exercises its background
    /// work; `None` when the store cannot run on a real disk. Default: `Config::default()`.
    fn kill_test_config() -> Option<Self::Config> {
        Some(Self::Config::default())
    }

    /// Opens (recovering) or creates the store in `env.dir` on `env.fs`.
    fn open(env: &Env, config: &Self::Config) -> Result<Self, StoreError>;

    /// Applies `batch` atomically; with `sync` it is durable when this returns Ok (when
    /// [`Durability::synced_write`] says so).
    fn write(&mut self, batch: &[Mutation], sync: bool) -> Result<(), StoreError>;

    /// Reads one key.
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// The live pairs in a key range, in key order.
    fn scan(&mut self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<Pairs, StoreError>;

    /// Makes every acknowledged write durable (when [`Durability::sync`] says so).
    fn sync(&mut self) -> Result<(), StoreError>;

    /// Moves buffered writes to their long-term home (for an LSM: memtable to SST). Default:
    /// nothing to do.
    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Reorganizes storage (for an LSM: compaction; for SQLite: a checkpoint). Not a durability
    /// point. Default: nothing to do.
    fn compact(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Closes cleanly, making everything durable (when [`Durability::close`] says so); the
    /// store is not used afterwards.
    fn close(&mut self) -> Result<(), StoreError>;

    /// Checks structural invariants after recovery (files named exist, no orphans, ...).
    /// Default: none.
    fn check_invariants(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The configuration of `S` from its JSON form, with missing fields from `Config::default()`:
/// `partial`'s top-level fields replace the default's.
pub fn config_from_json<S: Store>(partial: &serde_json::Value) -> Result<S::Config, String> {
    let mut full = serde_json::to_value(S::Config::default())
        .map_err(|e| format!("the {} store's default config: {e}", S::name()))?;
    match (partial, &mut full) {
        (serde_json::Value::Null, _) => {}
        (serde_json::Value::Object(given), serde_json::Value::Object(base)) => {
            for (k, v) in given {
                base.insert(k.clone(), v.clone());
            }
        }
        (other, _) => full = other.clone(),
    }
    let config: S::Config = serde_json::from_value(full)
        .map_err(|e| format!("not a {} store config: {e}", S::name()))?;
    S::validate_config(&config)?;
    Ok(config)
}

/// The JSON form of a configuration (for cases, reports and scenario files).
pub fn config_to_json<S: Store>(config: &S::Config) -> serde_json::Value {
    serde_json::to_value(config).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_calls_a_store_promises_advance_d() {
        let calls = [
            Call::Write { sync: false },
            Call::Write { sync: true },
            Call::Sync,
            Call::Flush,
            Call::Compact,
            Call::Close,
        ];
        let points = |d: Durability| calls.map(|c| d.makes_durable(c));
        assert_eq!(
            points(Durability::WAL),
            [false, true, true, true, false, true]
        );
        assert_eq!(
            points(Durability::NO_WAL),
            [false, false, false, true, false, true]
        );
        assert_eq!(points(Durability::NONE), [false; 6]);
    }

    #[test]
    fn a_short_read_is_damage_naming_the_file_and_power_loss_stays_power_loss() {
        let short = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "read past the end");
        let e = StoreError::from_io_at(Path::new("db/kv.journal"), &short);
        assert!(
            matches!(&e, StoreError::Damaged { file, .. } if file == Path::new("db/kv.journal")),
            "{e:?}"
        );
        let cut = faultfs::power_loss_error();
        assert!(StoreError::from_io("write", &cut).is_power_loss());
        let eio = std::io::Error::from_raw_os_error(libc::EIO);
        assert!(matches!(
            StoreError::from_io("sync", &eio),
            StoreError::Io(_)
        ));
    }
}
