//! Flushing frozen memtables to L0 SSTs, logging edits, and rolling the MANIFEST over.

use std::path::Path;
use std::sync::Arc;

use faultfs::Fs;

use faultfs::Phase;

use super::{Inner, LiveTable, Versions, lock};
use crate::cache::BlockCache;
use crate::current;
use crate::error::{Error, IoContext, Result};
use crate::filename;
use crate::manifest::ManifestWriter;
use crate::memtable::Memtable;
use crate::options::Options;
use crate::sst::{SstBuilder, Table};
use crate::version::{SstMeta, VersionEdit};

impl Inner {
    /// Flushes frozen memtables, oldest first, until none is left.
    pub fn flush_immutables(&self) -> Result<()> {
        while self.flush_oldest()? {}
        Ok(())
    }

    /// Flushes the oldest frozen memtable; false if there is none.
    pub fn flush_oldest(&self) -> Result<bool> {
        let _job = lock(&self.flush_lock);
        if self.poisoned.load(std::sync::atomic::Ordering::SeqCst) {
            self.check_writable()?;
        }
        let (mem, number) = {
            let mut v = lock(&self.versions);
            let Some(mem) = v.imm.back().cloned() else {
                return Ok(false);
            };
            (mem, v.alloc_file_number())
        };
        self.fs.set_phase(Phase::Flush);
        let result = self.flush_memtable(&mem, number);
        self.fs.set_phase(Phase::Write);
        result.map_err(|e| self.poison(e))?;
        self.done_cv.notify_all();
        self.work_cv.notify_all();
        Ok(true)
    }

    fn flush_memtable(&self, mem: &Arc<Memtable>, number: u64) -> Result<()> {
        let wal = filename::wal_path(&self.dir, mem.number);
        let early_removal = self.options.wal && bug!(self.options, WalRemovedBeforeFlushDurable);
        if early_removal {
            self.fs.remove(&wal).ctx("removing WAL", &wal)?;
        }
        let mut added = Vec::new();
        let mut new_tables = Vec::new();
        if !mem.is_empty() {
            let (meta, table) = write_l0(
                &*self.fs,
                &self.dir,
                &self.options,
                &self.cache,
                mem,
                number,
                mem.number,
                true,
            )?;
            new_tables.push(LiveTable::new(&meta, table));
            added.push(meta);
        }
        let edit = VersionEdit {
            // Every WAL up to this memtable's is now covered by SSTs.
            log_number: Some(mem.number + 1),
            // And so is every write up to this memtable's newest (memtables flush oldest first);
            // the next WAL's records continue from there.
            last_sequence: (!mem.is_empty()).then(|| mem.last_seq()),
            added,
            ..Default::default()
        };
        {
            let mut v = lock(&self.versions);
            self.log_edit(&mut v, edit, new_tables, Phase::Flush)?;
            if v.imm.back().is_some_and(|m| Arc::ptr_eq(m, mem)) {
                v.imm.pop_back();
            }
            self.install_super_version(&v);
        }
        if self.options.wal && !early_removal {
            // Only now that the edit is durable may the WAL go. If the removal itself is lost in
            // a crash, recovery skips the WAL (below log_number) and removes it again.
            self.fs.remove(&wal).ctx("removing flushed WAL", &wal)?;
        }
        Ok(())
    }

