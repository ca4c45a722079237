//! Opening a database: CURRENT -> MANIFEST -> WALs, then a fresh MANIFEST.
//!
//! Steps, in order:
//! 1. Take the LOCK; list the directory; read CURRENT and replay the MANIFEST it names.
//! 2. Set the next file number above every number on disk, so no leftover is ever reused.
//! 3. Check that every SST the MANIFEST names exists, and open them (in parallel with threads).
//! 4. Replay the WALs at or above the logged `log_number`, oldest first, into one memtable,
//!    after checking that their sequence numbers continue the MANIFEST's last one without a
//!    break (see [`super::sequence`]); a break is refused before anything is changed.
//! 5. Remove files nothing references (SSTs of interrupted jobs, flushed WALs, old MANIFEST),
//!    unless an unreferenced SST holds writes newer than anything recovered: then the MANIFEST
//!    lost the edit naming it, and recovery refuses instead of making the loss permanent.
//! 6. Flush the replayed memtable to an L0 SST, write a new MANIFEST whose snapshot holds the
//!    result, point CURRENT at it, and only then remove the replayed WALs and the old MANIFEST.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};

use faultfs::{Fs, Phase};

use super::flush::write_l0;
use super::sequence::{self, WalLog};
use super::signal::Signal;
use super::{Inner, LiveLevels, LiveTable, SuperVersion, Versions, Writer};
use crate::cache::BlockCache;
use crate::current;
use crate::error::{Error, IoContext, Result};
use crate::filename::{self, FileKind};
use crate::log_frame::{Leniency, LogEnd};
use crate::manifest::{self, ManifestWriter};
use crate::memtable::Memtable;
use crate::options::{Background, Options};
use crate::sst::Table;
use crate::sst::table::read_largest_seq;
use crate::version::{SstMeta, VersionEdit, VersionState};
use crate::wal::{self, ReadRecord, WalRecord, WalWriter};

/// What was found in the directory before anything changed.
struct Found {
    kinds: Vec<FileKind>,
    max_number: u64,
}

pub(super) fn open(fs: Arc<dyn Fs>, dir: &Path, options: Options) -> Result<Inner> {
    options.validate()?;
    // A crash while creating a store is not a crash in recovery: label it apart so coverage
    // and reports say which one a failure needs. (An error here means the power is gone; the
    // open fails at its first real step anyway.)
    let creating = !fs
        .exists(&filename::join(dir, filename::CURRENT))
        .unwrap_or(true);
    fs.set_phase(if creating {
        Phase::Create
    } else {
        Phase::Recovery
    });
    let result = recover(fs.clone(), dir, options);
    fs.set_phase(Phase::Write);
    result
}

