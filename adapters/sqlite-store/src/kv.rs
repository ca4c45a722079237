//! [`SqliteKv`]: one table `kv(key TEXT PRIMARY KEY, value TEXT)` in `dir/data.sqlite`, the layer
//! a harness adapter calls.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use faultfs::{Fs, Lock, Phase};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params_from_iter};

use crate::config::{Canary, DeviceAssumptions, Journal, SqliteConfig, Sync};
use crate::vfs::{VFS_NAME, VfsMount};
use crate::{KvError, Promise};

/// The database file's name inside the store's directory.
pub const DB_FILE: &str = "data.sqlite";
/// The lock file that keeps a second `SqliteKv` off the same directory. SQLite's own locks live
/// in one mount's memory, so two mounts of one disk would not see each other's.
pub const LOCK_FILE: &str = "data.sqlite.lock";

/// The schema. `WITHOUT ROWID` keeps each row in the primary-key b-tree, so a key costs one
/// tree, not two.
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY NOT NULL, \
                            value TEXT NOT NULL) WITHOUT ROWID";
const UPSERT: &str = "INSERT INTO kv (key, value) VALUES (?1, ?2) \
                      ON CONFLICT (key) DO UPDATE SET value = excluded.value";
const DELETE: &str = "DELETE FROM kv WHERE key = ?1";
const GET: &str = "SELECT value FROM kv WHERE key = ?1";

/// A key-value store on SQLite whose every file operation goes through a [`faultfs::Fs`].
#[derive(Debug)]
pub struct SqliteKv {
    // Field order is drop order: the connection closes (and releases its files) before the mount
    // goes, then the directory lock.
    conn: Option<Connection>,
    mount: VfsMount,
    _dir_lock: Box<dyn Lock>,
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    db_file: PathBuf,
    config: SqliteConfig,
    /// Set by an I/O error; the store refuses work until reopened.
    poisoned: Option<String>,
}

impl SqliteKv {
    /// Opens (recovering) or creates the store in `dir` on `fs`.
    ///
    /// Creating is crash-safe at every step: a missing or empty `data.sqlite` is a new database
    /// to SQLite, and a hot journal or WAL left by a cut during the first transactions is
    /// recovered like any other.
    pub fn open(
        fs: Arc<dyn Fs>,
        dir: &Path,
        config: &SqliteConfig,
        device: DeviceAssumptions,
    ) -> Result<SqliteKv, KvError> {
        // Label the work for the simulator's coverage: opening an existing database recovers it
        // (a hot journal or a WAL is replayed), opening none creates one.
        let exists = fs.exists(&dir.join(DB_FILE)).unwrap_or(true);
        fs.set_phase(if exists {
            Phase::Recovery
        } else {
            Phase::Create
        });
        let result = SqliteKv::open_inner(fs.clone(), dir, config, device);
        fs.set_phase(Phase::Write);
        result
    }

    fn open_inner(
        fs: Arc<dyn Fs>,
        dir: &Path,
        config: &SqliteConfig,
        device: DeviceAssumptions,
    ) -> Result<SqliteKv, KvError> {
        let dir = faultfs::confine(dir).map_err(|e| KvError::Other(e.to_string()))?;
        let mount = match config.canary {
            Some(Canary::VfsDropsSyncs) => VfsMount::new_dropping_syncs(fs.clone(), device)?,
            _ => VfsMount::new(fs.clone(), device)?,
        };
        make_dir_durable(&fs, &mount, &dir)?;
        let dir_lock = fs.lock(&dir.join(LOCK_FILE)).map_err(|e| {
            if e.kind() == std::io::ErrorKind::WouldBlock {
                KvError::Other(format!("the store is already open: {e}"))
            } else {
                KvError::from_io("locking the store directory", e)
            }
        })?;
        let db_file = dir.join(DB_FILE);
        // No SQLITE_OPEN_URI: a name is a name. NO_MUTEX: rusqlite's Connection is !Sync, so
        // SQLite's per-connection mutex would guard nothing.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let name = mount.sqlite_name(&db_file)?;
        let conn = Connection::open_with_flags_and_vfs(&name, flags, VFS_NAME)
            .map_err(|e| KvError::from_sqlite(&mount, &db_file, "opening the database", e))?;
        let mut kv = SqliteKv {
            conn: Some(conn),
            mount,
            _dir_lock: dir_lock,
            fs,
            dir,
            db_file,
            config: config.clone(),
            poisoned: None,
        };
        kv.configure()?;
        kv.execute("creating the table", |c| c.execute_batch(CREATE_TABLE))?;
        kv.verify_schema()?;
        // The unix VFS (and so SQLite) never syncs the directory for the database file itself,
        // only for journals. Without this a power cut could lose the name `data.sqlite` of a
        // database whose every page was synced, until some later journal's first sync.
        if kv.config.effective_synchronous() != Sync::Off {
            kv.sync_dir("making the database file's name durable")?;
        }
        Ok(kv)
    }