    /// Appends an edit to the MANIFEST (durably), applies it, and rolls the MANIFEST over when
    /// it has grown past its limit. The caller installs the new super version.
    pub fn log_edit(
        &self,
        v: &mut Versions,
        mut edit: VersionEdit,
        new_tables: Vec<Arc<LiveTable>>,
        phase: Phase,
    ) -> Result<()> {
        edit.next_file_number = Some(v.next_file);
        let invalid = |reason| Error::Invariant(format!("edit does not apply: {reason}"));
        // Checked before it is logged; applied in place (no copy of the state) once logged.
        v.state.check_edit(&edit).map_err(invalid)?;
        v.manifest.append_edit(&edit, true)?;
        if bug!(self.options, EditBeforeSstSync) {
            // The defect syncs the new SSTs only after the edit that names them.
            for t in new_tables.iter().map(|live| &live.table) {
                let file = self.fs.open(t.path()).ctx("opening SST", t.path())?;
                file.sync().ctx("late sync of SST", t.path())?;
            }
        }
        // A trivial move removes and adds the same SST: keep its open table.
        let retired: Vec<u64> = edit
            .removed
            .iter()
            .filter(|r| !edit.added.iter().any(|m| m.number == r.number))
            .map(|r| r.number)
            .collect();
        v.state.apply_owned(edit).map_err(invalid)?;
        for number in retired {
            v.tables.remove(&number);
        }
        for t in new_tables {
            v.tables.insert(t.table.number, t);
        }
        v.generation += 1;
        if v.manifest.len() > self.options.manifest_rollover_bytes {
            self.fs.set_phase(Phase::Rollover);
            let result = self.roll_manifest(v);
            self.fs.set_phase(phase);
            result?;
        }
        Ok(())
    }

    /// Starts a new MANIFEST holding a snapshot, points CURRENT at it, removes the old one.
    pub fn roll_manifest(&self, v: &mut Versions) -> Result<()> {
        let number = v.alloc_file_number();
        // The snapshot records every number handed out so far. A running database reads its
        // state's next_file_number only to write it here, so it is set in place (no copy).
        v.state.next_file_number = v.next_file;
        let manifest = ManifestWriter::create(
            &*self.fs,
            &self.dir,
            number,
            &self.options,
            &v.state,
            !bug!(self.options, CurrentBeforeManifestDurable),
        )?;
        if !bug!(self.options, CurrentBeforeManifestDurable) {
            // Protects against CURRENT naming a MANIFEST whose own directory entry is lost.
            self.fs
                .sync_dir(&self.dir)
                .ctx("syncing directory after creating MANIFEST in", &self.dir)?;
        }
        current::install(
            &*self.fs,
            &self.dir,
            number,
            bug!(self.options, CurrentInPlace),
        )?;
        let old = std::mem::replace(&mut v.manifest, manifest);
        // CURRENT no longer names the old MANIFEST (durably), so it can go.
        self.fs
            .remove(old.path())
            .ctx("removing old MANIFEST", old.path())?;
        Ok(())
    }
}

/// Writes a memtable's newest entries to a durable L0 SST and opens it. With `sync_dir`, its
/// name is made durable too (recovery instead relies on its own later directory sync).
#[allow(clippy::too_many_arguments)]
pub(super) fn write_l0(
    fs: &dyn Fs,
    dir: &Path,
    options: &Options,
    cache: &Arc<BlockCache>,
    mem: &Memtable,
    number: u64,
    epoch: u64,
    sync_dir: bool,
) -> Result<(SstMeta, Arc<Table>)> {
    let mut builder = SstBuilder::create(
        fs,
        filename::sst_path(dir, number),
        number,
        options.block_bytes,
        options.bloom_bits_per_key,
        mem.last_seq(),
        bug!(options, FileNumbersFromManifestOnly),
        // The memtable's accounting runs above its entries' encoded size.
        mem.approximate_bytes() as u64,
    )?;
    mem.try_for_each_newest(|key, value| builder.add(key, value))?;
    let built = builder.finish(!bug!(options, EditBeforeSstSync))?;
    if sync_dir && !bug!(options, SstDirEntryNotSynced) {
        // Protects against a power cut that keeps the edit naming this SST but loses the SST's
        // directory entry.
        fs.sync_dir(dir)
            .ctx("syncing directory after writing SST in", dir)?;
    }
    let table = Arc::new(Table::open(fs, built.path, number, Arc::clone(cache))?);
    let meta = SstMeta {
        number,
        level: 0,
        size: built.size,
        entries: built.entries,
        smallest: built.smallest,
        largest: built.largest,
        epoch,
    };
    Ok((meta, table))
}
