//! The stores a kill-test can run, and the engine the way production runs it.
//!
//! [`crate::stores::EngineStore`] forces background work inline so simulated runs replay; a
//! kill-test wants the opposite, flushes and compactions racing the writer on their own threads,
//! so [`ThreadedEngine`] opens the engine with `Background::Threads` and small memtables, small
//! SSTs and a small MANIFEST limit, so every round of a few hundred milliseconds flushes,
//! compacts and rolls the MANIFEST over while the kill may land.

use std::fmt;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use engine::bugs::Bug;
use engine::{Db, WriteBatch, WriteOptions};
use faultfs::Fs;

use crate::model::Mutation;
use crate::store::{Durability, Pairs, Store, StoreError};
use crate::stores::engine::classify;

/// Which store the kill-test runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KillStoreKind {
    /// The LSM engine with background threads.
    #[default]
    Engine,
    /// The careless log store (its bugs need a power cut; a kill does not expose them).
    Careless,
    /// The store that acknowledges writes from a user-space buffer (a kill loses them).
    Buffered,
}

impl KillStoreKind {
    /// Every kind, for messages.
    pub const ALL: [KillStoreKind; 3] = [
        KillStoreKind::Engine,
        KillStoreKind::Careless,
        KillStoreKind::Buffered,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            KillStoreKind::Engine => "engine",
            KillStoreKind::Careless => "careless",
            KillStoreKind::Buffered => "buffered",
        }
    }

    /// The kind with this name, or an error listing the names.
    pub fn parse(name: &str) -> Result<KillStoreKind, String> {
        KillStoreKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| format!("unknown store {name:?} (engine, careless, buffered)"))
    }

    /// Whether the store labels its own phases through `Fs::set_phase` (the child labels the
    /// others' open as recovery and everything after as write).
    pub fn labels_phases(self) -> bool {
        self == KillStoreKind::Engine
    }
}

impl fmt::Display for KillStoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Engine options sized so a round of a few hundred milliseconds sees every background phase.
pub fn engine_options() -> engine::Options {
    engine_options_with(&[])
}

/// [`engine_options`] with named defects of the catalog (issue 6) switched on.
pub fn engine_options_with(bugs: &[Bug]) -> engine::Options {
    engine::Options {
        memtable_bytes: 64 << 10,
        max_immutable_memtables: 2,
        sst_target_bytes: 256 << 10,
        block_cache_bytes: 1 << 20,
        l0_compaction_trigger: 4,
        level1_bytes: 512 << 10,
        manifest_rollover_bytes: 2 << 10,
        background: engine::Background::Threads,
        bugs: bugs.iter().copied().collect(),
        ..engine::Options::default()
    }
}

/// The snake_case name of a defect, as `--bug` takes it.
pub fn bug_name(bug: Bug) -> String {
    serde_json::to_string(&bug)
        .map(|s| s.trim_matches('"').to_string())
        .unwrap_or_default()
}

/// The engine with flush and compaction on background threads.
#[derive(Debug)]
pub struct ThreadedEngine {
    db: Db,
}

fn to_batch(mutations: &[Mutation]) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for m in mutations {
        match m {
            Mutation::Put { key, value } => batch.put(key.as_bytes(), value.as_bytes()),
            Mutation::Delete { key } => batch.delete(key.as_bytes()),
        };
    }
    batch
}

impl Store for ThreadedEngine {
    type Config = engine::Options;

    fn name() -> &'static str {
        "engine"
    }

    fn durability(config: &engine::Options) -> Durability {
        if config.wal {
            Durability::WAL
        } else {
            Durability::NO_WAL
        }
    }

    fn open(fs: Arc<dyn Fs>, dir: &Path, config: &engine::Options) -> Result<Self, StoreError> {
        let db = Db::open(fs, dir, config.clone()).map_err(classify)?;
        Ok(ThreadedEngine { db })
    }

    fn write(&mut self, mutations: &[Mutation], sync: bool) -> Result<(), StoreError> {
        let wo = WriteOptions { sync };
        let result = match mutations {
            [Mutation::Put { key, value }] => self.db.put(key.as_bytes(), value.as_bytes(), wo),
            [Mutation::Delete { key }] => self.db.delete(key.as_bytes(), wo),
            many => self.db.write(&to_batch(many), wo),
        };
        result.map_err(classify)
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db.get(key).map_err(classify)
    }

    fn scan(&mut self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<Pairs, StoreError> {
        self.db.scan(lower, upper).map_err(classify)
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        self.db.sync().map_err(classify)
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.db.flush().map_err(classify)
    }

    fn compact(&mut self) -> Result<(), StoreError> {
        self.db.force_compact().map_err(classify)
    }

    fn close(&mut self) -> Result<(), StoreError> {
        self.db.close().map_err(classify)
    }

    fn check_invariants(&mut self) -> Result<(), StoreError> {
        self.db.check_invariants().map_err(classify)
    }
}
