//! journal-store: a small key-value store kept as an append-only journal plus a full snapshot,
//! written against `faultfs::Fs` so Powercut can cut its power.
//!
//! Files in the store's directory:
//!
//! - `kv.journal`: checksummed, length-prefixed batch records (see [`codec`]), appended by every
//!   write. A durability point (a synced write, `sync`, `close`) fsyncs the journal, pads it to
//!   a sector edge, appends two sector-sized commit records and fsyncs again, so the newest
//!   durable batch is always followed by durable records, in two sectors holding none of its
//!   bytes, that vouch for it: damage to it is told apart from a torn tail even when one of
//!   those sectors is damaged as well.
//! - `kv.snapshot`: the whole state as of some batch number, written as `kv.snapshot.tmp`,
//!   synced, read back, renamed into place and the directory synced; only then is the journal
//!   cut to zero (and synced). Records at or below the snapshot's batch number are skipped on
//!   replay, so a journal whose reset was lost replays harmlessly.
//! - `kv.lock`: the exclusive lock.
//!
//! Recovery reads the snapshot, replays the journal and stops at the first bad record. A bad
//! record with a later valid record whose `synced_upto` lies past it sits in bytes that were
//! durable: that is damage, refused as [`StoreError::Damaged`] naming the journal. Otherwise it
//! is a torn or reordered unsynced tail, cut off (and the cut synced) before the store goes on.
//!
//! Any I/O error that is not a power cut poisons the store: every later write, sync, flush,
//! compact or close answers [`StoreError::Poisoned`] until it is reopened. A failed fsync is
//! never retried.

pub mod codec;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use powercut::faultfs::{AppendWriter, FaultClass, FileKind, Fs, Lock, Phase};
use powercut::rand::RngExt;
use powercut::{ChaCha8Rng, Durability, Env, Mutation, Pairs, Store, StoreError};
use serde::{Deserialize, Serialize};

use codec::{KIND_BATCH, KIND_COMMIT, KIND_PAD, MIN_RECORD, Op, Record, SECTOR};

/// Sector-sized commit records written at each durability point: the newest durable batch stays
/// provably durable even when this many sectors are damaged, one of them its own.
const VOUCHES: u64 = 2;

/// The journal's file name.
pub const JOURNAL: &str = "kv.journal";
/// The snapshot's file name.
pub const SNAPSHOT: &str = "kv.snapshot";
/// Where a new snapshot is written before it is renamed into place.
pub const SNAPSHOT_TMP: &str = "kv.snapshot.tmp";
/// The lock file's name.
pub const LOCK: &str = "kv.lock";

/// The store's one knob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JournalConfig {
    /// Once the journal holds at least this many bytes, the next write first folds it into a
    /// new snapshot (0: only `flush` and `compact` write snapshots).
    pub snapshot_after_bytes: u64,
    /// Fold a non-empty journal into a snapshot at every open, so the journal only ever holds
    /// batches written since the last open. Off by default and never drawn by a seed: the
    /// store is correct without it. Switching it on (`--config '{"checkpoint_on_open":true}'`)
    /// shows that the truncation verdicts recorded in `byo/FINDINGS.md` are only about batches
    /// written before the last open.
    pub checkpoint_on_open: bool,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            snapshot_after_bytes: 4096,
            checkpoint_on_open: false,
        }
    }
}

/// Whether the store may still be used.
#[derive(Clone, Debug)]
enum Health {
    Ok,
    /// An I/O error (or damage found while running) happened: refuse until reopened.
    Poisoned(String),
    /// The simulated power went: every call keeps failing as power loss.
    PowerLost(String),
    Closed,
}

/// The store. `DIR_SYNC = false` is the deliberately broken variant that never syncs the
/// directory after creating the journal ([`NoDirSync`]).
#[derive(Debug)]
pub struct JournalStore<const DIR_SYNC: bool = true> {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    config: JournalConfig,
    /// The journal's writer; `None` only while it is being swapped during a reset.
    journal: Option<AppendWriter>,
    /// Journal offset up to which everything is known durable (end of the last good fsync).
    synced: u64,
    /// Bytes were appended to the journal since the last durability point.
    dirty: bool,
    /// Number of the last batch applied (snapshot and journal share the numbering).
    last_seq: u64,
    /// Number of the last batch appended to the journal (ahead of `last_seq` while a write is
    /// being made durable).
    logged_seq: u64,
    /// The journal is empty and the snapshot holds the whole state.
    folded: bool,
    state: BTreeMap<Vec<u8>, Vec<u8>>,
    health: Health,
    _lock: Box<dyn Lock>,
}