    /// Checks that the schema is exactly the one table this store creates.
    ///
    /// SQLite keeps its schema as SQL text in page 1 with no checksum, so damage there changes
    /// the table SQLite sees: a flipped bit in a column name makes every later statement fail
    /// with "no such column", one in the table's name lets `CREATE TABLE IF NOT EXISTS` add a
    /// second, empty `kv`. Either is damage to the database file, and is refused as such here
    /// rather than surfacing later as a failed statement or a store that lost every key.
    fn verify_schema(&mut self) -> Result<(), KvError> {
        let rows: Vec<(String, String, Option<String>)> =
            self.execute("reading the schema", |c| {
                let mut stmt = c.prepare("SELECT type, name, sql FROM sqlite_schema")?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.collect()
            })?;
        // SQLite stores the statement without its IF NOT EXISTS.
        let want = CREATE_TABLE.replacen("IF NOT EXISTS ", "", 1);
        match rows.as_slice() {
            [(kind, name, Some(sql))] if kind == "table" && name == "kv" && *sql == want => Ok(()),
            other => Err(KvError::Damaged {
                file: self.db_file.clone(),
                detail: format!("the schema is not the one table this store creates: {other:?}"),
            }),
        }
    }

    /// Applies the pragmas and checks that SQLite took them (it answers an impossible journal
    /// mode with the mode it kept, not with an error).
    fn configure(&mut self) -> Result<(), KvError> {
        let journal = self.config.journal;
        if journal == Journal::Wal {
            // Without shared memory SQLite allows WAL only while the connection holds the
            // database exclusively, and this must be in force before the first statement reads
            // the schema (most pragmas do).
            self.set_locking_mode("exclusive")?;
        }
        match self.apply_pragmas() {
            // The database is in WAL format (an earlier open ran Journal::Wal), which SQLite
            // refuses to read without shared memory unless locking is exclusive: convert it
            // while holding it exclusively, then return to normal locking, under which a
            // DELETE-mode commit deletes its journal (in exclusive mode SQLite would only zero
            // the journal's header). A power cut or an I/O error is not this case: those are
            // classified as such, not as `Other`.
            Err(KvError::Other(_)) if journal == Journal::Delete => {
                self.set_locking_mode("exclusive")?;
                self.apply_pragmas()?;
                self.set_locking_mode("normal")?;
            }
            other => other?,
        }
        let synchronous = self.config.effective_synchronous();
        let level: i64 = self.execute("reading back synchronous", |c| {
            one_row(c, "PRAGMA synchronous", |r| r.get(0))
        })?;
        if level != synchronous.level() {
            return Err(KvError::Other(format!(
                "SQLite runs synchronous={level} when asked for {}",
                synchronous.pragma()
            )));
        }
        Ok(())
    }

