//! The block cache: verified SST data blocks shared by all readers, least recently used evicted.
//!
//! Eviction order depends only on the order of lookups (a tick counter, no clock, no hash-map
//! iteration), so a single-threaded simulated run reads the same blocks from disk every time.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use crate::sst::block::Block;

const SHARDS: usize = 16;

/// (file number, block offset)
type BlockId = (u64, u64);

#[derive(Debug, Default)]
struct Shard {
    blocks: HashMap<BlockId, (Arc<Block>, u64)>,
    by_age: BTreeMap<u64, BlockId>,
    tick: u64,
    bytes: usize,
}

#[derive(Debug)]
pub struct BlockCache {
    shards: Vec<Mutex<Shard>>,
    shard_capacity: usize,
}

impl BlockCache {
    pub fn new(capacity_bytes: usize) -> BlockCache {
        BlockCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            shard_capacity: capacity_bytes / SHARDS,
        }
    }

    fn shard(&self, id: BlockId) -> &Mutex<Shard> {
        let mix = id.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (id.1 >> 6);
        &self.shards[(mix as usize) % SHARDS]
    }

    /// The cached block, marked as just used.
    pub fn get(&self, file: u64, offset: u64) -> Option<Arc<Block>> {
        let id = (file, offset);
        let mut shard = self
            .shard(id)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let shard = &mut *shard;
        shard.tick += 1;
        let tick = shard.tick;
        let (block, age) = shard.blocks.get_mut(&id)?;
        shard.by_age.remove(age);
        *age = tick;
        shard.by_age.insert(tick, id);
        Some(Arc::clone(block))
    }

    /// Adds a block, evicting the least recently used ones beyond capacity.
    pub fn insert(&self, file: u64, offset: u64, block: Arc<Block>) {
        if self.shard_capacity == 0 {
            return;
        }
        let id = (file, offset);
        let mut shard = self
            .shard(id)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let shard = &mut *shard;
        shard.tick += 1;
        let tick = shard.tick;
        shard.bytes += block.memory_bytes();
        if let Some((old, age)) = shard.blocks.insert(id, (block, tick)) {
            shard.by_age.remove(&age);
            shard.bytes -= old.memory_bytes();
        }
        shard.by_age.insert(tick, id);
        while shard.bytes > self.shard_capacity {
            let Some((_, victim)) = shard.by_age.pop_first() else {
                break;
            };
            if let Some((old, _)) = shard.blocks.remove(&victim) {
                shard.bytes -= old.memory_bytes();
            }
        }
    }
}
