//! [`RedbKv`]: a byte-keyed map in one redb table, on a [`faultfs::Fs`].

use std::fmt;
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use faultfs::Fs;
use redb::{Database, ReadableDatabase, TableDefinition};

use crate::backend::{FailureLatch, FaultfsBackend};
use crate::config::{CommitDurability, RedbConfig};
use crate::create::create_database;
use crate::error::{Classifier, KvError};

/// The database file inside the store's directory.
pub const DATA_FILE: &str = "data.redb";

/// The lock file that keeps a second `RedbKv` out of the directory. The backend implements none
/// of redb's byte-range locks (faultfs has no such thing), so this lock is the only guard.
pub const LOCK_FILE: &str = "LOCK";

/// The one table every key lives in.
const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");

/// The table as a read transaction sees it.
type Table = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

/// One change of a batch: a put (`Some(value)`) or a delete (`None`).
pub type BatchOp = (Vec<u8>, Option<Vec<u8>>);

/// Key/value pairs in key order.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// A key-value store over redb, whose file lives on a [`faultfs::Fs`].
pub struct RedbKv {
    db: Database,
    config: RedbConfig,
    file: PathBuf,
    latch: FailureLatch,
    // Held for the store's life; dropped after `db` (field order), so the directory stays
    // locked until redb has let go of the file.
    _lock: Box<dyn faultfs::Lock>,
}

