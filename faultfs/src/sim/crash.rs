//! What a power cut leaves: a [`Choice`] says which pending changes survive, [`build_image`] turns
//! the durable state plus those changes into a [`DiskImage`], and [`sample`] draws a choice for a
//! crash policy from a seed, with the decisions it made for the log (see [`super::outcome`]).

use std::collections::{BTreeMap, BTreeSet, btree_map};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::CrashPolicy;
use super::atomic;
use super::image::{DiskImage, Sorted};
use super::outcome::{RebootOutcome, describe};
use super::state::{Entry, Inode, Name, Namespace, Pending, State};

/// The fate of one piece of a pending change (a write split at sector boundaries, or a set_len).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fill {
    /// The piece reached the disk.
    Keep,
    /// The piece never reached the disk.
    Drop,
    /// The sector was being written when the power went: it holds zeros.
    Zero,
    /// The sector was being written when the power went: it holds garbage.
    Garbage,
}

/// What survives of one file's pending changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FileFate {
    DropAll,
    KeepAll,
    /// One fate per piece, in the order of [`pieces`].
    Pieces(Vec<Fill>),
}

/// A complete decision for one crash: which namespace operations and which file pieces survive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Choice {
    /// One flag per pending namespace operation, oldest first.
    pub ns: Vec<bool>,
    /// Per inode with pending changes; a missing inode drops everything.
    pub files: BTreeMap<u64, FileFate>,
    /// The sector size the pieces were cut with.
    pub sector: u64,
}

impl Choice {
    /// Nothing pending survives.
    pub fn drop_all(state: &State) -> Choice {
        Choice {
            ns: vec![false; state.ns_pending.len()],
            files: BTreeMap::new(),
            sector: 512,
        }
    }

    /// Everything pending survives.
    pub fn keep_all(state: &State) -> Choice {
        Choice {
            ns: vec![true; state.ns_pending.len()],
            files: pending_inodes(state)
                .map(|(ino, _)| (ino, FileFate::KeepAll))
                .collect(),
            sector: 512,
        }
    }
}

/// On a disk that keeps metadata in order ([`State::ordered_metadata`]), makes `choice` keep
/// a prefix of the pending metadata operations (namespace operations and `set_len`s, in the
/// order they were issued): the first one `choice` drops drops every later one too. Data pieces
/// are left alone, except that under `Torn` (`file_prefix`) a file keeps a prefix of its
/// changes, so a dropped `set_len` also drops what that file changed after it. A choice that
/// already keeps such a prefix is unchanged; on other disks nothing changes.
pub(crate) fn order_metadata(state: &State, choice: &mut Choice, file_prefix: bool) {
    if !state.ordered_metadata {
        return;
    }
    enum Meta {
        Ns(usize),
        SetLen {
            ino: u64,
            piece: usize,
            pieces: usize,
        },
    }
    let mut metas: Vec<(u64, Meta)> = state
        .ns_seq
        .iter()
        .enumerate()
        .map(|(i, seq)| (*seq, Meta::Ns(i)))
        .collect();
    for (ino, inode) in pending_inodes(state) {
        let all = pieces(&inode.pending, choice.sector);
        for (i, piece) in all.iter().enumerate() {
            if let Pending::SetLen { seq, .. } = inode.pending[piece.op] {
                let meta = Meta::SetLen {
                    ino,
                    piece: i,
                    pieces: all.len(),
                };
                metas.push((seq, meta));
            }
        }
    }
    metas.sort_by_key(|(seq, _)| *seq);
    let mut dropping = false;
    for (_, meta) in metas {
        match meta {
            Meta::Ns(i) => {
                if dropping {
                    choice.ns[i] = false;
                }
                dropping |= !choice.ns[i];
            }
            Meta::SetLen {
                ino,
                piece,
                pieces: count,
            } => {
                let fate = choice.files.entry(ino).or_insert(FileFate::DropAll);
                let mut fills = match fate {
                    FileFate::DropAll => vec![Fill::Drop; count],
                    FileFate::KeepAll => vec![Fill::Keep; count],
                    FileFate::Pieces(fills) => fills.clone(),
                };
                if dropping && fills[piece] == Fill::Keep {
                    let end = if file_prefix { count } else { piece + 1 };
                    for fill in &mut fills[piece..end] {
                        *fill = Fill::Drop;
                    }
                    *fate = FileFate::Pieces(fills.clone());
                }
                dropping |= fills[piece] != Fill::Keep;
            }
        }
    }
}