/// The correct store.
pub type Correct = JournalStore<true>;
/// The store with the missing directory sync.
pub type NoDirSync = JournalStore<false>;

fn io_err(path: &Path, e: &std::io::Error) -> StoreError {
    StoreError::from_io_at(path, e)
}

fn damaged(path: &Path, detail: impl Into<String>) -> StoreError {
    StoreError::Damaged {
        file: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// What replaying the journal's bytes found.
struct Replay {
    batches: Vec<Record>,
    /// Where the valid records end (a torn tail, if any, starts here).
    valid_end: usize,
    /// The journal is empty or ends with [`VOUCHES`] sector-aligned commit records, so every
    /// batch in it is vouched for from sectors of their own.
    ends_vouched: bool,
}

/// Scans journal bytes: whole records up to the first bad one, which is cut as a torn tail
/// unless a later valid record proves it was durable (then: damage).
fn scan_journal(buf: &[u8], path: &Path) -> Result<Replay, StoreError> {
    let mut pos = 0usize;
    let mut batches: Vec<Record> = Vec::new();
    let mut trailing_vouches = 0u64;
    while pos < buf.len() {
        match codec::decode_record_at(buf, pos) {
            Some((rec, next)) => {
                if rec.synced_upto > pos as u64 {
                    return Err(damaged(
                        path,
                        format!(
                            "record at offset {pos} claims {} bytes were durable before it",
                            rec.synced_upto
                        ),
                    ));
                }
                let vouch = rec.kind == KIND_COMMIT
                    && (pos as u64).is_multiple_of(SECTOR)
                    && (next - pos) as u64 == SECTOR;
                trailing_vouches = if vouch { trailing_vouches + 1 } else { 0 };
                if rec.kind == KIND_BATCH {
                    if let Some(prev) = batches.last()
                        && rec.seq != prev.seq + 1
                    {
                        return Err(damaged(
                            path,
                            format!(
                                "batch {} at offset {pos} follows batch {}",
                                rec.seq, prev.seq
                            ),
                        ));
                    }
                    batches.push(rec);
                }
                pos = next;
            }
            None => {
                // Torn tail, or damage? Only a record written after an fsync that covered
                // `pos` can tell: look for one anywhere further on.
                for q in pos + 1..buf.len() {
                    if let Some((later, _)) = codec::decode_record_at(buf, q)
                        && later.synced_upto > pos as u64
                    {
                        return Err(damaged(
                            path,
                            format!(
                                "bad record at offset {pos}, but the valid record at offset {q} \
                                 says the journal was durable up to {}",
                                later.synced_upto
                            ),
                        ));
                    }
                }
                break;
            }
        }
    }
    Ok(Replay {
        batches,
        valid_end: pos,
        ends_vouched: pos == 0 || trailing_vouches >= VOUCHES,
    })
}

fn apply_ops(state: &mut BTreeMap<Vec<u8>, Vec<u8>>, ops: &[Op]) {
    for op in ops {
        match op {
            Op::Put(k, v) => {
                state.insert(k.clone(), v.clone());
            }
            Op::Delete(k) => {
                state.remove(k);
            }
        }
    }
}

impl<const DIR_SYNC: bool> JournalStore<DIR_SYNC> {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn writer(&self) -> &AppendWriter {
        self.journal.as_ref().expect("journal writer present")
    }

    /// Fails when the store may not write.
    fn usable(&self) -> Result<(), StoreError> {
        match &self.health {
            Health::Ok => Ok(()),
            Health::Poisoned(m) => Err(StoreError::Poisoned(m.clone())),
            Health::PowerLost(m) => Err(StoreError::PowerLoss(m.clone())),
            Health::Closed => Err(StoreError::Other("the store is closed".into())),
        }
    }

    /// Latches `e` (power loss as power loss, anything else as poison) and hands it back.
    fn latch(&mut self, e: StoreError) -> StoreError {
        if matches!(self.health, Health::Ok) {
            self.health = match &e {
                StoreError::PowerLoss(m) => Health::PowerLost(m.clone()),
                other => Health::Poisoned(other.to_string()),
            };
        }
        e
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        use std::io::Write;
        let path = self.path(JOURNAL);
        let w = self.journal.as_mut().expect("journal writer present");
        match w.write_all(bytes) {
            Ok(()) => {
                self.dirty = true;
                self.folded = false;
                Ok(())
            }
            Err(e) => Err(self.latch(io_err(&path, &e))),
        }
    }

    fn sync_journal(&mut self) -> Result<(), StoreError> {
        let path = self.path(JOURNAL);
        match self.writer().sync() {
            Ok(()) => {
                self.synced = self.writer().position();
                Ok(())
            }
            Err(e) => Err(self.latch(io_err(&path, &e))),
        }
    }

    /// fsync, then [`VOUCHES`] sector-sized commit records (after a pad up to a sector edge)
    /// vouching for what the fsync covered, then fsync again. On return every appended byte is
    /// durable, and its durability is recorded in sectors that hold no batch bytes: damage to
    /// the batches is told apart from a torn tail as long as one of those sectors survives.
    fn make_durable(&mut self) -> Result<(), StoreError> {
        if !self.dirty {
            return Ok(());
        }
        self.sync_journal()?;
        let pos = self.writer().position();
        let mut gap = (SECTOR - pos % SECTOR) % SECTOR;
        if gap != 0 && gap < MIN_RECORD {
            gap += SECTOR;
        }
        let mut tail = Vec::with_capacity((gap + VOUCHES * SECTOR) as usize);
        if gap != 0 {
            tail.extend(codec::encode_filler(KIND_PAD, gap, 0, self.synced));
        }
        for _ in 0..VOUCHES {
            tail.extend(codec::encode_filler(
                KIND_COMMIT,
                SECTOR,
                self.logged_seq,
                self.synced,
            ));
        }
        self.append(&tail)?;
        self.sync_journal()?;
        self.dirty = false;
        Ok(())
    }

    /// Writes the whole state as a new snapshot and empties the journal.
    fn snapshot(&mut self, phase: Phase) -> Result<(), StoreError> {
        if self.folded {
            return Ok(());
        }
        self.fs.set_phase(phase);
        let r = self.snapshot_inner();
        self.fs.set_phase(Phase::Write);
        r.map_err(|e| self.latch(e))
    }

    fn snapshot_inner(&mut self) -> Result<(), StoreError> {
        let tmp = self.path(SNAPSHOT_TMP);
        let dst = self.path(SNAPSHOT);
        let bytes = codec::encode_snapshot(self.last_seq, &self.state);
        {
            let f = self
                .fs
                .create_or_truncate(&tmp)
                .map_err(|e| io_err(&tmp, &e))?;
            f.write_at(0, &bytes).map_err(|e| io_err(&tmp, &e))?;
            f.sync().map_err(|e| io_err(&tmp, &e))?;
            // A write that landed somewhere else reads back wrong; better to stop now than to
            // rename it over the last good snapshot and empty the journal.
            let back = f.read_to_end().map_err(|e| io_err(&tmp, &e))?;
            if back != bytes {
                return Err(StoreError::Io(format!(
                    "{}: read back differs from what was written",
                    tmp.display()
                )));
            }
        }
        self.fs.rename(&tmp, &dst).map_err(|e| io_err(&tmp, &e))?;
        self.fs
            .sync_dir(&self.dir)
            .map_err(|e| io_err(&self.dir, &e))?;
        // The snapshot is durable under its name: the journal's records are redundant now.
        let jpath = self.path(JOURNAL);
        let file = self
            .journal
            .take()
            .expect("journal writer present")
            .into_inner();
        let r = file.set_len(0).and_then(|()| file.sync());
        self.journal = Some(AppendWriter::at(file, 0));
        r.map_err(|e| io_err(&jpath, &e))?;
        self.synced = 0;
        self.dirty = false;
        self.folded = true;
        Ok(())
    }

    fn open_inner(env: &Env, config: &JournalConfig) -> Result<Self, StoreError> {
        let fs = env.fs.clone();
        let dir = env.dir.clone();
        if !fs.exists(&dir).map_err(|e| io_err(&dir, &e))? {
            fs.create_dir_all(&dir).map_err(|e| io_err(&dir, &e))?;
            let parent = dir.parent().unwrap_or(Path::new(""));
            fs.sync_dir(parent).map_err(|e| io_err(parent, &e))?;
        }
        let lock = fs
            .lock(&dir.join(LOCK))
            .map_err(|e| io_err(&dir.join(LOCK), &e))?;
        let names = fs.list(&dir).map_err(|e| io_err(&dir, &e))?;
        let has = |n: &str| names.iter().any(|x| x == n);
        let jpath = dir.join(JOURNAL);
        let spath = dir.join(SNAPSHOT);
        let tpath = dir.join(SNAPSHOT_TMP);
        let fresh = !has(JOURNAL) && !has(SNAPSHOT);
        fs.set_phase(if fresh {
            Phase::Create
        } else {
            Phase::Recovery
        });

        let (snap_seq, mut state) = if has(SNAPSHOT) {
            let f = fs.open(&spath).map_err(|e| io_err(&spath, &e))?;
            let buf = f.read_to_end().map_err(|e| io_err(&spath, &e))?;
            codec::decode_snapshot(&buf).map_err(|d| damaged(&spath, d))?
        } else {
            (0, BTreeMap::new())
        };

        let mut last_seq = snap_seq;
        let (file, valid_end, vouched) = if has(JOURNAL) {
            let file = fs.open(&jpath).map_err(|e| io_err(&jpath, &e))?;
            let buf = file.read_to_end().map_err(|e| io_err(&jpath, &e))?;
            let replay = scan_journal(&buf, &jpath)?;
            // A journal whose batches the snapshot already holds is one whose reset was lost to
            // a power cut: all of it is stale (nothing is appended before the reset is durable),
            // and it is emptied before anything new goes after it.
            let stale = replay.batches.first().is_some_and(|r| r.seq <= snap_seq);
            if stale && replay.batches.last().is_some_and(|r| r.seq > snap_seq) {
                return Err(damaged(
                    &jpath,
                    format!(
                        "holds batches {}..={} across the snapshot's batch {snap_seq}",
                        replay.batches[0].seq,
                        replay.batches[replay.batches.len() - 1].seq
                    ),
                ));
            }
            for rec in &replay.batches {
                if rec.seq <= snap_seq {
                    continue;
                }
                if rec.seq != last_seq + 1 {
                    return Err(damaged(
                        &jpath,
                        format!(
                            "batch {} follows batch {last_seq} (snapshot at {snap_seq})",
                            rec.seq
                        ),
                    ));
                }
                apply_ops(&mut state, &rec.ops);
                last_seq = rec.seq;
            }
            let keep = if stale { 0 } else { replay.valid_end };
            if keep < buf.len() {
                // Cut the torn tail (or the stale journal) for good before anything is appended.
                file.set_len(keep as u64).map_err(|e| io_err(&jpath, &e))?;
            }
            (file, keep as u64, stale || replay.ends_vouched)
        } else if has(SNAPSHOT) {
            return Err(damaged(
                &jpath,
                "missing, though a snapshot exists (the journal outlives every snapshot)",
            ));
        } else {
            let file = fs.create(&jpath).map_err(|e| io_err(&jpath, &e))?;
            if DIR_SYNC {
                fs.sync_dir(&dir).map_err(|e| io_err(&dir, &e))?;
            }
            (file, 0, true)
        };
        // What was recovered is durable from here on (a torn cut included).
        file.sync().map_err(|e| io_err(&jpath, &e))?;
        if has(SNAPSHOT_TMP) {
            // An interrupted snapshot; the old one (or the journal) still has everything.
            fs.remove(&tpath).map_err(|e| io_err(&tpath, &e))?;
        }

        let mut store = JournalStore {
            fs: fs.clone(),
            dir,
            config: config.clone(),
            journal: Some(AppendWriter::at(file, valid_end)),
            synced: valid_end,
            dirty: !vouched,
            last_seq,
            logged_seq: last_seq,
            folded: valid_end == 0 && has(SNAPSHOT),
            state,
            health: Health::Ok,
            _lock: lock,
        };
        // Make sure the newest recovered batch is vouched for by a durable commit record, so
        // later damage to it is told apart from a torn tail.
        store.make_durable()?;
        if config.checkpoint_on_open && last_seq > snap_seq {
            store.snapshot(Phase::Recovery)?;
        }
        fs.set_phase(Phase::Write);
        Ok(store)
    }
}

impl<const DIR_SYNC: bool> Store for JournalStore<DIR_SYNC> {
    type Config = JournalConfig;

    fn name() -> &'static str {
        if DIR_SYNC {
            "journal-store"
        } else {
            "journal-store-nodirsync"
        }
    }

    fn file_kind(path: &Path) -> FileKind {
        match path.file_name().and_then(|n| n.to_str()) {
            Some(JOURNAL) => FileKind::Log,
            Some(SNAPSHOT) | Some(SNAPSHOT_TMP) => FileKind::Data,
            _ => FileKind::Other,
        }
    }

    fn file_roles(_config: &JournalConfig) -> Option<Vec<FileKind>> {
        Some(vec![FileKind::Log, FileKind::Data])
    }

    fn durability(_config: &JournalConfig) -> Durability {
        Durability::WAL
    }

    fn draw_config(rng: &mut ChaCha8Rng) -> JournalConfig {
        const CHOICES: [u64; 4] = [0, 512, 4096, 32 * 1024];
        JournalConfig {
            snapshot_after_bytes: CHOICES[rng.random_range(0..CHOICES.len())],
            checkpoint_on_open: false,
        }
    }

    fn unreachable_faults(_config: &JournalConfig) -> Vec<(FaultClass, &'static str)> {
        Vec::new()
    }

    fn open(env: &Env, config: &JournalConfig) -> Result<Self, StoreError> {
        let r = Self::open_inner(env, config);
        if r.is_err() {
            env.fs.set_phase(Phase::Write);
        }
        r
    }

    fn write(&mut self, batch: &[Mutation], sync: bool) -> Result<(), StoreError> {
        self.usable()?;
        let limit = self.config.snapshot_after_bytes;
        if limit > 0 && self.writer().position() >= limit {
            self.snapshot(Phase::Flush)?;
        }
        let seq = self.last_seq + 1;
        let rec = codec::encode_record(KIND_BATCH, seq, self.synced, batch);
        self.append(&rec)?;
        self.logged_seq = seq;
        if sync {
            self.make_durable()?;
        }
        // Only now, with the record accepted (and synced when asked), may reads see it.
        for m in batch {
            match m {
                Mutation::Put { key, value } => {
                    self.state
                        .insert(key.as_bytes().to_vec(), value.as_bytes().to_vec());
                }
                Mutation::Delete { key } => {
                    self.state.remove(key.as_bytes());
                }
            }
        }
        self.last_seq = seq;
        Ok(())
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Health::PowerLost(m) = &self.health {
            return Err(StoreError::PowerLoss(m.clone()));
        }
        Ok(self.state.get(key).cloned())
    }

    fn scan(&mut self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<Pairs, StoreError> {
        if let Health::PowerLost(m) = &self.health {
            return Err(StoreError::PowerLoss(m.clone()));
        }
        Ok(self
            .state
            .range::<[u8], _>((lower, upper))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        self.usable()?;
        self.make_durable()
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.usable()?;
        self.snapshot(Phase::Flush)
    }

    fn compact(&mut self) -> Result<(), StoreError> {
        self.usable()?;
        self.snapshot(Phase::Compaction)
    }

    fn close(&mut self) -> Result<(), StoreError> {
        self.usable()?;
        self.make_durable()?;
        self.health = Health::Closed;
        Ok(())
    }

    fn check_invariants(&mut self) -> Result<(), StoreError> {
        let names = self.fs.list(&self.dir).map_err(|e| io_err(&self.dir, &e))?;
        if !names.iter().any(|n| n == JOURNAL) {
            return Err(StoreError::Other(format!("{JOURNAL} is missing")));
        }
        for n in &names {
            if ![JOURNAL, SNAPSHOT, LOCK].contains(&n.as_str()) {
                return Err(StoreError::Other(format!(
                    "unexpected file {n} after recovery"
                )));
            }
        }
        let len = self
            .writer()
            .file()
            .len()
            .map_err(|e| io_err(&self.path(JOURNAL), &e))?;
        if len != self.writer().position() {
            return Err(StoreError::Other(format!(
                "{JOURNAL} is {len} bytes but the writer is at {}",
                self.writer().position()
            )));
        }
        Ok(())
    }
}
