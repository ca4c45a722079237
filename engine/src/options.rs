//! Engine configuration.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Engine configuration. A new MANIFEST's snapshot record carries it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Defects switched on for this run (issue 6); empty means the correct engine.
    #[cfg(feature = "bugs")]
    #[serde(skip)]
    pub bugs: std::collections::BTreeSet<crate::bugs::Bug>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            // 16 MiB: each memtable switch syncs the old WAL and the directory in the writer's
            // path, so at 4 MiB a stream of puts stalled on fsync four times as often.
            memtable_bytes: 16 << 20,
            max_immutable_memtables: 2,
            // 2 KiB: a random read that misses the cache copies and checksums one block, so
            // half the block is about half that work; the index of a million 116-byte pairs
            // grows by ~3 MB (engine-bench peak RSS ~115 MB).
            block_bytes: 2048,
            sst_target_bytes: 2 << 20,
            bloom_bits_per_key: 10,
            // 88 MiB: about two thirds of a million 116-byte pairs' blocks; a random read that
            // misses it pays a read system call and a block checksum. Peak RSS in engine-bench
            // is 130-138 MB (96 MiB reached 149 MB, 80 MiB left random gets just behind sled's).
            block_cache_bytes: 88 << 20,
            wal: true,
            compaction: CompactionStyle::Leveled,
            l0_compaction_trigger: 4,
            level_size_ratio: 10,
            level1_bytes: 10 << 20,
            levels: 7,
            manifest_rollover_bytes: 1 << 20,
            background: Background::Threads,
            #[cfg(feature = "bugs")]
            bugs: std::collections::BTreeSet::new(),
        }
    }
}

impl Options {
    /// Refuses combinations the engine cannot run with, naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::InvalidArgument(format!("Options::{what}")));
        if self.memtable_bytes == 0 {
            return bad("memtable_bytes must be > 0");
        }
        if self.max_immutable_memtables == 0 {
            return bad("max_immutable_memtables must be >= 1");
        }
        if self.block_bytes == 0 || self.block_bytes > (64 << 20) {
            return bad("block_bytes must be in 1..=64 MiB");
        }
        if self.sst_target_bytes == 0 {
            return bad("sst_target_bytes must be > 0");
        }
        if self.bloom_bits_per_key > 64 {
            return bad("bloom_bits_per_key must be <= 64");
        }
        if self.l0_compaction_trigger == 0 {
            return bad("l0_compaction_trigger must be >= 1");
        }
        if self.level_size_ratio < 2 {
            return bad("level_size_ratio must be >= 2");
        }
        if self.level1_bytes == 0 {
            return bad("level1_bytes must be > 0");
        }
        if !(2..=32).contains(&self.levels) {
            return bad("levels must be in 2..=32");
        }
        if self.manifest_rollover_bytes == 0 {
            return bad("manifest_rollover_bytes must be > 0");
        }
        Ok(())
    }

    /// Tells whether a defect is switched on (always false without the `bugs` feature).
    #[cfg(feature = "bugs")]
    pub(crate) fn bug(&self, bug: crate::bugs::Bug) -> bool {
        self.bugs.contains(&bug)
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
