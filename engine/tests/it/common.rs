//! Helpers shared by the integration tests.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use engine::{Background, Db, Options, WriteOptions};
use faultfs::{Fs, StdFs};

pub const DB: &str = "db";

pub const SYNC: WriteOptions = WriteOptions { sync: true };
pub const NOSYNC: WriteOptions = WriteOptions { sync: false };

/// Options small enough that a few hundred writes flush, compact and roll the MANIFEST over.
pub fn small_options() -> Options {
    Options {
        memtable_bytes: 2048,
        max_immutable_memtables: 2,
        block_bytes: 256,
        sst_target_bytes: 2048,
        bloom_bits_per_key: 10,
        block_cache_bytes: 1 << 16,
        l0_compaction_trigger: 2,
        level_size_ratio: 4,
        level1_bytes: 8192,
        levels: 4,
        manifest_rollover_bytes: 2048,
        background: Background::Inline,
        ..Options::default()
    }
}

/// A real directory that disappears with the test.
pub struct TestDir {
    pub tmp: tempfile::TempDir,
    pub fs: Arc<dyn Fs>,
}

impl TestDir {
    pub fn new() -> TestDir {
        let tmp = tempfile::tempdir().unwrap();
        let fs: Arc<dyn Fs> = Arc::new(StdFs::new(tmp.path()).unwrap());
        TestDir { tmp, fs }
    }

    /// Opens the database. A LOCK refused as held is retried for up to a second: the LOCK is an
    /// `flock` on an open file description, and a test in `cli.rs` that spawns a process while
    /// this test holds the LOCK gives the child a copy of that descriptor until its `exec`
    /// closes it, so a close-then-reopen here can briefly find the lock still held on a loaded
    /// machine. A lock that stays held (a second open of a live database) still fails.
    pub fn open(&self, options: Options) -> engine::Result<Db> {
        let mut tries = 0;
        loop {
            match Db::open(Arc::clone(&self.fs), DB, options.clone()) {
                Err(engine::Error::Io { ref source, .. })
                    if source.kind() == std::io::ErrorKind::WouldBlock && tries < 50 =>
                {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                result => return result,
            }
        }
    }

    /// The real path of a file in the database directory.
    pub fn real(&self, name: &str) -> PathBuf {
        self.tmp.path().join(DB).join(name)
    }

    /// Names in the database directory with a given suffix or prefix.
    pub fn names(&self, pred: impl Fn(&str) -> bool) -> Vec<String> {
        self.fs
            .list(Path::new(DB))
            .unwrap()
            .into_iter()
            .filter(|n| pred(n))
            .collect()
    }
}

pub fn key(i: u32) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

pub fn value(i: u32, round: u32) -> Vec<u8> {
    format!("value-{i}-{round}-{}", "x".repeat((i % 7) as usize * 5)).into_bytes()
}

pub fn all(db: &Db) -> Vec<(Vec<u8>, Vec<u8>)> {
    db.scan(Bound::Unbounded, Bound::Unbounded).unwrap()
}

/// Flips one byte of a real file.
pub fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}
