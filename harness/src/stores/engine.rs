//! [`EngineStore`]: the LSM engine of this workspace behind the [`Store`] seam.

use std::ops::Bound;
use std::path::Path;

use engine::{Db, Error, WriteBatch, WriteOptions};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::model::Mutation;
use crate::store::{Background, Defect, Durability, Env, FileKind, Pairs, Store, StoreError};
use crate::swarm::pick;

/// The engine's configuration in a run: its options. Named defects (`--bug`) are switched on
/// through [`Store::enable_defect`]; background work follows [`Env::background`].
pub type EngineConfig = engine::Options;

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
    engine::bugs::Bug::from_name(name)
        .ok_or_else(|| format!("unknown engine bug {name:?} (see `powercut gate --list-bugs`)"))
}

impl Store for EngineStore {
    type Config = EngineConfig;

    fn name() -> &'static str {
        "engine"
    }

    /// `*.wal` is the log, `*.sst` data, `MANIFEST-*` the manifest, `CURRENT` (and
    /// `CURRENT.tmp`) the pointer; LOCK and directories are other.
    fn file_kind(path: &Path) -> FileKind {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        if name.ends_with(".wal") {
            FileKind::Log
        } else if name.ends_with(".sst") {
            FileKind::Data
        } else if name.starts_with("MANIFEST-") {
            FileKind::Manifest
        } else if name.starts_with("CURRENT") {
            FileKind::Pointer
        } else {
            FileKind::Other
        }
    }

    fn file_roles(config: &EngineConfig) -> Option<Vec<FileKind>> {
        let mut roles = vec![FileKind::Data, FileKind::Manifest, FileKind::Pointer];
        if config.wal {
            roles.insert(0, FileKind::Log);
        }
        Some(roles)
    }

    fn durability(config: &EngineConfig) -> Durability {
        if config.wal {
            Durability::WAL
        } else {
            Durability::NO_WAL
        }
    }

    /// Options small enough that flushes, compactions and MANIFEST rollovers happen within a
    /// hundred operations.
    fn draw_config(rng: &mut ChaCha8Rng) -> EngineConfig {
        engine::Options {
            memtable_bytes: pick(rng, &[512, 1 << 10, 2 << 10, 4 << 10, 16 << 10]),
            max_immutable_memtables: rng.random_range(1..=2),
            block_bytes: pick(rng, &[128, 512, 1024, 4096]),
            sst_target_bytes: pick(rng, &[2 << 10, 8 << 10, 64 << 10]),
            bloom_bits_per_key: pick(rng, &[0, 10]),
            block_cache_bytes: pick(rng, &[0, 64 << 10]),
            wal: rng.random_ratio(5, 6),
            compaction: if rng.random_ratio(2, 3) {
                engine::CompactionStyle::Leveled
            } else {
                engine::CompactionStyle::Tiered
            },
            l0_compaction_trigger: rng.random_range(2..=4),
            level_size_ratio: pick(rng, &[2, 4, 10]),
            level1_bytes: pick(rng, &[4 << 10, 16 << 10, 64 << 10]),
            levels: rng.random_range(3..=7),
            manifest_rollover_bytes: pick(rng, &[512, 2 << 10, 8 << 10, 1 << 20]),
            background: engine::Background::Inline,
            ..engine::Options::default()
        }
    }

    fn validate_config(config: &EngineConfig) -> Result<(), String> {
        config.validate().map_err(|e| e.to_string())
    }

    fn defects() -> Vec<Defect> {
        engine::bugs::Bug::ALL
            .into_iter()
            .map(|b| Defect {
                name: b.name(),
                description: b.exposed_by(),
                source: b.source(),
            })
            .collect()
    }

    fn enable_defect(config: &mut EngineConfig, name: &str) -> Result<(), String> {
        config.bugs.insert(parse_bug(name)?);
        Ok(())
    }

    fn open(env: &Env, config: &EngineConfig) -> Result<Self, StoreError> {
        let options = engine::Options {
            background: match env.background {
                Background::Inline => engine::Background::Inline,
                Background::Threads => engine::Background::Threads,
            },
            ..config.clone()
        };
        let db = Db::open(env.fs.clone(), &env.dir, options).map_err(classify)?;
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
