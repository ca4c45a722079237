//! The write path: WAL append, memtable insert, memtable switch, stalls, sync.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Inner, Writer, lock};
use crate::batch::{Ops, WriteOptions};
use crate::error::{Error, IoContext, Result};
use crate::filename;
use crate::memtable::Memtable;
use crate::wal::WalWriter;

impl Inner {
    /// Logs and applies one atomic batch, copying each operation once, into the memtable.
    pub(crate) fn write_ops(&self, ops: Ops<'_>, wo: WriteOptions) -> Result<()> {
        self.check_writable()?;
        if ops.iter().any(|(key, _)| key.len() > u32::MAX as usize / 2) {
            return Err(Error::InvalidArgument("key too long".into()));
        }
        let mut w = lock(&self.writer);
        // Re-check under the lock: close() may have frozen the last memtable meanwhile.
        self.check_writable()?;
        if w.active.approximate_bytes() >= self.options.memtable_bytes {
            self.make_room(&mut w)?;
        }
        self.log_and_apply(&mut w, ops, wo)
            .map_err(|e| self.poison(e))
    }

    fn log_and_apply(&self, w: &mut Writer, ops: Ops<'_>, wo: WriteOptions) -> Result<()> {
        // This batch's operations take the sequence numbers after the last applied one.
        let seq = w.last_seq + 1;
        if bug!(self.options, MemtableBeforeWal) {
            self.apply_to_memtable(w, ops);
            return self.append_to_wal(w, seq, ops, wo);
        }
        self.append_to_wal(w, seq, ops, wo)?;
        self.apply_to_memtable(w, ops);
        Ok(())
    }

    fn append_to_wal(
        &self,
        w: &mut Writer,
        seq: u64,
        ops: Ops<'_>,
        wo: WriteOptions,
    ) -> Result<()> {
        let Some(wal) = w.wal.as_mut() else {
            return Ok(());
        };
        wal.append(seq, ops)?;
        if wo.sync {
            if bug!(self.options, SyncWriteWithoutWalSync) {
                // The record is in the kernel's page cache (append put it there) but not synced.
                return Ok(());
            }
            wal.sync()?;
        }
        Ok(())
    }

    fn apply_to_memtable(&self, w: &mut Writer, ops: Ops<'_>) {
        let mut seq = w.last_seq;
        for (key, value) in ops.iter() {
            seq += 1;
            w.active.insert(key, seq, value);
        }
        w.last_seq = seq;
        // Readers started from now on see the whole batch; earlier ones see none of it.
        self.visible_seq.store(seq, Ordering::Release);
    }

    /// Freezes the full memtable, waiting (threads) or flushing (inline) so memory stays bounded.
    fn make_room(&self, w: &mut Writer) -> Result<()> {
        if !self.inline() {
            self.stall_while_full()?;
        }
        self.switch_memtable(w, true).map_err(|e| self.poison(e))?;
        if self.inline() {
            let full = lock(&self.versions).imm.len() >= self.options.max_immutable_memtables;
            if full {
                self.flush_immutables()?;
                self.compact_while_needed()?;
            }
        } else {
            self.work_cv.notify_all();
        }
        Ok(())
    }

    /// Blocks the writer while `max_immutable_memtables` frozen memtables wait for a flush.
    fn stall_while_full(&self) -> Result<()> {
        let mut v = lock(&self.versions);
        while v.imm.len() >= self.options.max_immutable_memtables {
            if self.poisoned.load(Ordering::SeqCst) || self.shutdown.load(Ordering::SeqCst) {
                drop(v);
                self.check_writable()?;
                return Err(Error::Closed);
            }
            v = self.done_cv.wait(v);
        }
        Ok(())
    }

    /// Makes the active memtable immutable and starts an empty one (with a new WAL if
    /// `new_wal` and the WAL is on).
    pub fn switch_memtable(&self, w: &mut Writer, new_wal: bool) -> Result<()> {
        if let Some(wal) = w.wal.as_mut()
            && !bug!(self.options, NoWalSyncAtSwitch)
        {
            // Writes to the next WAL may be synced and acknowledged; if this WAL's unsynced tail
            // were then lost in a crash, recovery would replay later writes after a hole.
            wal.sync()?;
        }
        let number = lock(&self.versions).alloc_file_number();
        let wal = if self.options.wal && new_wal {
            let path = filename::wal_path(&self.dir, number);
            let wal = WalWriter::create(
                &*self.fs,
                path,
                number,
                w.last_seq + 1,
                super::wal_config(&self.options),
            )?;
            // Protects against a power cut that keeps this WAL's synced records but loses its
            // name: synced writes would vanish with the whole file.
            self.fs
                .sync_dir(&self.dir)
                .ctx("syncing directory after creating WAL in", &self.dir)?;
            Some(wal)
        } else {
            None
        };
        let mem = Arc::new(Memtable::with_filter(number, self.options.memtable_bytes));
        {
            let mut v = lock(&self.versions);
            let old = std::mem::replace(&mut v.active, Arc::clone(&mem));
            v.imm.push_front(old);
            self.install_super_version(&v);
        }
        w.active = mem;
        w.wal = wal;
        Ok(())
    }

    /// Makes every acknowledged write durable.
    pub fn sync(&self) -> Result<()> {
        self.check_writable()?;
        if !self.options.wal {
            return self.flush_all();
        }
        let mut w = lock(&self.writer);
        self.check_writable()?;
        if let Some(wal) = w.wal.as_mut() {
            wal.sync().map_err(|e| self.poison(e))?;
        }
        Ok(())
    }

    /// Freezes the active memtable (if it holds anything) and flushes every frozen one.
    pub fn flush_all(&self) -> Result<()> {
        self.check_writable()?;
        {
            let mut w = lock(&self.writer);
            self.check_writable()?;
            if !w.active.is_empty() {
                self.switch_memtable(&mut w, true)
                    .map_err(|e| self.poison(e))?;
            }
        }
        self.flush_immutables()?;
        if self.inline() {
            self.compact_while_needed()?;
        } else {
            self.work_cv.notify_all();
        }
        Ok(())
    }

    /// The flushing part of close(): everything in memory goes to SSTs.
    pub fn close_flush(&self) -> Result<()> {
        self.check_writable()?;
        let mut w = lock(&self.writer);
        self.check_writable()?;
        if !w.active.is_empty() {
            self.switch_memtable(&mut w, false)
                .map_err(|e| self.poison(e))?;
        }
        // Later writers find the engine closed.
        self.closed.store(true, Ordering::SeqCst);
        drop(w);
        self.flush_immutables()
    }
}
