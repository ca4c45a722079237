//! Helpers shared by the test modules.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use faultfs::{Fs, SimFs};
use redb_store::{BatchOp, KvError, Pairs, RedbConfig, RedbKv};

/// The directory every simulated store lives in.
pub const DIR: &str = "db";

/// A put of `key` to `value`.
pub fn put(key: &str, value: &str) -> BatchOp {
    (key.as_bytes().to_vec(), Some(value.as_bytes().to_vec()))
}

/// A delete of `key`.
pub fn del(key: &str) -> BatchOp {
    (key.as_bytes().to_vec(), None)
}

/// Opens the store in [`DIR`] on a simulated disk.
pub fn open_sim(fs: &SimFs, config: &RedbConfig) -> Result<RedbKv, KvError> {
    let fs: Arc<dyn Fs> = Arc::new(fs.clone());
    RedbKv::open(fs, Path::new(DIR), config)
}

/// Every pair in the store.
pub fn all(kv: &RedbKv) -> Result<Pairs, KvError> {
    kv.scan(Bound::Unbounded, Bound::Unbounded)
}

/// Pairs from string literals, for comparisons.
pub fn pairs(items: &[(&str, &str)]) -> Pairs {
    items
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// The first nine bytes of every redb file ("redb" and five bytes that catch text-mode
/// mangling, as PNG's do), from redb's design document.
pub const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// Tells whether the store's database file starts with redb's magic number (false when the file
/// is missing or shorter than the magic number).
pub fn magic_intact(fs: &SimFs) -> bool {
    let Ok(file) = fs.open(&data_file()) else {
        return false;
    };
    let mut head = [0u8; REDB_MAGIC.len()];
    file.read_exact_at(0, &mut head).is_ok() && head == REDB_MAGIC
}

/// The database file of the store in [`DIR`].
pub fn data_file() -> std::path::PathBuf {
    Path::new(DIR).join(redb_store::DATA_FILE)
}

/// Finds `needle` in the live bytes of the store's file.
pub fn find_in_file(fs: &SimFs, needle: &[u8]) -> u64 {
    let file = fs.open(&data_file()).expect("open file");
    let bytes = file.read_to_end().expect("read");
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the value is in the file");
    at as u64
}
