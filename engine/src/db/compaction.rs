//! Running compaction tasks chosen by the pure picker ([`crate::picker`]).

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use faultfs::Phase;

use super::{Inner, LiveTable, lock};
use crate::error::{Error, IoContext, Result};
use crate::filename;
use crate::merge::{Input, Merge};
use crate::picker::{self, CompactionTask};
use crate::sst::{BuiltSst, SstBuilder, Table};
use crate::version::{RemovedSst, SstMeta, VersionEdit};

impl Inner {
    /// Runs compactions until the picker finds nothing to do.
    pub fn compact_while_needed(&self) -> Result<()> {
        while self.compact_once(false)? {}
        Ok(())
    }

    /// Compacts with the L0 trigger lowered to one file, until nothing is left to do.
    pub fn force_compact(&self) -> Result<()> {
        self.check_writable()?;
        while self.compact_once(true)? {}
        Ok(())
    }

    /// Runs one compaction if one is needed; false if none is.
    pub fn compact_once(&self, force: bool) -> Result<bool> {
        let _job = lock(&self.compaction_lock);
        if self.poisoned.load(Ordering::SeqCst) {
            self.check_writable()?;
        }
        let task = picker::pick(&lock(&self.versions).state, &self.options, force);
        let Some(task) = task else {
            return Ok(false);
        };
        self.fs.set_phase(Phase::Compaction);
        let result = self.run_compaction(&task);
        self.fs.set_phase(Phase::Write);
        result.map_err(|e| self.poison(e))?;
        Ok(true)
    }

    fn run_compaction(&self, task: &CompactionTask) -> Result<()> {
        let removed: Vec<RemovedSst> = task
            .inputs
            .iter()
            .map(|m| RemovedSst {
                level: m.level,
                number: m.number,
            })
            .collect();
        if task.trivial_move {
            let added = task
                .inputs
                .iter()
                .map(|m| SstMeta {
                    level: task.output_level,
                    ..m.clone()
                })
                .collect();
            let mut v = lock(&self.versions);
            let edit = VersionEdit {
                added,
                removed,
                ..Default::default()
            };
            self.log_edit(&mut v, edit, Vec::new(), Phase::Compaction)?;
            self.install_super_version(&v);
            return Ok(());
        }
        let outputs = self.merge_inputs(task)?;
        let obsolete: Vec<_> = task
            .inputs
            .iter()
            .map(|m| filename::sst_path(&self.dir, m.number))
            .collect();
        if bug!(self.options, ObsoleteRemovedBeforeEdit) {
            // The defect removes the inputs first; the directory sync below makes it durable.
            for path in &obsolete {
                self.fs.remove(path).ctx("removing compacted SST", path)?;
            }
        }
        if !outputs.is_empty() && !bug!(self.options, SstDirEntryNotSynced) {
            // Protects against a power cut that keeps the edit naming the outputs but loses
            // their directory entries.
            self.fs
                .sync_dir(&self.dir)
                .ctx("syncing directory after compaction in", &self.dir)?;
        }
        let epoch = task.inputs.iter().map(|m| m.epoch).max().unwrap_or(0);
        let mut added = Vec::with_capacity(outputs.len());
        let mut tables = Vec::with_capacity(outputs.len());
        for built in outputs {
            let table = Arc::new(Table::open(
                &*self.fs,
                built.path,
                built.number,
                Arc::clone(&self.cache),
            )?);
            let meta = SstMeta {
                number: built.number,
                level: task.output_level,
                size: built.size,
                entries: built.entries,
                smallest: built.smallest,
                largest: built.largest,
                epoch,
            };
            tables.push(LiveTable::new(&meta, table));
            added.push(meta);
        }
        {
            let mut v = lock(&self.versions);
            let edit = VersionEdit {
                added,
                removed,
                ..Default::default()
            };
            self.log_edit(&mut v, edit, tables, Phase::Compaction)?;
            self.install_super_version(&v);
        }
        if !bug!(self.options, ObsoleteRemovedBeforeEdit) {
            // The edit retiring the inputs is durable now; readers holding an older version keep
            // their open handles.
            for path in &obsolete {
                self.fs.remove(path).ctx("removing compacted SST", path)?;
            }
        }
        Ok(())
    }