fn recover(fs: Arc<dyn Fs>, dir: &Path, options: Options) -> Result<Inner> {
    ensure_dir(&*fs, dir)?;
    let lock_path = filename::join(dir, filename::LOCK);
    let dir_lock = fs.lock(&lock_path).ctx("locking", &lock_path)?;
    let found = list(&*fs, dir)?;
    let manifest_number = current::read(&*fs, dir, !bug!(options, CurrentChecksumUnverified))?;
    let (mut state, manifest_wal) = match manifest_number {
        Some(n) => {
            let replayed = manifest::replay(&*fs, dir, n, leniency(&options))?;
            (replayed.state, replayed.options.wal)
        }
        None => {
            refuse_data_without_current(&*fs, dir, &found)?;
            (VersionState::empty(options.levels), options.wal)
        }
    };
    let mut next_file = if bug!(options, FileNumbersFromManifestOnly) {
        state.next_file_number.max(1)
    } else {
        state.next_file_number.max(found.max_number + 1).max(1)
    };
    let cache = Arc::new(BlockCache::new(options.block_cache_bytes));
    let tables = open_tables(&*fs, dir, &state, &cache, options.background)?;
    // Refusals (damage, a break in the sequence chain) come before anything is removed.
    let replayed = replay_wals(&*fs, dir, manifest_number, &state, &found, &options)?;
    let live = Live {
        state: &state,
        manifest: manifest_number,
        wal: manifest_wal,
    };
    remove_unreferenced(&*fs, dir, &live, &found, &replayed)?;

    // Everything replayed goes into one L0 SST, made durable before the new MANIFEST names it.
    let mut inner_tables = tables;
    let mut edit = VersionEdit::default();
    let mut alloc = || {
        let n = next_file;
        next_file += 1;
        n
    };
    let recovered_sst = if replayed.mem.is_empty() {
        None
    } else {
        Some(alloc())
    };
    let wal_number = alloc();
    let new_manifest = alloc();
    if let Some(number) = recovered_sst {
        // The directory sync after the new MANIFEST below also covers this SST's name.
        let (meta, table) = write_l0(
            &*fs,
            dir,
            &options,
            &cache,
            &replayed.mem,
            number,
            number,
            false,
        )?;
        inner_tables.insert(number, LiveTable::new(&meta, table));
        edit.added.push(meta);
    }
    edit.log_number = Some(wal_number);
    edit.next_file_number = Some(next_file);
    // The recovered SST holds the replayed writes; the new WAL continues after them.
    edit.last_sequence = Some(replayed.last_seq);
    // On failure the open fails and the state is dropped, so it is changed in place.
    state
        .apply_owned(edit)
        .map_err(|reason| Error::Invariant(format!("recovery edit does not apply: {reason}")))?;
    state.next_file_number = next_file;
    let wal = if options.wal {
        Some(WalWriter::create(
            &*fs,
            filename::wal_path(dir, wal_number),
            wal_number,
            replayed.last_seq + 1,
            super::wal_config(&options),
        )?)
    } else {
        None
    };
    let manifest = ManifestWriter::create(
        &*fs,
        dir,
        new_manifest,
        &options,
        &state,
        !bug!(options, CurrentBeforeManifestDurable),
    )?;
    if !bug!(options, CurrentBeforeManifestDurable) {
        // Protects against CURRENT naming a MANIFEST (or a WAL receiving synced writes) whose
        // directory entry a power cut could still take away.
        fs.sync_dir(dir)
            .ctx("syncing directory during recovery of", dir)?;
    }
    current::install(&*fs, dir, new_manifest, bug!(options, CurrentInPlace))?;
    // The new MANIFEST is live and durable: the old one and the replayed WALs are obsolete.
    if let Some(old) = manifest_number {
        let path = filename::manifest_path(dir, old);
        fs.remove(&path).ctx("removing old MANIFEST", &path)?;
    }
    for number in &replayed.wal_numbers {
        let path = filename::wal_path(dir, *number);
        fs.remove(&path).ctx("removing replayed WAL", &path)?;
    }
    let active = Arc::new(Memtable::with_filter(wal_number, options.memtable_bytes));
    let versions = Versions {
        state,
        tables: inner_tables,
        manifest,
        active: Arc::clone(&active),
        imm: VecDeque::new(),
        next_file,
        generation: 0,
    };
    let inner = Inner {
        fs,
        dir: dir.to_path_buf(),
        options,
        cache,
        writer: Mutex::new(Writer {
            active,
            wal,
            last_seq: replayed.last_seq,
        }),
        flush_lock: Mutex::new(()),
        compaction_lock: Mutex::new(()),
        versions: Mutex::new(versions),
        work_cv: Signal::new(),
        done_cv: Signal::new(),
        sv: RwLock::new(Arc::new(SuperVersion {
            mems: Vec::new(),
            ssts: Arc::new(LiveLevels::new(Vec::new(), None)),
        })),
        visible_seq: AtomicU64::new(replayed.last_seq),
        poisoned: AtomicBool::new(false),
        poison_cause: Mutex::new(None),
        closed: AtomicBool::new(false),
        shutdown: AtomicBool::new(false),
        dir_lock: Mutex::new(Some(dir_lock)),
    };
    inner.install_super_version(&super::lock(&inner.versions));
    Ok(inner)
}

fn ensure_dir(fs: &dyn Fs, dir: &Path) -> Result<()> {
    if fs.exists(dir).ctx("looking for", dir)? {
        return Ok(());
    }
    fs.create_dir_all(dir).ctx("creating directory", dir)?;
    if let Some(parent) = dir.parent() {
        // Protects against the whole database directory vanishing in a power cut after the
        // first writes were acknowledged.
        fs.sync_dir(parent).ctx("syncing directory", parent)?;
    }
    Ok(())
}

fn list(fs: &dyn Fs, dir: &Path) -> Result<Found> {
    let names = fs.list(dir).ctx("listing", dir)?;
    let kinds: Vec<FileKind> = names.iter().filter_map(|n| filename::parse(n)).collect();
    let max_number = kinds.iter().filter_map(|k| k.number()).max().unwrap_or(0);
    Ok(Found { kinds, max_number })
}

