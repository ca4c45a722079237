//! The [`Store`] seam: what the harness needs from any key-value store built on [`faultfs::Fs`].
//!
//! Implement it for your own engine and every harness feature (seed sweeps, replay, shrinking,
//! exploration) works on it. `harness::stores` holds the two implementations the project ships:
//! the LSM engine and a deliberately careless log store.

use std::fmt;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use faultfs::Fs;

use crate::model::Mutation;

/// Key/value pairs in key order, as a scan returns them.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Which calls make acknowledged writes durable, as the store promises. The checker advances its
/// durable watermark D only at these points, so a store that promises less is checked less.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
}

/// Why a store call failed, classified so the harness knows which outcome is allowed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The simulated power went (the run reboots the disk).
    #[error("power lost: {0}")]
    PowerLoss(String),
    /// A file's bytes are damaged or a file the store needs is missing; a clean refusal.
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

    /// Classifies an `io::Error` from the file system.
    pub fn from_io(context: &str, err: &std::io::Error) -> StoreError {
        if faultfs::is_power_loss(err) {
            StoreError::PowerLoss(format!("{context}: {err}"))
        } else {
            StoreError::Io(format!("{context}: {err}"))
        }
    }
}

/// A key-value store the harness can crash, reopen and check.
///
/// Keys and values are bytes; the harness uses printable ASCII so reports stay readable.
/// Every method may fail with [`StoreError::PowerLoss`] once the simulated power is off.
pub trait Store: Sized + fmt::Debug {
    /// The store's configuration (for the engine: its `Options`).
    type Config: Clone + fmt::Debug;

    /// A short name for reports.
    fn name() -> &'static str;

    /// Which calls make writes durable under `config`.
    fn durability(config: &Self::Config) -> Durability;

    /// Opens (recovering) or creates the store in `dir` on `fs`.
    fn open(fs: Arc<dyn Fs>, dir: &Path, config: &Self::Config) -> Result<Self, StoreError>;

    /// Applies `batch` atomically; with `sync` it is durable when this returns Ok.
    fn write(&mut self, batch: &[Mutation], sync: bool) -> Result<(), StoreError>;

    /// Reads one key.
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// The live pairs in a key range, in key order.
    fn scan(&mut self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<Pairs, StoreError>;

    /// Makes every acknowledged write durable (when [`Durability::sync`] says so).
    fn sync(&mut self) -> Result<(), StoreError>;

    /// Moves buffered writes to their long-term home (for an LSM: memtable to SST).
    fn flush(&mut self) -> Result<(), StoreError>;

    /// Reorganizes storage (for an LSM: compaction). Not a durability point.
    fn compact(&mut self) -> Result<(), StoreError>;

    /// Closes cleanly, making everything durable; the store is not used afterwards.
    fn close(&mut self) -> Result<(), StoreError>;

    /// Checks structural invariants after recovery (files named exist, no orphans, ...).
    fn check_invariants(&mut self) -> Result<(), StoreError>;
}
