//! The database: shared state, locks, and the public API.
//!
//! Locks, always taken in this order: `writer` (the single writer and its WAL), `flush_lock`,
//! `compaction_lock` (one job of each kind at a time), `versions` (the MANIFEST and the live
//! set of memtables and SSTs). Readers take none of them: they clone the current
//! [`SuperVersion`] and read the published sequence number, and keep both for the whole read.

mod background;
mod compaction;
mod flush;
mod invariants;
mod read;
mod recovery;
mod sequence;
mod signal;
mod write;

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;

use faultfs::{Fs, Lock};

use crate::batch::{Ops, WriteBatch, WriteOptions};
use crate::cache::BlockCache;
use crate::error::{Error, Result};
use crate::manifest::ManifestWriter;
use crate::memtable::Memtable;
use crate::options::Options;
use crate::sst::Table;
use crate::sst::fence::Fences;
use crate::version::{SstMeta, VersionState};
use crate::wal::WalWriter;

/// Locks a mutex; a panic in another holder does not make the state unusable here.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How the WAL writer runs with `options`: only catalogued defects (issue 6) change it.
pub(crate) fn wal_config(options: &Options) -> crate::wal::WalConfig {
    crate::wal::WalConfig {
        retry_failed_sync: bug!(options, FsyncRetried),
        overwrite_existing: bug!(options, FileNumbersFromManifestOnly),
    }
}

/// An open SST and the key range the MANIFEST records for it (which a trivial move to another
/// level keeps): shared, so publishing a version to readers copies no keys.
#[derive(Debug)]
pub(crate) struct LiveTable {
    pub smallest: Vec<u8>,
    pub largest: Vec<u8>,
    pub table: Arc<Table>,
}

impl LiveTable {
    pub fn new(meta: &SstMeta, table: Arc<Table>) -> Arc<LiveTable> {
        Arc::new(LiveTable {
            smallest: meta.smallest.clone(),
            largest: meta.largest.clone(),
            table,
        })
    }
}

/// What readers see: the memtables (newest first) and the SSTs of one version.
#[derive(Debug)]
pub(crate) struct SuperVersion {
    pub mems: Vec<Arc<Memtable>>,
    pub ssts: Arc<LiveLevels>,
}

/// The SSTs of one version as readers see them: shared by the super versions that differ only
/// in their memtables, so a memtable switch does not rebuild them.
#[derive(Debug)]
pub(crate) struct LiveLevels {
    pub levels: Vec<Vec<Arc<LiveTable>>>,
    /// Per level, the search view of its files' largest keys (used for levels past L0, whose
    /// files are sorted and disjoint).
    pub fences: Vec<Fences>,
    /// The [`Versions::generation`] these were built at (`None`: no version's).
    generation: Option<u64>,
}

impl LiveLevels {
    pub fn new(levels: Vec<Vec<Arc<LiveTable>>>, generation: Option<u64>) -> Self {
        let fences = levels
            .iter()
            .map(|level| Fences::new(level.len(), |i| &level[i].largest))
            .collect();
        LiveLevels {
            levels,
            fences,
            generation,
        }
    }
}

/// The single writer's state.
#[derive(Debug)]
pub(crate) struct Writer {
    pub active: Arc<Memtable>,
    pub wal: Option<WalWriter>,
    pub last_seq: u64,
}

/// The live set of memtables and SSTs, and the MANIFEST that records it.
#[derive(Debug)]
pub(crate) struct Versions {
    pub state: VersionState,
    pub tables: BTreeMap<u64, Arc<LiveTable>>,
    pub manifest: ManifestWriter,
    pub active: Arc<Memtable>,
    /// Frozen memtables waiting for a flush, newest first.
    pub imm: VecDeque<Arc<Memtable>>,
    pub next_file: u64,
    /// Counts installed edits, so the compaction thread knows when to look again.
    pub generation: u64,
}

impl Versions {
    pub fn alloc_file_number(&mut self) -> u64 {
        let n = self.next_file;
        self.next_file += 1;
        n
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub fs: Arc<dyn Fs>,
    pub dir: PathBuf,
    pub options: Options,
    pub cache: Arc<BlockCache>,
    pub writer: Mutex<Writer>,
    pub flush_lock: Mutex<()>,
    pub compaction_lock: Mutex<()>,
    pub versions: Mutex<Versions>,
    /// Wakes background threads: new work, poison, shutdown.
    pub work_cv: signal::Signal,
    /// Wakes stalled writers: a flush finished, poison, shutdown.
    pub done_cv: signal::Signal,
    pub sv: RwLock<Arc<SuperVersion>>,
    pub visible_seq: AtomicU64,
    pub poisoned: AtomicBool,
    pub poison_cause: Mutex<Option<String>>,
    pub closed: AtomicBool,
    pub shutdown: AtomicBool,
    pub dir_lock: Mutex<Option<Box<dyn Lock>>>,
}

impl Inner {
    /// Records the first write-path failure; every later write gets `Error::Poisoned`.
    /// Must not be called with `versions` held.
    pub fn poison(&self, err: Error) -> Error {
        if matches!(
            err,
            Error::Poisoned { .. } | Error::Closed | Error::InvalidArgument(_)
        ) {
            return err;
        }
        {
            let mut cause = lock(&self.poison_cause);
            if cause.is_none() {
                *cause = Some(err.to_string());
            }
        }
        self.poisoned.store(true, Ordering::SeqCst);
        // Taking the lock orders this wake-up after any waiter's check of the flag.
        drop(lock(&self.versions));
        self.work_cv.notify_all();
        self.done_cv.notify_all();
        err
    }

