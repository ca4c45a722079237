//! [`CarelessStore`]: a small log-structured store with three classic crash bugs, which the
//! harness must catch. It doubles as the example of how to plug a store in (see
//! `harness/examples/careless_store.rs`).
//!
//! The store keeps every key in memory and appends each write to `log` as text lines,
//! `P\t<key>\t<value>\n` or `D\t<key>\n`. Its bugs:
//!
//! 1. It creates `log` and never syncs the directory, so after a power cut the file's name,
//!    and every write it held, can vanish even though `sync` returned Ok.
//! 2. It trusts a torn last line: a line cut short by the crash is read as a shorter value.
//! 3. It writes a batch as plain lines with no commit marker, so a torn append keeps part of a
//!    batch.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

use faultfs::File;

use crate::model::Mutation;
use crate::store::{Durability, Env, FileKind, Pairs, Store, StoreError};

/// The careless store has nothing to configure.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarelessConfig {}

/// An open careless store.
#[derive(Debug)]
pub struct CarelessStore {
    file: Box<dyn File>,
    len: u64,
    map: BTreeMap<Vec<u8>, Vec<u8>>,
}

fn io(context: &str) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::from_io(context, &e)
}

/// Replays log text into a map. A line that does not parse is skipped; a last line without its
/// newline is trusted as it is (bug 2).
fn replay(bytes: &[u8]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut map = BTreeMap::new();
    for line in bytes.split(|b| *b == b'\n') {
        let mut fields = line.splitn(3, |b| *b == b'\t');
        match (fields.next(), fields.next(), fields.next()) {
            (Some(b"P"), Some(k), Some(v)) => {
                map.insert(k.to_vec(), v.to_vec());
            }
            (Some(b"D"), Some(k), None) => {
                map.remove(k);
            }
            _ => {}
        }
    }
    map
}

impl Store for CarelessStore {
    type Config = CarelessConfig;

    fn name() -> &'static str {
        "careless"
    }

    /// Its one file, `log`, is its log; anything else (its directory) is other.
    fn file_kind(path: &Path) -> FileKind {
        if path.file_name().is_some_and(|n| n == "log") {
            FileKind::Log
        } else {
            FileKind::Other
        }
    }

    /// It promises the full contract, which is what makes its bugs violations.
    fn durability(_: &CarelessConfig) -> Durability {
        Durability::WAL
    }

    fn open(env: &Env, _: &CarelessConfig) -> Result<Self, StoreError> {
        let (fs, dir) = (&env.fs, &env.dir);
        fs.create_dir_all(dir).map_err(io("create dir"))?;
        let path = dir.join("log");
        let file = if fs.exists(&path).map_err(io("exists log"))? {
            fs.open(&path).map_err(io("open log"))?
        } else {
            // Bug 1: no sync_dir after this create, so the name is not durable.
            fs.create(&path).map_err(io("create log"))?
        };
        let len = file.len().map_err(io("log length"))?;
        let mut bytes = vec![0; usize::try_from(len).unwrap_or(0)];
        file.read_exact_at(0, &mut bytes).map_err(io("read log"))?;
        Ok(CarelessStore {
            file,
            len,
            map: replay(&bytes),
        })
    }

    fn write(&mut self, batch: &[Mutation], sync: bool) -> Result<(), StoreError> {
        let mut text = String::new();
        for m in batch {
            match m {
                Mutation::Put { key, value } => text.push_str(&format!("P\t{key}\t{value}\n")),
                Mutation::Delete { key } => text.push_str(&format!("D\t{key}\n")),
            }
        }
        self.file
            .write_at(self.len, text.as_bytes())
            .map_err(io("append"))?;
        self.len += text.len() as u64;
        for m in batch {
            match m {
                Mutation::Put { key, value } => {
                    self.map
                        .insert(key.as_bytes().to_vec(), value.as_bytes().to_vec());
                }
                Mutation::Delete { key } => {
                    self.map.remove(key.as_bytes());
                }
            }
        }
        if sync { self.sync() } else { Ok(()) }
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map.get(key).cloned())
    }

    fn scan(&mut self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<Pairs, StoreError> {
        let range = (lower.map(<[u8]>::to_vec), upper.map(<[u8]>::to_vec));
        Ok(self
            .map
            .range(range)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        // Syncs the data, which is right, but the name of `log` was never made durable.
        self.file.sync().map_err(io("sync log"))
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.sync()
    }

    fn close(&mut self) -> Result<(), StoreError> {
        self.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_trusted_as_a_shorter_value() {
        let map = replay(b"P\ta\tlong-value\nP\tb\tanother");
        assert_eq!(map.get(b"b".as_slice()), Some(&b"another".to_vec()));
        let map = replay(b"P\ta\t1\nD\ta\n\0\0\0");
        assert!(map.is_empty());
    }
}
