//! [`BufferedStore`]: a log store that is careful about power cuts but acknowledges writes it
//! still holds in user space, so a process kill loses them. The kill-test must catch it.
//!
//! Every write is one line of `log`, the write's mutations as a JSON array. A line without its
//! newline, or one that does not parse, is a torn tail: it ends the replay and is cut off at open,
//! so later appends do not run on from half a line. `log` is created and then its directory
//! synced, and `sync` hands the buffer to the file and fsyncs it, so after a power cut it keeps
//! every write the contract of DESIGN section 3 calls durable.
//!
//! Its bug: `write` without `sync` appends the line to an in-memory buffer and returns Ok; the
//! buffer reaches the file (the kernel's page cache) only every `flush_every` writes. A power cut
//! may lose unsynced writes anyway, so the simulated harness cannot object; a process kill keeps
//! the page cache, and a store that had handed each acknowledged write to the kernel would lose
//! none, but this one loses up to `flush_every - 1` acknowledged writes.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

use faultfs::File;

use crate::model::Mutation;
use crate::store::{Durability, Env, FileKind, Pairs, Store, StoreError};

/// How the buffered store behaves.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BufferedConfig {
    /// The buffer reaches the file after this many writes (or at a sync).
    pub flush_every: usize,
}

impl Default for BufferedConfig {
    fn default() -> Self {
        BufferedConfig { flush_every: 32 }
    }
}

/// An open buffered store.
#[derive(Debug)]
pub struct BufferedStore {
    file: Box<dyn File>,
    /// Bytes already handed to the file.
    len: u64,
    /// Lines acknowledged but not yet handed to the file.
    buffer: Vec<u8>,
    buffered_writes: usize,
    flush_every: usize,
    map: BTreeMap<Vec<u8>, Vec<u8>>,
}

fn io(context: &str) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::from_io(context, &e)
}

/// Replays the log: every complete line that parses, up to the first that does not. Returns the
/// state and the length of the valid prefix.
fn replay(bytes: &[u8]) -> (BTreeMap<Vec<u8>, Vec<u8>>, u64) {
    let mut map = BTreeMap::new();
    let mut valid = 0;
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        let Some(body) = line.strip_suffix(b"\n") else {
            break;
        };
        let Ok(mutations) = serde_json::from_slice::<Vec<Mutation>>(body) else {
            break;
        };
        for m in mutations {
            match m {
                Mutation::Put { key, value } => {
                    map.insert(key.into_bytes(), value.into_bytes());
                }
                Mutation::Delete { key } => {
                    map.remove(key.as_bytes());
                }
            }
        }
        valid += line.len() as u64;
    }
    (map, valid)
}

impl BufferedStore {
    /// Hands the buffered lines to the file: visible to other processes, not yet durable.
    fn write_buffer(&mut self) -> Result<(), StoreError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.file
            .write_at(self.len, &self.buffer)
            .map_err(io("append"))?;
        self.len += self.buffer.len() as u64;
        self.buffer.clear();
        self.buffered_writes = 0;
        Ok(())
    }
}

impl Store for BufferedStore {
    type Config = BufferedConfig;