/// Inodes with pending changes, by inode number (a deterministic order).
pub(crate) fn pending_inodes(state: &State) -> impl Iterator<Item = (u64, &Inode)> {
    state
        .inodes
        .iter()
        .filter(|(_, inode)| !inode.pending.is_empty())
}

/// A pending change, or the part of a pending write that falls in one sector.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Piece {
    /// Index into the inode's pending list.
    pub op: usize,
    /// Byte range in the file (for a set_len: `start == end == len`).
    pub start: u64,
    pub end: u64,
}

/// Splits pending changes into pieces: each write at every multiple of `sector`, each set_len whole.
pub(crate) fn pieces(pending: &[Pending], sector: u64) -> Vec<Piece> {
    let sector = sector.max(1);
    let mut out = Vec::new();
    for (op, change) in pending.iter().enumerate() {
        match change {
            Pending::SetLen { len, .. } => out.push(Piece {
                op,
                start: *len,
                end: *len,
            }),
            Pending::Write { offset, len, .. } => {
                let end = offset + len;
                let mut start = *offset;
                while start < end {
                    let next = ((start / sector) + 1) * sector;
                    let piece_end = next.min(end);
                    out.push(Piece {
                        op,
                        start,
                        end: piece_end,
                    });
                    start = piece_end;
                }
            }
        }
    }
    out
}

/// Bytes that stand for garbage at `pos`: fixed per position, so a sampled outcome and an
/// enumerated one agree byte for byte, and unlike zeros they never look like a clean tail.
pub(crate) fn garbage_byte(pos: u64) -> u8 {
    let x = pos
        .wrapping_add(0x9E37_79B9_7F4A_7C15)
        .wrapping_mul(0xBF58_476D_1CE4_E5B9);
    ((x >> 56) as u8) | 0x01
}

/// The capacity a file's bytes get when they first grow.
const FILE_BYTES_START: usize = 4 << 10;

/// The capacity `write_into` gives bytes of length `len` that must hold `end`: at least a page,
/// and doubling, so a file grown by appends is copied a logarithmic number of times.
fn grown_capacity(len: usize, end: usize) -> usize {
    end.max(FILE_BYTES_START).max(len.saturating_mul(2))
}

/// `bytes` to write up to `end` into, copied first if shared (after a reboot or a first sync the
/// live bytes are shared with the durable ones). The copy gets the room the write needs at
/// once: `Arc::make_mut` would copy at the current size, and the write would then move every
/// byte again to grow.
pub(crate) fn writable(bytes: &mut Arc<Vec<u8>>, end: usize) -> &mut Vec<u8> {
    if Arc::get_mut(bytes).is_none() {
        let capacity = if end > bytes.len() {
            grown_capacity(bytes.len(), end)
        } else {
            bytes.len()
        };
        let mut copy = Vec::with_capacity(capacity);
        copy.extend_from_slice(bytes);
        *bytes = Arc::new(copy);
    }
    // Unique now, so this copies nothing.
    Arc::make_mut(bytes)
}

/// Writes `data` at `offset`, zero-extending `bytes` as needed.
pub(crate) fn write_into(bytes: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let Ok(start) = usize::try_from(offset) else {
        return;
    };
    let end = start + data.len();
    if bytes.capacity() < end {
        // Logs and manifests grow by small appends: start them at a page, then double, instead
        // of reallocating (and copying) through every small size first.
        bytes.reserve(grown_capacity(bytes.len(), end) - bytes.len());
    }
    if bytes.len() <= start {
        // An append (or a write past the end): zero only the gap, then copy, instead of zeroing
        // the whole new range and copying over it.
        bytes.resize(start, 0);
        bytes.extend_from_slice(data);
        return;
    }
    if bytes.len() < end {
        bytes.resize(end, 0);
    }
    bytes[start..end].copy_from_slice(data);
}