    /// Refuses writes once poisoned or closed.
    pub fn check_writable(&self) -> Result<()> {
        if self.poisoned.load(Ordering::SeqCst) {
            let cause = lock(&self.poison_cause).clone().unwrap_or_default();
            return Err(Error::Poisoned { cause });
        }
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    pub fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Publishes what readers see from the versions' current state.
    pub fn install_super_version(&self, v: &Versions) {
        let mut mems = Vec::with_capacity(v.imm.len() + 1);
        mems.push(Arc::clone(&v.active));
        mems.extend(v.imm.iter().cloned());
        // Every edit moves the generation on (the SSTs change only through edits, and every
        // install happens under the versions lock), so the published SSTs are still current
        // exactly when their generation is.
        let published = Arc::clone(&self.sv.read().unwrap_or_else(PoisonError::into_inner).ssts);
        let ssts = if published.generation == Some(v.generation) {
            published
        } else {
            let levels = v
                .state
                .levels
                .iter()
                .map(|level| {
                    level
                        .iter()
                        .filter_map(|m| v.tables.get(&m.number).map(Arc::clone))
                        .collect()
                })
                .collect();
            Arc::new(LiveLevels::new(levels, Some(v.generation)))
        };
        let sv = Arc::new(SuperVersion { mems, ssts });
        *self.sv.write().unwrap_or_else(PoisonError::into_inner) = sv;
    }

    pub fn inline(&self) -> bool {
        self.options.background == crate::options::Background::Inline
    }
}

/// An open database. `Send + Sync`: share it behind an `Arc`.
#[derive(Debug)]
pub struct Db {
    inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Db {
    /// Opens (recovering) or creates the database in `dir` on `fs`.
    pub fn open(fs: Arc<dyn Fs>, dir: impl AsRef<Path>, options: Options) -> Result<Db> {
        let inner = Arc::new(recovery::open(fs, dir.as_ref(), options)?);
        let threads = if inner.inline() {
            Vec::new()
        } else {
            background::spawn(&inner)?
        };
        Ok(Db {
            inner,
            threads: Mutex::new(threads),
        })
    }

    pub fn put(&self, key: &[u8], value: &[u8], wo: WriteOptions) -> Result<()> {
        self.inner.write_ops(Ops::One(key, Some(value)), wo)
    }

    pub fn delete(&self, key: &[u8], wo: WriteOptions) -> Result<()> {
        self.inner.write_ops(Ops::One(key, None), wo)
    }

    pub fn write(&self, batch: &WriteBatch, wo: WriteOptions) -> Result<()> {
        self.inner.write_ops(Ops::Batch(&batch.ops), wo)
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get(key)
    }

    /// The live key/value pairs in a range, in key order.
    pub fn scan(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.inner.scan(lower, upper)
    }

    /// Makes every acknowledged write durable (syncs the WAL; with the WAL off, flushes).
    pub fn sync(&self) -> Result<()> {
        self.inner.sync()
    }

    /// Flushes every memtable to SSTs and records them in the MANIFEST.
    pub fn flush(&self) -> Result<()> {
        self.inner.flush_all()
    }

    /// Compacts until no compaction is needed (at least one full pass).
    pub fn force_compact(&self) -> Result<()> {
        self.inner.force_compact()
    }

    /// Flushes, waits for background work, makes everything durable, releases the LOCK.
    pub fn close(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Ok(());
        }
        let result = self.inner.close_flush();
        self.inner.closed.store(true, Ordering::SeqCst);
        self.stop_threads();
        lock(&self.inner.dir_lock).take();
        result
    }

    /// Checks structural invariants after recovery: every file the MANIFEST names exists, no
    /// unreferenced file is left, level invariants hold, the next file number is above every
    /// number on disk.
    pub fn check_invariants(&self) -> Result<()> {
        self.inner.check_invariants()
    }

    /// The number of SSTs in each level (for tests and tools).
    pub fn level_file_counts(&self) -> Vec<usize> {
        lock(&self.inner.versions)
            .state
            .levels
            .iter()
            .map(Vec::len)
            .collect()
    }

    /// The directory this database lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    fn stop_threads(&self) {
        {
            let _v = lock(&self.inner.versions);
            self.inner.shutdown.store(true, Ordering::SeqCst);
        }
        self.inner.work_cv.notify_all();
        self.inner.done_cv.notify_all();
        for handle in lock(&self.threads).drain(..) {
            // A background thread that panicked has nothing left to clean up.
            let _ = handle.join();
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // Without close() nothing more is made durable: stop the threads and release the LOCK.
        self.stop_threads();
        lock(&self.inner.dir_lock).take();
    }
}