impl fmt::Debug for RedbKv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbKv")
            .field("file", &self.file)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RedbKv {
    /// Opens the database in `dir/data.redb`, creating the directory and the database if
    /// missing.
    ///
    /// A new database is initialized under a temporary name and renamed into place (see
    /// [`crate::create`]), so `data.redb` always names a database redb finished initializing.
    /// An existing file goes through redb's own open: after an unclean shutdown redb repairs it
    /// (picks the newest valid commit slot and rebuilds the allocator state, verifying every
    /// checksum on the way, unless the last commit recorded its allocator state), and with
    /// [`RedbConfig::check_integrity_on_open`] it verifies it every time. A file redb refuses,
    /// or an empty one, is a [`KvError::Damaged`] naming the file.
    pub fn open(fs: Arc<dyn Fs>, dir: &Path, config: &RedbConfig) -> Result<RedbKv, KvError> {
        ensure_dir(&*fs, dir)?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = fs.lock(&lock_path).map_err(|e| lock_error(&lock_path, e))?;
        let file_path = dir.join(DATA_FILE);
        let exists = fs
            .exists(&file_path)
            .map_err(|e| KvError::from_fs(format!("looking for {}", file_path.display()), e))?;
        if !exists {
            create_database(&*fs, dir, config)?;
        }
        // Makes the file's name durable, on every open: an earlier process may have died
        // between the rename that published the file and the directory sync after it, and
        // without the sync a power cut after the first acknowledged synced write could take the
        // name away, and every write with it.
        if !config.skip_dir_sync {
            fs.sync_dir(dir)
                .map_err(|e| KvError::from_fs(format!("syncing directory {}", dir.display()), e))?;
        }
        let file = fs
            .open(&file_path)
            .map_err(|e| KvError::from_fs(format!("opening {}", file_path.display()), e))?;
        refuse_empty(&*file, &file_path)?;
        let backend = FaultfsBackend::new(file, &file_path);
        let latch = backend.latch();
        let classifier = Classifier {
            file: &file_path,
            latch: &latch,
        };
        let db = redb::Builder::new()
            .set_cache_size(config.cache_size_bytes)
            .set_check_integrity_on_open(config.check_integrity_on_open)
            // redb offers no open of a backend that refuses to initialize an empty file; the
            // file is not empty (checked above), so this only opens.
            .create_with_backend(backend)
            .map_err(|e| classifier.classify("opening the database", e))?;
        Ok(RedbKv {
            db,
            config: config.clone(),
            file: file_path,
            latch,
            _lock: lock,
        })
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &RedbConfig {
        &self.config
    }

    /// The database file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Applies `batch` in order as one write transaction: all of it survives a crash or none.
    ///
    /// With `sync` the commit uses [`RedbConfig::durable_writes`] (`Immediate` unless this is
    /// the canary) and is durable, with every earlier commit, when this returns Ok. Without it
    /// the commit uses `Durability::None`: visible to reads at once, durable only after a later
    /// durable commit or a clean close.
    pub fn write(&mut self, batch: &[BatchOp], sync: bool) -> Result<(), KvError> {
        let durability = if sync {
            self.config.durable_writes
        } else {
            CommitDurability::None
        };
        let ctx = "writing a batch";
        let txn = self.begin_write(ctx, durability)?;
        {
            let mut table = txn
                .open_table(TABLE)
                .map_err(|e| self.classifier().classify(ctx, e))?;
            for (key, value) in batch {
                let applied = match value {
                    Some(value) => table.insert(key.as_slice(), value.as_slice()).map(drop),
                    None => table.remove(key.as_slice()).map(drop),
                };
                applied.map_err(|e| self.classifier().classify(ctx, e))?;
            }
        }
        txn.commit().map_err(|e| self.classifier().classify(ctx, e))
    }

    /// Makes every committed write durable, by an empty commit with
    /// [`RedbConfig::durable_writes`]: redb persists a `Durability::None` commit when a later
    /// `Immediate` commit succeeds, and an empty one does (this crate's tests check it).
    pub fn sync(&mut self) -> Result<(), KvError> {
        let ctx = "syncing";
        let txn = self.begin_write(ctx, self.config.durable_writes)?;
        txn.commit().map_err(|e| self.classifier().classify(ctx, e))
    }

    /// The value of `key`, as of the last commit (durable or not).
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        let ctx = "reading a key";
        let Some(table) = self.read_table(ctx)? else {
            return Ok(None);
        };
        let value = table
            .get(key)
            .map_err(|e| self.classifier().classify(ctx, e))?;
        Ok(value.map(|guard| guard.value().to_vec()))
    }

    /// The pairs with keys between `lower` and `upper`, in key order.
    pub fn scan(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<Pairs, KvError> {
        let ctx = "scanning";
        if range_is_empty(lower, upper) {
            // Also keeps redb from seeing a range whose start is past its end.
            return Ok(Vec::new());
        }
        let Some(table) = self.read_table(ctx)? else {
            return Ok(Vec::new());
        };
        let range = table
            .range::<&[u8]>((lower, upper))
            .map_err(|e| self.classifier().classify(ctx, e))?;
        let mut pairs = Vec::new();
        for entry in range {
            let (key, value) = entry.map_err(|e| self.classifier().classify(ctx, e))?;
            pairs.push((key.value().to_vec(), value.value().to_vec()));
        }
        Ok(pairs)
    }

    /// Runs redb's compaction: relocates pages toward the start of the file and shrinks it.
    /// `Ok(true)` if anything moved.
    ///
    /// Each step is a two-phase `Immediate` commit, and the first one publishes every earlier
    /// non-durable commit, so a compaction that returns Ok has also made every write durable.
    pub fn compact(&mut self) -> Result<bool, KvError> {
        let classifier = Classifier {
            file: &self.file,
            latch: &self.latch,
        };
        self.db
            .compact()
            .map_err(|e| classifier.classify("compacting", e))
    }

    /// Runs redb's full integrity check: every committed page's checksum, and the allocator
    /// state rebuilt and compared. `Ok(true)` if the file was sound, `Ok(false)` if redb had to
    /// repair it, a [`KvError::Damaged`] if it could not.
    pub fn check_integrity(&mut self) -> Result<bool, KvError> {
        let classifier = Classifier {
            file: &self.file,
            latch: &self.latch,
        };
        self.db
            .check_integrity()
            .map_err(|e| classifier.classify("checking integrity", e))
    }

    /// Closes the database cleanly: redb makes pending non-durable commits durable and writes a
    /// header that needs no repair on the next open.
    pub fn close(self) -> Result<(), KvError> {
        let classifier = Classifier {
            file: &self.file,
            latch: &self.latch,
        };
        self.db
            .close()
            .map_err(|e| classifier.classify("closing the database", e))
    }

    fn classifier(&self) -> Classifier<'_> {
        Classifier {
            file: &self.file,
            latch: &self.latch,
        }
    }

    fn begin_write(
        &self,
        ctx: &str,
        durability: CommitDurability,
    ) -> Result<redb::WriteTransaction, KvError> {
        let mut txn = self
            .db
            .begin_write()
            .map_err(|e| self.classifier().classify(ctx, e))?;
        txn.set_durability(durability.to_redb())
            .map_err(|e| self.classifier().classify(ctx, e))?;
        txn.set_two_phase_commit(self.config.two_phase_commit);
        txn.set_quick_repair(self.config.quick_repair);
        Ok(txn)
    }

    /// The table in a fresh read transaction, or `None` before the first write created it.
    fn read_table(&self, ctx: &str) -> Result<Option<Table>, KvError> {
        let txn = self
            .db
            .begin_read()
            .map_err(|e| self.classifier().classify(ctx, e))?;
        match txn.open_table(TABLE) {
            Ok(table) => Ok(Some(table)),
            // The table is created by the first write, not by open, so that opening adds no
            // commit of its own to what a crash test sees.
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(self.classifier().classify(ctx, e)),
        }
    }
}