    fn name() -> &'static str {
        "buffered"
    }

    fn file_kind(path: &Path) -> FileKind {
        if path.file_name().is_some_and(|n| n == "log") {
            FileKind::Log
        } else {
            FileKind::Other
        }
    }

    fn durability(_: &BufferedConfig) -> Durability {
        Durability::WAL
    }

    fn open(env: &Env, config: &BufferedConfig) -> Result<Self, StoreError> {
        let (fs, dir) = (&env.fs, &env.dir);
        fs.create_dir_all(dir).map_err(io("create dir"))?;
        let path = dir.join("log");
        let file = if fs.exists(&path).map_err(io("exists log"))? {
            fs.open(&path).map_err(io("open log"))?
        } else {
            let file = fs.create(&path).map_err(io("create log"))?;
            // Without this a power cut could drop the name `log`, and with it every synced write.
            fs.sync_dir(dir).map_err(io("sync dir"))?;
            file
        };
        let len = file.len().map_err(io("log length"))?;
        let mut bytes = vec![0; usize::try_from(len).unwrap_or(0)];
        file.read_exact_at(0, &mut bytes).map_err(io("read log"))?;
        let (map, valid) = replay(&bytes);
        if valid < len {
            // A write cut short (by a kill inside a multi-page write, or a power cut) left half a
            // line; appending after it would glue the next line to it and end every later replay
            // there, losing writes that were synced after this open.
            file.set_len(valid).map_err(io("cut torn tail"))?;
            // Without this a power cut could bring the torn tail back under the next appends.
            file.sync().map_err(io("sync after cut"))?;
        }
        Ok(BufferedStore {
            file,
            len: valid,
            buffer: Vec::new(),
            buffered_writes: 0,
            flush_every: config.flush_every.max(1),
            map,
        })
    }

    fn write(&mut self, batch: &[Mutation], sync: bool) -> Result<(), StoreError> {
        let line = serde_json::to_vec(batch).map_err(|e| StoreError::Other(e.to_string()))?;
        self.buffer.extend_from_slice(&line);
        self.buffer.push(b'\n');
        self.buffered_writes += 1;
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
        if sync {
            return self.sync();
        }
        // The bug: below `flush_every` the write is acknowledged from user space.
        if self.buffered_writes >= self.flush_every {
            self.write_buffer()?;
        }
        Ok(())
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
        self.write_buffer()?;
        // A power cut after this keeps every acknowledged write; the name was synced at create.
        self.file.sync().map_err(io("sync log"))
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.sync()
    }

    fn compact(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn close(&mut self) -> Result<(), StoreError> {
        self.sync()
    }

    fn check_invariants(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use faultfs::Fs;

    fn put(k: &str, v: &str) -> Mutation {
        Mutation::Put {
            key: k.into(),
            value: v.into(),
        }
    }

    fn reopen(fs: &Arc<dyn Fs>) -> BufferedStore {
        let env = Env {
            fs: fs.clone(),
            dir: "db".into(),
            background: crate::store::Background::Threads,
            assumptions: Default::default(),
        };
        BufferedStore::open(&env, &BufferedConfig { flush_every: 3 }).expect("open")
    }

    #[test]
    fn acknowledged_writes_stay_in_user_space_until_the_nth() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs: Arc<dyn Fs> = Arc::new(faultfs::StdFs::new(dir.path()).expect("fs"));
        let mut s = reopen(&fs);
        s.write(&[put("a", "1")], false).expect("write");
        s.write(&[put("b", "2")], false).expect("write");
        // Another process (the one that reopens after a kill) sees nothing yet.
        assert_eq!(reopen(&fs).get(b"a").expect("get"), None);
        s.write(&[put("c", "3")], false).expect("write");
        assert_eq!(reopen(&fs).get(b"c").expect("get"), Some(b"3".to_vec()));
    }

    #[test]
    fn sync_hands_the_buffer_to_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs: Arc<dyn Fs> = Arc::new(faultfs::StdFs::new(dir.path()).expect("fs"));
        let mut s = reopen(&fs);
        s.write(&[put("a", "1"), put("b", "2")], false)
            .expect("write");
        s.sync().expect("sync");
        let mut again = reopen(&fs);
        assert_eq!(again.get(b"b").expect("get"), Some(b"2".to_vec()));
    }

    #[test]
    fn a_torn_last_line_ends_the_replay() {
        let good = b"[{\"put\":{\"key\":\"a\",\"value\":\"1\"}}]\n";
        let (map, valid) = replay(&[good.as_slice(), b"[{\"put\":{\"key\":\"b\""].concat());
        assert_eq!(map.len(), 1);
        assert_eq!(valid, good.len() as u64);
        let delete = b"[{\"delete\":{\"key\":\"a\"}}]\n";
        let (map, valid) = replay(&[good.as_slice(), delete, b"\0\0\0\n[]\n"].concat());
        assert!(map.is_empty());
        assert_eq!(valid, (good.len() + delete.len()) as u64);
    }

    /// A kill inside a multi-page write leaves half a line; the next writes must not be glued
    /// to it, or every later replay stops there.
    #[test]
    fn writes_after_a_torn_tail_survive_the_next_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs: Arc<dyn Fs> = Arc::new(faultfs::StdFs::new(dir.path()).expect("fs"));
        let mut s = reopen(&fs);
        s.write(&[put("a", "1")], true).expect("write");
        let log = fs.open(Path::new("db/log")).expect("open log");
        let end = log.len().expect("len");
        log.write_at(end, b"[{\"put\":{\"ke").expect("tear");
        let mut s = reopen(&fs);
        s.write(&[put("b", "2")], true).expect("write");
        let mut again = reopen(&fs);
        assert_eq!(again.get(b"a").expect("get"), Some(b"1".to_vec()));
        assert_eq!(again.get(b"b").expect("get"), Some(b"2".to_vec()));
    }
}
