//! The block cache: verified SST data blocks shared by all readers, evicted by CLOCK (second
//! chance), an approximation of least-recently-used that makes a hit cost one flag store.
//!
//! Eviction order depends only on the order of lookups (no clock time, no hash-map iteration),
//! so a single-threaded simulated run reads the same blocks from disk every time.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

use crate::sst::block::Block;

const SHARDS: usize = 16;

/// (file number, block offset)
type BlockId = (u64, u64);

/// A fixed, fast hash for block ids (SipHash's flood resistance buys nothing here).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

struct Slot {
    block: Arc<Block>,
    referenced: bool,
}

#[derive(Default)]
struct Shard {
    blocks: HashMap<BlockId, Slot, BuildHasherDefault<IdHasher>>,
    /// The clock hand walks this ring from the front.
    ring: VecDeque<BlockId>,
    bytes: usize,
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Shard {{ blocks: {}, bytes: {} }}",
            self.blocks.len(),
            self.bytes
        )
    }
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

    /// The cached block, marked as recently used.
    pub fn get(&self, file: u64, offset: u64) -> Option<Arc<Block>> {
        let id = (file, offset);
        let mut shard = self
            .shard(id)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let slot = shard.blocks.get_mut(&id)?;
        slot.referenced = true;
        Some(Arc::clone(&slot.block))
    }

    /// Adds a block, evicting blocks not used since the hand last passed them.
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
        shard.bytes += block.memory_bytes();
        let slot = Slot {
            block,
            referenced: false,
        };
        match shard.blocks.insert(id, slot) {
            Some(old) => shard.bytes -= old.block.memory_bytes(),
            None => shard.ring.push_back(id),
        }
        while shard.bytes > self.shard_capacity {
            let Some(victim) = shard.ring.pop_front() else {
                break;
            };
            let Some(slot) = shard.blocks.get_mut(&victim) else {
                continue;
            };
            if slot.referenced {
                slot.referenced = false;
                shard.ring.push_back(victim);
            } else if let Some(old) = shard.blocks.remove(&victim) {
                shard.bytes -= old.block.memory_bytes();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sst::block::BlockBuilder;

    fn block() -> Arc<Block> {
        let mut b = BlockBuilder::default();
        b.add(b"k", Some(&[0; 1000]));
        let mut out = Vec::new();
        b.finish_into(&mut out);
        Arc::new(Block::decode(out).unwrap())
    }

    #[test]
    fn cache_stays_within_capacity_and_keeps_used_blocks() {
        let cache = BlockCache::new(SHARDS * 4000);
        cache.insert(1, 0, block());
        for i in 0..200 {
            assert!(
                cache.get(1, 0).is_some(),
                "a block used all along was evicted at {i}"
            );
            cache.insert(2, i * 64, block());
        }
        let total: usize = cache.shards.iter().map(|s| s.lock().unwrap().bytes).sum();
        assert!(total <= SHARDS * 4000);
    }
}
