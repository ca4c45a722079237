//! An LSM key-value engine that touches storage only through [`faultfs::Fs`].
//!
//! INTERFACE SKELETON: the signatures below are the contract the harness codes against; the
//! bodies are filled in by the engine work (issue 3).
//!
//! Files in a database directory:
//!
//! | name              | what                                                        |
//! |-------------------|-------------------------------------------------------------|
//! | `LOCK`            | flock'd while a `Db` is open                                |
//! | `CURRENT`         | the name of the live MANIFEST, one line                     |
//! | `CURRENT.tmp`     | the next CURRENT before its rename                          |
//! | `MANIFEST-NNNNNN` | append-only log of framed JSON version edits                |
//! | `NNNNNN.wal`      | write-ahead log of one memtable                             |
//! | `NNNNNN.sst`      | sorted string table                                         |

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use faultfs::Fs;
use serde::{Deserialize, Serialize};

/// Engine configuration. A new MANIFEST's snapshot record carries it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// A memtable is frozen and flushed once its approximate size passes this.
    pub memtable_bytes: usize,
    /// Writers stall while this many frozen memtables wait to be flushed.
    pub max_immutable_memtables: usize,
    /// Target size of an SST data block before compression-free encoding.
    pub block_bytes: usize,
    /// Target size of one SST written by compaction.
    pub sst_target_bytes: u64,
    /// Bloom filter bits per key (0 disables the filter).
    pub bloom_bits_per_key: u32,
    /// Capacity of the block cache.
    pub block_cache_bytes: usize,
    /// Write-ahead logging; without it only `flush()` and `close()` make writes durable.
    pub wal: bool,
    /// Leveled or tiered compaction.
    pub compaction: CompactionStyle,
    /// Number of L0 files (or tiers) that triggers a compaction.
    pub l0_compaction_trigger: usize,
    /// Size ratio between adjacent levels.
    pub level_size_ratio: u64,
    /// Target size of L1.
    pub level1_bytes: u64,
    /// Number of levels, L0 included.
    pub levels: usize,
    /// The MANIFEST is rolled over to a new one once it passes this size.
    pub manifest_rollover_bytes: u64,
    /// Threads for background flush and compaction, or inline at deterministic points.
    pub background: Background,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            memtable_bytes: 4 << 20,
            max_immutable_memtables: 2,
            block_bytes: 4096,
            sst_target_bytes: 2 << 20,
            bloom_bits_per_key: 10,
            block_cache_bytes: 32 << 20,
            wal: true,
            compaction: CompactionStyle::Leveled,
            l0_compaction_trigger: 4,
            level_size_ratio: 10,
            level1_bytes: 10 << 20,
            levels: 7,
            manifest_rollover_bytes: 1 << 20,
            background: Background::Threads,
        }
    }
}

/// Compaction strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompactionStyle {
    Leveled,
    Tiered,
}

/// Where background work runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Background {
    /// Flush and compaction on background threads (production).
    Threads,
    /// Flush and compaction in the caller's thread at deterministic points (simulation).
    Inline,
}

/// Per-write durability.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteOptions {
    /// Durable when the call returns (WAL synced).
    pub sync: bool,
}

/// One operation of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BatchOp {
    Put { key: Vec<u8>, value: Vec<u8> },
    Delete { key: Vec<u8> },
}

/// An atomic group of writes: after a crash all of it or none of it is there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteBatch {
    pub ops: Vec<BatchOp>,
}

impl WriteBatch {
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(BatchOp::Put {
            key: key.into(),
            value: value.into(),
        });
        self
    }
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(BatchOp::Delete { key: key.into() });
        self
    }
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error from the file system, with what the engine was doing.
    #[error("I/O error while {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A file's bytes are damaged.
    #[error("corruption in {file} at offset {offset}: {reason}")]
    Corruption {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// A file that the MANIFEST names is missing.
    #[error("missing file {file}: {reason}")]
    MissingFile { file: PathBuf, reason: String },
    /// An earlier write-path I/O error poisoned the engine; reopen it.
    #[error("engine poisoned by an earlier I/O error ({cause}); reopen it")]
    Poisoned { cause: String },
    /// The engine was closed.
    #[error("engine closed")]
    Closed,
    /// A bad argument or option.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl Error {
    /// Tells whether this error comes from a simulated power cut.
    pub fn is_power_loss(&self) -> bool {
        match self {
            Error::Io { source, .. } => faultfs::is_power_loss(source),
            _ => false,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// An open database. `Send + Sync`: share it behind an `Arc`.
#[derive(Debug)]
pub struct Db {
    _private: (),
}

impl Db {
    /// Opens (recovering) or creates the database in `dir` on `fs`.
    pub fn open(fs: Arc<dyn Fs>, dir: impl AsRef<Path>, options: Options) -> Result<Db> {
        let _ = (fs, dir.as_ref(), options);
        todo!()
    }

    pub fn put(&self, key: &[u8], value: &[u8], wo: WriteOptions) -> Result<()> {
        let _ = (key, value, wo);
        todo!()
    }

    pub fn delete(&self, key: &[u8], wo: WriteOptions) -> Result<()> {
        let _ = (key, wo);
        todo!()
    }

    pub fn write(&self, batch: &WriteBatch, wo: WriteOptions) -> Result<()> {
        let _ = (batch, wo);
        todo!()
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let _ = key;
        todo!()
    }

    /// The live key/value pairs in a range, in key order.
    pub fn scan(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let _ = (lower, upper);
        todo!()
    }

    /// Makes every acknowledged write durable (syncs the WAL; with the WAL off, flushes).
    pub fn sync(&self) -> Result<()> {
        todo!()
    }

    /// Flushes every memtable to SSTs and records them in the MANIFEST.
    pub fn flush(&self) -> Result<()> {
        todo!()
    }

    /// Compacts until no compaction is needed (at least one full pass).
    pub fn force_compact(&self) -> Result<()> {
        todo!()
    }

    /// Flushes, waits for background work, makes everything durable, releases the LOCK.
    pub fn close(&self) -> Result<()> {
        todo!()
    }

    /// Checks structural invariants after recovery: every file the MANIFEST names exists, no
    /// unreferenced file is left, level invariants hold, the next file number is above every
    /// number on disk.
    pub fn check_invariants(&self) -> Result<()> {
        todo!()
    }
}