/// Tells whether no key can lie between the bounds.
fn range_is_empty(lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l > u,
        (Bound::Included(l), Bound::Excluded(u))
        | (Bound::Excluded(l), Bound::Included(u))
        | (Bound::Excluded(l), Bound::Excluded(u)) => l >= u,
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => false,
    }
}

/// Creates `dir` and its missing ancestors, each made durable in its parent.
fn ensure_dir(fs: &dyn Fs, dir: &Path) -> Result<(), KvError> {
    let exists = |path: &Path| {
        fs.exists(path)
            .map_err(|e| KvError::from_fs(format!("looking for {}", path.display()), e))
    };
    let mut missing = Vec::new();
    let mut cur = dir;
    while !cur.as_os_str().is_empty() && !exists(cur)? {
        missing.push(cur);
        match cur.parent() {
            Some(parent) => cur = parent,
            None => break,
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    fs.create_dir_all(dir)
        .map_err(|e| KvError::from_fs(format!("creating directory {}", dir.display()), e))?;
    for created in missing {
        let parent = created.parent().unwrap_or(Path::new(""));
        // Makes the new directory's entry durable. Without it a power cut after the first
        // acknowledged synced write could take the directory away, and the database with it.
        fs.sync_dir(parent)
            .map_err(|e| KvError::from_fs(format!("syncing directory {}", parent.display()), e))?;
    }
    Ok(())
}

/// Refuses an empty database file: the store never publishes one (see [`crate::create`]), so
/// its bytes were lost, and redb would initialize it afresh over the writes it held.
fn refuse_empty(file: &dyn faultfs::File, path: &Path) -> Result<(), KvError> {
    let len = file
        .len()
        .map_err(|e| KvError::from_fs(format!("reading the length of {}", path.display()), e))?;
    if len == 0 {
        return Err(KvError::Damaged {
            file: path.to_path_buf(),
            detail: "the database file is empty; it was complete when it got its name".to_string(),
        });
    }
    Ok(())
}

/// A lock held by someone else is a refusal, not an I/O failure.
fn lock_error(path: &Path, err: io::Error) -> KvError {
    if err.kind() == io::ErrorKind::WouldBlock {
        KvError::Other(format!(
            "the store is already open (lock {} is held): {err}",
            path.display()
        ))
    } else {
        KvError::from_fs(format!("locking {}", path.display()), err)
    }
}