/// Applies one pending change to `bytes` (`live`: the file's live bytes, where a pending write
/// may find its bytes, see [`Pending::bytes`]).
pub(crate) fn apply_change(bytes: &mut Vec<u8>, change: &Pending, live: &[u8]) {
    match change {
        Pending::Write { offset, .. } => write_into(bytes, *offset, change.bytes(live)),
        // Lengths were checked against FILE_BYTES_MAX when the change was made.
        Pending::SetLen { len, .. } => bytes.resize(usize::try_from(*len).unwrap_or(0), 0),
    }
}

/// The bytes a file holds after a crash with `fate`.
pub(crate) fn file_after(inode: &Inode, fate: &FileFate, sector: u64) -> Arc<Vec<u8>> {
    match fate {
        FileFate::DropAll => Arc::clone(&inode.durable),
        FileFate::KeepAll if !inode.live_diverged => Arc::clone(&inode.live),
        FileFate::KeepAll => {
            let mut bytes = inode.durable.as_ref().clone();
            for change in &inode.pending {
                apply_change(&mut bytes, change, &inode.live);
            }
            Arc::new(bytes)
        }
        FileFate::Pieces(fills) => {
            let mut bytes = inode.durable.as_ref().clone();
            for (piece, fill) in pieces(&inode.pending, sector).iter().zip(fills) {
                apply_piece(
                    &mut bytes,
                    &inode.pending[piece.op],
                    &inode.live,
                    piece,
                    *fill,
                );
            }
            Arc::new(bytes)
        }
    }
}

fn apply_piece(bytes: &mut Vec<u8>, change: &Pending, live: &[u8], piece: &Piece, fill: Fill) {
    let (start, end) = (piece.start, piece.end);
    match (change, fill) {
        (_, Fill::Drop) => {}
        (Pending::SetLen { .. }, Fill::Keep) => apply_change(bytes, change, live),
        (Pending::SetLen { .. }, _) => {}
        (Pending::Write { offset, .. }, Fill::Keep) => {
            let from = (start - offset) as usize;
            let to = (end - offset) as usize;
            write_into(bytes, start, &change.bytes(live)[from..to]);
        }
        (Pending::Write { .. }, Fill::Zero) => {
            write_into(bytes, start, &vec![0; (end - start) as usize]);
        }
        (Pending::Write { .. }, Fill::Garbage) => {
            let junk: Vec<u8> = (start..end).map(garbage_byte).collect();
            write_into(bytes, start, &junk);
        }
    }
}

/// The disk a crash with `choice` leaves.
pub(crate) fn build_image(state: &State, choice: &Choice) -> DiskImage {
    let nothing_survives =
        !choice.ns.iter().any(|k| *k) && choice.files.values().all(|f| *f == FileFate::DropAll);
    if nothing_survives {
        return durable_image(state).clone();
    }
    let mut ns = Overlay {
        state,
        changed: BTreeMap::new(),
    };
    for (op, keep) in state.ns_pending.iter().zip(&choice.ns) {
        if *keep {
            op.apply(&mut ns);
        }
    }
    assemble(
        state,
        |dir| ns.get(dir),
        |ino, inode| match choice.files.get(&ino) {
            Some(fate) => file_after(inode, fate, choice.sector),
            None => Arc::clone(&inode.durable),
        },
    )
}

/// The durable namespace with some pending operations applied, copying only the directories
/// they change (a crash image is built for every candidate of an enumeration, and most
/// directories come out of it as they were).
struct Overlay<'a> {
    state: &'a State,
    changed: BTreeMap<PathBuf, BTreeMap<Name, Entry>>,
}