    fn apply_pragmas(&mut self) -> Result<(), KvError> {
        let journal = self.config.journal;
        let synchronous = self.config.effective_synchronous();
        self.execute("configuring SQLite", |c| {
            // Temporary tables, sorter spills and statement journals stay in memory: they never
            // survive a crash, so they have no place on the simulated disk. cell_size_check
            // turns more kinds of damage into SQLITE_CORRUPT instead of wrong answers.
            c.execute_batch("PRAGMA temp_store = MEMORY; PRAGMA cell_size_check = ON;")?;
            c.execute_batch(&format!("PRAGMA synchronous = {}", synchronous.pragma()))
        })?;
        let mode: String = self.execute("setting journal_mode", |c| {
            one_row(
                c,
                &format!("PRAGMA journal_mode = {}", journal.pragma()),
                |r| r.get(0),
            )
        })?;
        if mode != journal.pragma() {
            return Err(KvError::Other(format!(
                "SQLite kept journal_mode={mode} when asked for {}",
                journal.pragma()
            )));
        }
        Ok(())
    }

    fn set_locking_mode(&mut self, mode: &str) -> Result<(), KvError> {
        let got: String = self.execute("setting locking_mode", |c| {
            one_row(c, &format!("PRAGMA locking_mode = {mode}"), |r| r.get(0))
        })?;
        if got != mode {
            return Err(KvError::Other(format!(
                "SQLite kept locking_mode={got} when asked for {mode}"
            )));
        }
        Ok(())
    }