    /// Merges the task's inputs into new durable SSTs.
    fn merge_inputs(&self, task: &CompactionTask) -> Result<Vec<BuiltSst>> {
        let tables: Vec<Arc<Table>> = {
            let v = lock(&self.versions);
            task.inputs
                .iter()
                .map(|m| {
                    v.tables
                        .get(&m.number)
                        .map(|t| Arc::clone(&t.table))
                        .ok_or_else(|| {
                            Error::Invariant(format!(
                                "compaction input SST {} is not open",
                                m.number
                            ))
                        })
                })
                .collect::<Result<_>>()?
        };
        let mut merge = Merge::new(
            tables
                .iter()
                .map(|t| Input::Table(t.iter(Bound::Unbounded, Bound::Unbounded, false)))
                .collect(),
        );
        // The outputs hold no write newer than the newest input holds.
        let largest_seq = tables.iter().map(|t| t.largest_seq).max().unwrap_or(0);
        let drop_tombstones = task.drop_tombstones || bug!(self.options, TombstoneDroppedEarly);
        let split = task.output_level > 0;
        // Outputs are at most the inputs, and cut at the target size when split.
        let input_bytes: u64 = task.inputs.iter().map(|m| m.size).sum();
        let expected_bytes = if split {
            input_bytes.min(self.options.sst_target_bytes)
        } else {
            input_bytes
        };
        let mut outputs = Vec::new();
        let mut builder: Option<SstBuilder> = None;
        while let Some((key, value)) = merge.next_entry()? {
            if value.is_none() && drop_tombstones {
                continue;
            }
            let b = match builder.as_mut() {
                Some(b) => b,
                None => builder.insert(self.new_output(largest_seq, expected_bytes)?),
            };
            b.add(key, value)?;
            if split
                && b.estimated_bytes() >= self.options.sst_target_bytes
                && let Some(done) = builder.take()
            {
                outputs.push(done.finish(!bug!(self.options, EditBeforeSstSync))?);
            }
        }
        if let Some(b) = builder {
            outputs.push(b.finish(!bug!(self.options, EditBeforeSstSync))?);
        }
        Ok(outputs)
    }

    fn new_output(&self, largest_seq: u64, expected_bytes: u64) -> Result<SstBuilder> {
        let number = lock(&self.versions).alloc_file_number();
        SstBuilder::create(
            &*self.fs,
            filename::sst_path(&self.dir, number),
            number,
            self.options.block_bytes,
            self.options.bloom_bits_per_key,
            largest_seq,
            bug!(self.options, FileNumbersFromManifestOnly),
            expected_bytes,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, VecDeque};
    use std::path::Path;

    use faultfs::{Fs, StdFs};
    use proptest::prelude::*;

    use super::*;
    use crate::cache::BlockCache;

    type Entries = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

    /// Writes one SST per map (small blocks, so walks cross many) and opens them.
    fn tables(fs: &StdFs, first: u64, inputs: &[Entries]) -> Vec<Arc<Table>> {
        let cache = Arc::new(BlockCache::new(1 << 20));
        inputs
            .iter()
            .enumerate()
            .map(|(i, entries)| {
                let number = first + i as u64;
                let path = filename::sst_path(Path::new("db"), number);
                let mut b =
                    SstBuilder::create(fs, path.clone(), number, 64, 10, 1, false, 0).unwrap();
                for (k, v) in entries {
                    b.add(k, v.as_deref()).unwrap();
                }
                b.finish(false).unwrap();
                Arc::new(Table::open(fs, path, number, Arc::clone(&cache)).unwrap())
            })
            .collect()
    }

    fn drain(mut merge: Merge) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let mut got = Vec::new();
        while let Some((k, v)) = merge.next_entry().unwrap() {
            got.push((k.to_vec(), v.map(<[u8]>::to_vec)));
        }
        got
    }

    proptest! {
        #[test]
        fn merge_yields_each_key_once_from_its_newest_input(
            inputs in prop::collection::vec(
                prop::collection::btree_map(
                    prop::collection::vec(0u8..4, 1..4),
                    prop::option::of(prop::collection::vec(any::<u8>(), 0..20)),
                    1..40,
                ),
                1..5,
            ),
            level in prop::collection::btree_map(
                prop::collection::vec(0u8..4, 1..4),
                prop::option::of(prop::collection::vec(any::<u8>(), 0..20)),
                0..40,
            ),
            cuts in 1usize..4,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let fs = StdFs::new(dir.path()).unwrap();
            fs.create_dir_all(Path::new("db")).unwrap();
            // The oldest input is a level: `level` cut into disjoint tables.
            let entries: Vec<_> = level.clone().into_iter().collect();
            let per = entries.len().div_ceil(cuts).max(1);
            let parts: Vec<Entries> =
                entries.chunks(per).map(|c| c.iter().cloned().collect()).collect();
            let level_tables = tables(&fs, 100, &parts);
            let newest = tables(&fs, 1, &inputs);
            let mut expected = level;
            for entries in inputs.iter().rev() {
                expected.extend(entries.clone());
            }
            let expected: Vec<_> = expected.into_iter().collect();
            let walk = |t: &Arc<Table>, cached| t.iter(Bound::Unbounded, Bound::Unbounded, cached);
            for cached in [false, true] {
                let mut merge_inputs: Vec<Input> =
                    newest.iter().map(|t| Input::Table(walk(t, cached))).collect();
                merge_inputs.push(Input::Level(
                    level_tables.iter().map(|t| walk(t, cached)).collect::<VecDeque<_>>(),
                ));
                prop_assert_eq!(&drain(Merge::new(merge_inputs)), &expected);
            }
        }
    }
}