impl Overlay<'_> {
    fn get(&self, dir: &Path) -> Option<&BTreeMap<Name, Entry>> {
        match self.changed.get(dir) {
            Some(names) => Some(names),
            None => self.state.dirs.get(dir).map(|d| &d.durable),
        }
    }
}

impl Namespace for Overlay<'_> {
    fn names(&mut self, dir: &Path) -> Option<&mut BTreeMap<Name, Entry>> {
        if !self.changed.contains_key(dir) {
            let durable = self.state.dirs.get(dir)?.durable.clone();
            self.changed.insert(dir.to_path_buf(), durable);
        }
        self.changed.get_mut(dir)
    }
}

/// The disk a crash with `choice` leaves, built by a reboot that is about to replace the state:
/// files whose pending pieces survive in part are patched in place instead of copied.
pub(crate) fn build_image_consuming(state: &mut State, mut choice: Choice) -> DiskImage {
    state.durable_changed();
    for (ino, fate) in choice.files.iter_mut() {
        let FileFate::Pieces(fills) = fate else {
            continue;
        };
        let Some(inode) = state.inodes.get_mut(*ino) else {
            continue;
        };
        let pending = std::mem::take(&mut inode.pending);
        let bytes = Arc::make_mut(&mut inode.durable);
        for (piece, fill) in pieces(&pending, choice.sector).iter().zip(fills.iter()) {
            apply_piece(bytes, &pending[piece.op], &inode.live, piece, *fill);
        }
        // The durable bytes now hold what survived.
        *fate = FileFate::DropAll;
    }
    build_image(state, &choice)
}

/// The durable disk (what `Strict` keeps), cached until the durable state changes.
pub(crate) fn durable_image(state: &State) -> &DiskImage {
    state.durable_image.get_or_init(|| {
        assemble(
            state,
            |dir| state.dirs.get(dir).map(|d| &d.durable),
            |_, inode| Arc::clone(&inode.durable),
        )
    })
}