    /// Applies `batch` as one transaction (`None` deletes the key). With `sync_requested` it is
    /// durable, with everything before it, when this returns Ok (unless `synchronous=OFF`, which
    /// promises nothing; see [`SqliteConfig::promise`]).
    pub fn write(
        &mut self,
        batch: &[(String, Option<String>)],
        sync_requested: bool,
    ) -> Result<(), KvError> {
        self.execute("writing a batch", |c| {
            // IMMEDIATE takes the write lock at BEGIN, so the batch cannot fail half-way for
            // want of a lock.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut upsert = tx.prepare_cached(UPSERT)?;
                let mut delete = tx.prepare_cached(DELETE)?;
                for (key, value) in batch {
                    match value {
                        Some(value) => upsert.execute([key, value])?,
                        None => delete.execute([key])?,
                    };
                }
            }
            tx.commit()
        })?;
        if sync_requested && !self.config.promise().every_commit {
            self.sync()?;
        }
        Ok(())
    }

    /// Reads one key.
    pub fn get(&mut self, key: &str) -> Result<Option<String>, KvError> {
        self.execute("reading a key", |c| {
            c.prepare_cached(GET)?
                .query_row([key], |r| r.get(0))
                .optional()
        })
    }

    /// The pairs with keys in the range, in key order (byte order of the UTF-8 keys).
    pub fn scan(
        &mut self,
        lower: Bound<&str>,
        upper: Bound<&str>,
    ) -> Result<Vec<(String, String)>, KvError> {
        let mut sql = String::from("SELECT key, value FROM kv");
        let mut args: Vec<&str> = Vec::new();
        for (bound, inclusive, exclusive) in [(lower, ">=", ">"), (upper, "<=", "<")] {
            let (op, key) = match bound {
                Bound::Included(k) => (inclusive, k),
                Bound::Excluded(k) => (exclusive, k),
                Bound::Unbounded => continue,
            };
            sql.push_str(if args.is_empty() { " WHERE " } else { " AND " });
            args.push(key);
            sql.push_str(&format!("key {op} ?{}", args.len()));
        }
        sql.push_str(" ORDER BY key");
        self.execute("scanning", |c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(args.iter()), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect()
        })
    }

    /// Makes every committed write durable (under `synchronous=OFF` it runs the same steps, but
    /// SQLite syncs nothing, so it promises nothing).
    ///
    /// DELETE mode: every page of a commit is already synced; what a power cut can still undo is
    /// the deletion of the last commit's journal, which would bring the journal back and roll the
    /// commit back. Syncing the directory makes the deletion durable.
    ///
    /// WAL mode: `PRAGMA wal_checkpoint(FULL)` copies every committed frame into the database
    /// and, unless synchronous is OFF, syncs the WAL before and the database after. Once it
    /// reports every frame checkpointed, the database file alone holds every commit durably.
    pub fn sync(&mut self) -> Result<(), KvError> {
        match self.config.journal {
            Journal::Delete => self.sync_dir("syncing the directory"),
            Journal::Wal => {
                // A checkpoint moves the log into the data file: the simulator's "flush" phase.
                self.fs.set_phase(Phase::Flush);
                let result = self.checkpoint("FULL");
                self.fs.set_phase(Phase::Write);
                result
            }
        }
    }

    /// `PRAGMA wal_checkpoint(mode)` (FULL or TRUNCATE), which must copy every frame.
    fn checkpoint(&mut self, mode: &str) -> Result<(), KvError> {
        let sql = format!("PRAGMA wal_checkpoint({mode})");
        let (busy, log, done): (i64, i64, i64) = self.execute("checkpointing", |c| {
            one_row(c, &sql, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        })?;
        // The connection holds the database exclusively, so nothing can be busy and every frame
        // must be copied; anything else means the commits are not all in the database yet.
        if busy != 0 || log != done {
            return Err(KvError::Other(format!(
                "checkpoint left work: busy={busy}, frames in WAL={log}, checkpointed={done}"
            )));
        }
        Ok(())
    }

    /// Reorganizes the database: `VACUUM` rewrites it page by page into a fresh file image
    /// through the journal (or the WAL) in one transaction, and in WAL mode a truncating
    /// checkpoint then copies the WAL back and cuts it to zero bytes. Not a durability point by
    /// itself (under FULL and EXTRA every step is synced anyway); it exists so crashes land in
    /// SQLite's largest transactions and in a WAL truncation, which no ordinary commit makes.
    pub fn compact(&mut self) -> Result<(), KvError> {
        self.fs.set_phase(Phase::Compaction);
        let result = self.compact_inner();
        self.fs.set_phase(Phase::Write);
        result
    }

    fn compact_inner(&mut self) -> Result<(), KvError> {
        self.execute("vacuuming", |c| c.execute_batch("VACUUM"))?;
        if self.config.journal == Journal::Wal {
            self.checkpoint("TRUNCATE")?;
        }
        Ok(())
    }

    /// Makes everything durable ([`SqliteKv::sync`]) and closes the connection; the store refuses
    /// work afterwards. Syncing first matters: SQLite's own checkpoint at close reports no error.
    pub fn close(&mut self) -> Result<(), KvError> {
        self.sync()?;
        let conn = self
            .conn
            .take()
            .ok_or_else(|| KvError::Other("store is closed".into()))?;
        conn.close()
            .map_err(|(_conn, e)| KvError::from_sqlite(&self.mount, &self.db_file, "closing", e))?;
        // In WAL mode SQLite deletes the checkpointed WAL at close without syncing the
        // directory. Harmless (a WAL brought back by a cut only repeats what the database holds)
        // but untidy: make the deletion durable so a clean close leaves one file behind.
        if self.config.journal == Journal::Wal && self.config.effective_synchronous() != Sync::Off {
            self.sync_dir("making the WAL's deletion durable")?;
        }
        Ok(())
    }

    /// Runs `PRAGMA integrity_check`; findings are [`KvError::Damaged`].
    ///
    /// The check reports a page it could not read ("failed to get page N") as a finding, not as
    /// an error, so a failed read would pass for damage. Any I/O error the VFS saw during the
    /// check is therefore the answer instead: power loss, or an I/O error that poisons the
    /// store like any other.
    pub fn check_integrity(&mut self) -> Result<(), KvError> {
        let findings: Vec<String> = self.execute("checking integrity", |c| {
            let mut stmt = c.prepare("PRAGMA integrity_check")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })?;
        let seen = self.mount.take_errors();
        if let Some(source) = seen.power_loss {
            return Err(KvError::PowerLoss {
                context: "checking integrity".into(),
                source,
            });
        }
        if let Some(source) = seen.last {
            let err = KvError::Io {
                context: "checking integrity".into(),
                detail: format!(
                    "the check could not read every page: {}",
                    findings.join("; ")
                ),
                source: Some(source),
            };
            self.poison_on(&err);
            return Err(err);
        }
        if findings.len() == 1 && findings[0] == "ok" {
            return Ok(());
        }
        Err(KvError::Damaged {
            file: self.db_file.clone(),
            detail: findings.join("; "),
        })
    }

    /// The database file, relative to the file system's root.
    pub fn db_file(&self) -> &Path {
        &self.db_file
    }

    /// The configuration the store runs with.
    pub fn config(&self) -> &SqliteConfig {
        &self.config
    }

    /// What the configuration promises.
    pub fn promise(&self) -> Promise {
        self.config.promise()
    }

    /// The mount the store's connection runs on.
    pub fn mount(&self) -> &VfsMount {
        &self.mount
    }

    /// Runs `f` on the connection, classifying its error and poisoning the store on I/O errors.
    fn execute<T>(
        &mut self,
        context: &str,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, KvError> {
        if let Some(reason) = &self.poisoned {
            return Err(KvError::Poisoned(reason.clone()));
        }
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| KvError::Other("store is closed".into()))?;
        // Errors left over from calls SQLite recovered from by itself say nothing about this one.
        drop(self.mount.take_errors());
        f(conn).map_err(|e| {
            let err = KvError::from_sqlite(&self.mount, &self.db_file, context, e);
            self.poison_on(&err);
            err
        })
    }

    fn sync_dir(&mut self, context: &str) -> Result<(), KvError> {
        if let Some(reason) = &self.poisoned {
            return Err(KvError::Poisoned(reason.clone()));
        }
        self.mount.sync_dir(&self.dir).map_err(|e| {
            let err = KvError::from_io(context, e);
            self.poison_on(&err);
            err
        })
    }

    fn poison_on(&mut self, err: &KvError) {
        if let KvError::Io { .. } = err {
            self.poisoned = Some(err.to_string());
        }
    }

    /// The file system the store runs on.
    pub fn fs(&self) -> &Arc<dyn Fs> {
        &self.fs
    }
}

