//! [`EngineStore`]: the LSM engine of this workspace behind the [`Store`] seam.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use engine::{Db, Error, WriteBatch, WriteOptions};
use faultfs::Fs;

use crate::model::Mutation;
use crate::store::{Durability, Pairs, Store, StoreError};

/// The engine's configuration in a run.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    /// The engine's options, used as given ([`EngineConfig::simulated`] makes background work
    /// inline, which simulated runs need to replay exactly; the kill-test keeps threads).
    pub options: engine::Options,
    /// Named engine defects to switch on.
    pub bugs: Vec<String>,
}

impl EngineConfig {
    /// A configuration for simulated runs: flush and compaction inline, at deterministic points.
    pub fn simulated(options: &engine::Options, bugs: &[String]) -> EngineConfig {
        EngineConfig {
            options: engine::Options {
                background: engine::Background::Inline,
                ..options.clone()
            },
            bugs: bugs.to_vec(),
        }
    }
}

/// An open engine.
#[derive(Debug)]
pub struct EngineStore {
    db: Db,
}

/// Classifies an engine error for the harness.
pub fn classify(err: Error) -> StoreError {
    if err.is_power_loss() {
        return StoreError::PowerLoss(err.to_string());
    }
    match err {
        Error::Corruption { ref file, .. } | Error::MissingFile { ref file, .. } => {
            StoreError::Damaged {
                file: file.clone(),
                detail: err.to_string(),
            }
        }
        Error::Poisoned { .. } => StoreError::Poisoned(err.to_string()),
        Error::Io { .. } => StoreError::Io(err.to_string()),
        other => StoreError::Other(other.to_string()),
    }
}

/// The engine batch of a multi-write step.
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

/// Parses an engine defect name (`sst_dir_entry_not_synced`, ...).
pub fn parse_bug(name: &str) -> Result<engine::bugs::Bug, String> {
    serde_json::from_str(&format!("\"{name}\""))
        .map_err(|_| format!("unknown engine bug {name:?} (see `powercut gate --list-bugs`)"))
}

impl Store for EngineStore {
    type Config = EngineConfig;

    fn name() -> &'static str {
        "engine"
    }

    fn durability(config: &EngineConfig) -> Durability {
        if config.options.wal {
            Durability::WAL
        } else {
            Durability::NO_WAL
        }
    }

    fn open(fs: Arc<dyn Fs>, dir: &Path, config: &EngineConfig) -> Result<Self, StoreError> {
        let mut options = config.options.clone();
        for name in &config.bugs {
            options
                .bugs
                .insert(parse_bug(name).map_err(StoreError::Other)?);
        }
        let db = Db::open(fs, dir, options).map_err(classify)?;
        Ok(EngineStore { db })
    }

    fn write(&mut self, batch: &[Mutation], sync: bool) -> Result<(), StoreError> {
        let wo = WriteOptions { sync };
        let result = match batch {
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