/// Without CURRENT only the debris of an interrupted creation may be there (a MANIFEST, an
/// empty WAL); an SST or a WAL holding records means CURRENT was lost, and starting empty
/// would silently drop them.
fn refuse_data_without_current(fs: &dyn Fs, dir: &Path, found: &Found) -> Result<()> {
    for kind in &found.kinds {
        let path = match *kind {
            FileKind::Sst(n) => filename::sst_path(dir, n),
            FileKind::Wal(n) => {
                let path = filename::wal_path(dir, n);
                let file = fs.open(&path).ctx("opening WAL", &path)?;
                if file.len().ctx("reading length of WAL", &path)? == 0 {
                    continue;
                }
                path
            }
            _ => continue,
        };
        return Err(Error::MissingFile {
            file: dir.join(filename::CURRENT),
            reason: format!(
                "no CURRENT names a MANIFEST, yet {} holds data",
                path.display()
            ),
        });
    }
    Ok(())
}

fn open_tables(
    fs: &dyn Fs,
    dir: &Path,
    state: &VersionState,
    cache: &Arc<BlockCache>,
    background: Background,
) -> Result<BTreeMap<u64, Arc<LiveTable>>> {
    let metas: Vec<&SstMeta> = state.all().collect();
    for m in &metas {
        let path = filename::sst_path(dir, m.number);
        if !fs.exists(&path).ctx("looking for", &path)? {
            return Err(Error::MissingFile {
                file: path,
                reason: format!(
                    "the MANIFEST names it in level {} but it does not exist",
                    m.level
                ),
            });
        }
    }
    let open_one = |m: &SstMeta| -> Result<(u64, Arc<LiveTable>)> {
        let path = filename::sst_path(dir, m.number);
        let table = Arc::new(Table::open(fs, path, m.number, Arc::clone(cache))?);
        Ok((m.number, LiveTable::new(m, table)))
    };
    // Inline mode opens in order so a simulated run's I/O sequence replays exactly.
    if background == Background::Inline || metas.len() < 4 {
        return metas.iter().map(|m| open_one(m)).collect();
    }
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let chunk = metas.len().div_ceil(workers);
    std::thread::scope(|s| {
        let handles: Vec<_> = metas
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || part.iter().map(|m| open_one(m)).collect::<Result<Vec<_>>>())
            })
            .collect();
        let mut out = BTreeMap::new();
        for h in handles {
            let part = h
                .join()
                .map_err(|_| Error::Invariant("an SST-opening thread panicked".into()))??;
            out.extend(part);
        }
        Ok(out)
    })
}

struct Replayed {
    mem: Memtable,
    wal_numbers: Vec<u64>,
    /// The sequence number of the newest write recovered (SSTs or WALs).
    last_seq: u64,
}

fn replay_wals(
    fs: &dyn Fs,
    dir: &Path,
    manifest: Option<u64>,
    state: &VersionState,
    found: &Found,
    options: &Options,
) -> Result<Replayed> {
    let replay_all = bug!(options, ReplayFlushedWal);
    let mut wal_numbers: Vec<u64> = found
        .kinds
        .iter()
        .filter_map(|k| match k {
            FileKind::Wal(n) if *n >= state.log_number || replay_all => Some(*n),
            _ => None,
        })
        .collect();
    wal_numbers.sort_unstable();
    let mut logs = Vec::with_capacity(wal_numbers.len());
    let mut ends = Vec::with_capacity(wal_numbers.len());
    for &n in &wal_numbers {
        let path = filename::wal_path(dir, n);
        let (records, end) = wal::replay(fs, &path, leniency(options))?;
        logs.push(WalLog { path, records });
        ends.push(end);
    }
    // Each WAL was synced before the next one received a write, so a torn tail in a WAL that
    // is followed by a WAL holding records was durable: damage, not a crash.
    if !bug!(options, BadRecordIsTornTail) {
        for (i, (log, end)) in logs.iter().zip(&ends).enumerate() {
            if let LogEnd::TornTail { offset, reason } = end
                && logs[i + 1..].iter().any(|l| l.records.iter().any(is_batch))
            {
                return Err(Error::corruption(
                    &log.path,
                    *offset,
                    format!(
                        "{reason}, but a later WAL holds records, so these bytes had been synced"
                    ),
                ));
            }
        }
    }
    // Two defects model readers without this check (as LevelDB's has none): one replays
    // flushed WALs, whose sequence numbers the SSTs already cover, the other reads past a
    // zeroed hole; the check would turn both into refusals and hide what they do.
    let last_seq = if replay_all || bug!(options, ZeroFrameAccepted) {
        state.last_sequence
    } else {
        let manifest_path = manifest.map_or_else(
            || dir.join(filename::CURRENT),
            |n| filename::manifest_path(dir, n),
        );
        sequence::check_chain(&manifest_path, state.last_sequence, &logs)?
    };
    let mem = Memtable::new(0);
    let mut newest = last_seq;
    for log in logs {
        for r in log.records {
            if let WalRecord::Batch { seq, ops } = r.record {
                for (i, op) in ops.iter().enumerate() {
                    let seq = seq + i as u64;
                    newest = newest.max(seq);
                    let (key, value) = op.view();
                    mem.insert(key, seq, value);
                }
            }
        }
    }
    Ok(Replayed {
        mem,
        wal_numbers,
        last_seq: newest,
    })
}

