//! Helpers shared by the tests: opening a store on a simulated disk, reading it whole, and a
//! small workload with the state after each of its transactions.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use faultfs::SimFs;
use sqlite_store::{DeviceAssumptions, Journal, KvError, SqliteConfig, SqliteKv, Sync};

/// The directory every test store lives in.
pub const DIR: &str = "db";

pub type Contents = BTreeMap<String, String>;
pub type Batch = Vec<(String, Option<String>)>;

pub fn config(journal: Journal, synchronous: Sync) -> SqliteConfig {
    SqliteConfig {
        journal,
        synchronous,
        canary: None,
    }
}

pub fn open_sim(
    fs: &SimFs,
    config: &SqliteConfig,
    device: DeviceAssumptions,
) -> Result<SqliteKv, KvError> {
    SqliteKv::open(Arc::new(fs.clone()), Path::new(DIR), config, device)
}

pub fn contents(kv: &mut SqliteKv) -> Result<Contents, KvError> {
    Ok(kv
        .scan(Bound::Unbounded, Bound::Unbounded)?
        .into_iter()
        .collect())
}

pub fn put(key: &str, value: &str) -> (String, Option<String>) {
    (key.to_string(), Some(value.to_string()))
}

pub fn del(key: &str) -> (String, Option<String>) {
    (key.to_string(), None)
}

/// A workload of `n` transactions that overwrites, deletes, and now and then writes a value
/// larger than a page, so commits touch several pages (journal records, WAL frames, overflow
/// pages) and some free pages again.
pub fn workload(n: usize) -> Vec<Batch> {
    (0..n)
        .map(|i| {
            let mut batch = vec![put(&format!("k{}", i % 4), &format!("v{i}"))];
            if i % 3 == 2 {
                batch.push(put(&format!("big{}", i % 2), &"x".repeat(5000 + i)));
            }
            if i % 4 == 3 {
                batch.push(del(&format!("k{}", (i + 1) % 4)));
            }
            batch
        })
        .collect()
}

/// The contents after each prefix of `batches`: `states[j]` holds the first `j` applied.
pub fn states(batches: &[Batch]) -> Vec<Contents> {
    let mut out = vec![Contents::new()];
    let mut now = Contents::new();
    for batch in batches {
        for (k, v) in batch {
            match v {
                Some(v) => now.insert(k.clone(), v.clone()),
                None => now.remove(k),
            };
        }
        out.push(now.clone());
    }
    out
}
