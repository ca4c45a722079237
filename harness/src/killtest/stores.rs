//! The stores a kill-test can run, and the engine the way production runs it.
//!
//! Simulated runs put the engine's background work inline so they replay; a kill-test wants the
//! opposite, flushes and compactions racing the writer on their own threads, so
//! [`threaded_engine`] configures [`crate::stores::EngineStore`] with `Background::Threads` and
//! small memtables, small SSTs and a small MANIFEST limit, so every round of a few hundred
//! milliseconds flushes, compacts and rolls the MANIFEST over while the kill may land.

use std::fmt;

use engine::bugs::Bug;

use crate::stores::EngineConfig;

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

/// The production-shaped engine configuration a kill-test runs, with named defects switched on.
pub fn threaded_engine(bugs: &[Bug]) -> EngineConfig {
    let mut options = engine_options_with(bugs);
    options.background = engine::Background::Threads;
    options
}

/// Where the kill-test opens a store: the real disk, background work on threads.
pub fn threads_env(fs: std::sync::Arc<dyn faultfs::Fs>) -> crate::store::Env {
    crate::store::Env {
        fs,
        dir: crate::runner::DB_DIR.into(),
        background: crate::store::Background::Threads,
        assumptions: crate::store::DiskAssumptions::WORST,
    }
}