/// Runs a statement that answers with one row, and steps it to its end.
///
/// A statement that opened its own write transaction commits it only when it finishes, and an
/// error of that commit comes from the step after the last row. `query_row` never makes that
/// step, so the error is lost: `PRAGMA journal_mode = wal` answers "wal", then fails to commit
/// the header that switches the file to WAL (a failed fsync of its journal), and SQLite rolls it
/// back while the caller believes WAL is on. The gate found this (WAL + FULL seed 493 under
/// `fsync_mark_clean`): the store went on in rollback mode, unpoisoned after an I/O error.
fn one_row<T>(
    c: &Connection,
    sql: &str,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let mut stmt = c.prepare(sql)?;
    let mut rows = stmt.query([])?;
    let value = match rows.next()? {
        Some(row) => f(row)?,
        None => return Err(rusqlite::Error::QueryReturnedNoRows),
    };
    while rows.next()?.is_some() {}
    Ok(value)
}

/// Creates `dir` and makes its entry, and every ancestor's, durable: otherwise a power cut could
/// drop the directory with every synced file in it.
fn make_dir_durable(fs: &Arc<dyn Fs>, mount: &VfsMount, dir: &Path) -> Result<(), KvError> {
    fs.create_dir_all(dir)
        .map_err(|e| KvError::from_io("creating the store directory", e))?;
    for ancestor in dir.ancestors().skip(1) {
        mount
            .sync_dir(ancestor)
            .map_err(|e| KvError::from_io("syncing the store directory's parent", e))?;
    }
    Ok(())
}
