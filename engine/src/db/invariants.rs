//! `check_invariants`: the structural promises recovery and every edit must keep.

use std::collections::BTreeSet;

use super::{Inner, lock};
use crate::current;
use crate::error::{Error, IoContext, Result};
use crate::filename::{self, FileKind};

impl Inner {
    pub fn check_invariants(&self) -> Result<()> {
        self.check_open()?;
        // Quiesce every writer of files so the directory and the version agree.
        let w = lock(&self.writer);
        let _flush = lock(&self.flush_lock);
        let _compaction = lock(&self.compaction_lock);
        let v = lock(&self.versions);
        let broken = |what: String| Err(Error::Invariant(what));
        if let Err(what) = v.state.check_levels() {
            return broken(what);
        }
        let names = self.fs.list(&self.dir).ctx("listing", &self.dir)?;
        let on_disk: BTreeSet<FileKind> = names.iter().filter_map(|n| filename::parse(n)).collect();
        for m in v.state.all() {
            if !on_disk.contains(&FileKind::Sst(m.number)) {
                return broken(format!(
                    "the MANIFEST names {} but it does not exist",
                    filename::sst_name(m.number)
                ));
            }
        }
        let mut live_wals: BTreeSet<u64> = v.imm.iter().map(|m| m.number).collect();
        if let Some(wal) = &w.wal {
            live_wals.insert(wal.number);
        }
        for n in &live_wals {
            if !on_disk.contains(&FileKind::Wal(*n)) {
                return broken(format!(
                    "the live WAL {} does not exist",
                    filename::wal_name(*n)
                ));
            }
        }
        for kind in &on_disk {
            let unreferenced = match *kind {
                FileKind::Sst(n) => !v.state.contains(n),
                FileKind::Wal(n) => !live_wals.contains(&n),
                FileKind::Manifest(n) => n != v.manifest.number,
                FileKind::CurrentTmp => true,
                FileKind::Current | FileKind::Lock => false,
            };
            if unreferenced {
                return broken(format!("{kind:?} is on disk but nothing references it"));
            }
            if let Some(n) = kind.number()
                && n >= v.next_file
            {
                return broken(format!(
                    "{kind:?} is at or above the next file number {}",
                    v.next_file
                ));
            }
        }
        match current::read(&*self.fs, &self.dir, true)? {
            Some(n) if n == v.manifest.number => Ok(()),
            other => broken(format!(
                "CURRENT names {other:?}, the live MANIFEST is {}",
                v.manifest.number
            )),
        }
    }
}