fn is_batch(r: &ReadRecord) -> bool {
    matches!(r.record, WalRecord::Batch { .. })
}

/// Removes the files nothing references, after checking that none of them holds writes the
/// recovered state lacks: nothing is removed if recovery refuses.
fn remove_unreferenced(
    fs: &dyn Fs,
    dir: &Path,
    live: &Live<'_>,
    found: &Found,
    replayed: &Replayed,
) -> Result<()> {
    let mut doomed = Vec::new();
    for kind in &found.kinds {
        let name = match *kind {
            FileKind::Sst(n) if !live.state.contains(n) => {
                check_sst_is_covered(fs, dir, live, n, replayed.last_seq)?;
                filename::sst_name(n)
            }
            FileKind::Wal(n) if n < live.state.log_number && !replayed.wal_numbers.contains(&n) => {
                filename::wal_name(n)
            }
            FileKind::Manifest(n) if Some(n) != live.manifest => filename::manifest_name(n),
            FileKind::CurrentTmp => filename::CURRENT_TMP.to_string(),
            _ => continue,
        };
        doomed.push(filename::join(dir, &name));
    }
    for path in doomed {
        // Nothing refers to these (an interrupted flush or compaction, a flushed WAL, a MANIFEST
        // CURRENT moved away from); a crash that undoes the removal leaves them unreferenced again.
        fs.remove(&path).ctx("removing unreferenced", &path)?;
    }
    Ok(())
}

/// What the live MANIFEST says.
struct Live<'a> {
    state: &'a VersionState,
    manifest: Option<u64>,
    /// Whether the session that wrote the live MANIFEST logged writes to WALs.
    wal: bool,
}

/// An SST no edit names is an interrupted job's output, removable, only if every write it holds
/// is in the recovered state anyway: a flush's writes are in the WAL still being replayed, a
/// compaction's in its inputs, a recovery's in the WALs it replayed. One holding newer writes
/// than anything recovered was named by an edit the MANIFEST lost (a truncation), while its
/// WAL was already gone: removing it would make the loss permanent, so recovery refuses. With
/// the WAL off, a flush interrupted before its edit leaves exactly such an SST, holding writes
/// that were never durable: it goes.
fn check_sst_is_covered(
    fs: &dyn Fs,
    dir: &Path,
    live: &Live<'_>,
    number: u64,
    recovered_seq: u64,
) -> Result<()> {
    let path = filename::sst_path(dir, number);
    let largest_seq = match read_largest_seq(fs, &path) {
        Ok(seq) => seq,
        // Its footer never reached the disk: the job was interrupted before the SST was synced,
        // so no durable edit can have named it.
        Err(Error::Corruption { .. }) => return Ok(()),
        Err(e) => return Err(e),
    };
    if largest_seq <= recovered_seq || !live.wal {
        return Ok(());
    }
    let manifest = live.manifest.map_or_else(
        || dir.join(filename::CURRENT),
        |n| filename::manifest_path(dir, n),
    );
    Err(Error::corruption(
        &manifest,
        0,
        format!(
            "{} holds writes up to sequence number {largest_seq}, but the MANIFEST and the WALs \
             end at {recovered_seq} and no edit names it: the MANIFEST lost the edit that added \
             it (was it truncated?), or the WAL holding those writes was removed before that \
             edit was durable",
            path.display()
        ),
    ))
}

/// How forgiving log readers are: strict, unless a defect says otherwise.
fn leniency(options: &Options) -> Leniency {
    Leniency {
        bad_is_torn: bug!(options, BadRecordIsTornTail),
        zeros_are_padding: bug!(options, ZeroFrameAccepted),
    }
}