/// Walks the namespace from the root and collects every reachable directory and file.
///
/// The walk is depth first, each directory's names in order, entering a subdirectory where its
/// name falls: that lists paths in `Path` order (a name's components compare as its bytes do),
/// so the image is built sorted without comparing a single path.
fn assemble<'n>(
    state: &State,
    names_of: impl Fn(&Path) -> Option<&'n BTreeMap<Name, Entry>>,
    mut bytes_of: impl FnMut(u64, &Inode) -> Arc<Vec<u8>>,
) -> DiskImage {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let mut done: BTreeMap<u64, Arc<Vec<u8>>> = BTreeMap::new();
    let mut stack: Vec<(PathBuf, btree_map::Iter<'n, Name, Entry>)> = Vec::new();
    if let Some(names) = names_of(Path::new("")) {
        stack.push((PathBuf::new(), names.iter()));
    }
    while let Some((dir, names)) = stack.last_mut() {
        let Some((name, entry)) = names.next() else {
            stack.pop();
            continue;
        };
        let path = child(dir, name);
        match entry {
            Entry::Dir => {
                dirs.push(path.clone());
                if let Some(names) = names_of(&path) {
                    stack.push((path, names.iter()));
                }
            }
            Entry::File(ino) => {
                let Some(inode) = state.inodes.get(*ino) else {
                    continue;
                };
                let bytes = done
                    .entry(*ino)
                    .or_insert_with(|| bytes_of(*ino, inode))
                    .clone();
                files.push((path, bytes));
            }
        }
    }
    DiskImage::from_sorted(Sorted { files, dirs })
}

/// `dir/name` (`name` alone in the root), as `Path::join` makes it for a confined directory and a
/// plain name, in one allocation.
fn child(dir: &Path, name: &str) -> PathBuf {
    let dir = dir.as_os_str();
    if dir.is_empty() {
        return PathBuf::from(name);
    }
    let mut path = OsString::with_capacity(dir.len() + 1 + name.len());
    path.push(dir);
    path.push("/");
    path.push(name);
    PathBuf::from(path)
}

/// Draws what survives a crash under `policy`, with the decisions for the log.
pub(crate) fn sample(
    state: &State,
    policy: CrashPolicy,
    rng: &mut ChaCha8Rng,
) -> (Choice, RebootOutcome) {
    let atomic = state.atomic_sectors;
    let choice = match policy {
        CrashPolicy::Strict => Choice::drop_all(state),
        CrashPolicy::KeepAll => Choice::keep_all(state),
        CrashPolicy::Torn { sector } => sample_torn(state, u64::from(sector), atomic, rng),
        CrashPolicy::Reorder { sector } if atomic => {
            sample_reorder_atomic(state, u64::from(sector), rng)
        }
        CrashPolicy::Reorder { sector } => sample_reorder(state, u64::from(sector), rng),
    };
    let mut choice = choice;
    order_metadata(
        state,
        &mut choice,
        matches!(policy, CrashPolicy::Torn { .. }),
    );
    let outcome = describe(state, &choice);
    (choice, outcome)
}

/// Torn: per file a prefix of its pending changes, the last kept write possibly torn; per
/// directory a prefix of its namespace operations.
fn sample_torn(state: &State, sector: u64, atomic: bool, rng: &mut ChaCha8Rng) -> Choice {
    let mut files = BTreeMap::new();
    for (ino, inode) in pending_inodes(state) {
        let options = torn_options(&inode.pending, sector, atomic);
        // Pick the prefix length first, then (half the time) a tear of its last write, so every
        // prefix is as likely as any other however many ways a write can tear.
        let m = inode.pending.len();
        let k = rng.random_range(0..=m);
        let whole: Vec<&TornOption> = options
            .iter()
            .filter(|o| o.kept == k && o.tear.is_none())
            .collect();
        let tears: Vec<&TornOption> = options
            .iter()
            .filter(|o| o.kept == k && o.tear.is_some())
            .collect();
        let pick = if !tears.is_empty() && rng.random_bool(0.5) {
            tears[rng.random_range(0..tears.len())]
        } else {
            whole[0]
        };
        files.insert(ino, pick.fate.clone());
    }
    let dir_prefix: BTreeMap<&Path, usize> = ns_counts(state)
        .into_iter()
        .map(|(dir, count)| (dir, rng.random_range(0..=count)))
        .collect();
    Choice {
        ns: torn_ns(state, &dir_prefix),
        files,
        sector,
    }
}

/// Reorder: every piece and every namespace operation survives on its own.
fn sample_reorder(state: &State, sector: u64, rng: &mut ChaCha8Rng) -> Choice {
    let mut files = BTreeMap::new();
    for (ino, inode) in pending_inodes(state) {
        let fills = pieces(&inode.pending, sector)
            .iter()
            .map(|_| {
                if rng.random_bool(0.5) {
                    Fill::Keep
                } else {
                    Fill::Drop
                }
            })
            .collect();
        files.insert(ino, FileFate::Pieces(fills));
    }
    let ns = state
        .ns_pending
        .iter()
        .map(|_| rng.random_bool(0.5))
        .collect();
    Choice { ns, files, sector }
}

/// Reorder on a device with atomic sectors: each sector keeps a prefix of the pieces written to
/// it, each `set_len` survives on its own, each namespace operation survives on its own.
fn sample_reorder_atomic(state: &State, sector: u64, rng: &mut ChaCha8Rng) -> Choice {
    let mut files = BTreeMap::new();
    for (ino, inode) in pending_inodes(state) {
        let units = atomic::units(&inode.pending, sector);
        let values = atomic::sample(&units, rng);
        files.insert(ino, FileFate::Pieces(atomic::fills(&units, &values)));
    }
    let ns = state
        .ns_pending
        .iter()
        .map(|_| rng.random_bool(0.5))
        .collect();
    Choice { ns, files, sector }
}

/// One way a file can come out of a Torn crash.
#[derive(Clone, Debug)]
pub(crate) struct TornOption {
    /// How many pending changes survive (the last one maybe torn).
    pub kept: usize,
    /// For a torn last write: how many of its pieces survive whole, and what the next one holds.
    pub tear: Option<(usize, Fill)>,
    pub fate: FileFate,
}

/// Every way a file's pending changes can come out of a Torn crash: dropped, each prefix kept
/// whole, and each prefix whose last write is cut after some of its sectors, with the next
/// sector left as it was, zeroed, or garbage. On a device with `atomic` sectors the next sector
/// is only ever left as it was: a sector never holds anything it was not written with.
pub(crate) fn torn_options(pending: &[Pending], sector: u64, atomic: bool) -> Vec<TornOption> {
    let tear_fills: &[Fill] = if atomic {
        &[Fill::Drop]
    } else {
        &[Fill::Drop, Fill::Zero, Fill::Garbage]
    };
    let all = pieces(pending, sector);
    let mut out = vec![TornOption {
        kept: 0,
        tear: None,
        fate: FileFate::DropAll,
    }];
    for k in 1..=pending.len() {
        let fills_before = |last_fills: &[Fill]| -> Vec<Fill> {
            let mut fills = Vec::with_capacity(all.len());
            let mut i = 0;
            for piece in &all {
                if piece.op + 1 < k {
                    fills.push(Fill::Keep);
                } else if piece.op + 1 == k {
                    fills.push(last_fills.get(i).copied().unwrap_or(Fill::Drop));
                    i += 1;
                } else {
                    fills.push(Fill::Drop);
                }
            }
            fills
        };
        let fate = if k == pending.len() {
            FileFate::KeepAll
        } else {
            let n = all.iter().filter(|p| p.op + 1 == k).count();
            FileFate::Pieces(fills_before(&vec![Fill::Keep; n]))
        };
        out.push(TornOption {
            kept: k,
            tear: None,
            fate,
        });
        if !matches!(pending[k - 1], Pending::Write { .. }) {
            continue;
        }
        let n = all.iter().filter(|p| p.op + 1 == k).count();
        for j in 0..n {
            for &fill in tear_fills {
                if j == 0 && fill == Fill::Drop {
                    // The same disk as keeping one change fewer.
                    continue;
                }
                let mut last = vec![Fill::Keep; j];
                last.push(fill);
                last.resize(n, Fill::Drop);
                out.push(TornOption {
                    kept: k,
                    tear: Some((j, fill)),
                    fate: FileFate::Pieces(fills_before(&last)),
                });
            }
        }
    }
    out
}

/// How many pending namespace operations touch each directory.
pub(crate) fn ns_counts(state: &State) -> BTreeMap<&Path, usize> {
    let mut counts = BTreeMap::new();
    for op in &state.ns_pending {
        for dir in op.dirs() {
            *counts.entry(dir).or_insert(0) += 1;
        }
    }
    counts
}

/// Which namespace operations survive when each directory keeps a prefix of its own operations.
/// An operation touching two directories (a rename across them) survives only inside both
/// prefixes; once one is dropped, every later operation of its directories is dropped too, so
/// each directory still keeps a prefix.
pub(crate) fn torn_ns(state: &State, prefix: &BTreeMap<&Path, usize>) -> Vec<bool> {
    let mut kept: BTreeMap<&Path, usize> = BTreeMap::new();
    let mut broken: BTreeSet<&Path> = BTreeSet::new();
    let mut out = Vec::with_capacity(state.ns_pending.len());
    for op in &state.ns_pending {
        let dirs = op.dirs();
        let ok = dirs.clone().all(|d| {
            !broken.contains(d)
                && kept.get(d).copied().unwrap_or(0) < prefix.get(d).copied().unwrap_or(0)
        });
        for d in dirs {
            if ok {
                *kept.entry(d).or_insert(0) += 1;
            } else {
                broken.insert(d);
            }
        }
        out.push(ok);
    }
    out
}
