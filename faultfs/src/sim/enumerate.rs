//! Listing the distinct disks a crash at one point can leave.
//!
//! Candidates come in a fixed order that puts the most telling disks first: everything dropped,
//! everything kept, then one file or operation deviating from each of those, then the rest (every
//! combination, for small cases). Duplicates are skipped by content hash, and the walk stops at
//! the caller's bound or after a fixed number of candidates, so it always ends.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use std::path::Path;
use xxhash_rust::xxh3::xxh3_64;

use super::CrashPolicy;
use super::atomic;
use super::crash::{
    Choice, FileFate, Fill, TornOption, build_image, durable_image, ns_counts, order_metadata,
    pending_inodes, pieces, torn_ns, torn_options,
};
use super::image::DiskImage;
use super::state::{Entry, NsOp, State};

/// How many candidates a walk may build per image it is asked for, so that a case with many
/// equivalent outcomes cannot spin for long.
const CANDIDATES_PER_IMAGE: usize = 64;
/// The least number of candidates any walk may build, so small cases are enumerated completely.
const CANDIDATES_MIN: usize = 1 << 12;

/// The distinct disks a crash now can leave under `policy`, at most `bound`, deduplicated.
pub(crate) fn images(state: &State, policy: CrashPolicy, bound: usize) -> Vec<DiskImage> {
    if bound == 0 {
        return Vec::new();
    }
    if !state.has_pending() {
        return vec![durable_image(state).clone()];
    }
    let mut out = Collector::new(bound, state);
    match policy {
        CrashPolicy::Strict => out.offer(build_image(state, &Choice::drop_all(state))),
        CrashPolicy::KeepAll => out.offer(build_image(state, &Choice::keep_all(state))),
        CrashPolicy::Torn { sector } => torn(state, u64::from(sector), &mut out),
        CrashPolicy::Reorder { sector } if state.atomic_sectors => {
            reorder_atomic(state, u64::from(sector), &mut out)
        }
        CrashPolicy::Reorder { sector } => reorder(state, u64::from(sector), &mut out),
    }
    out.images
}

/// Gathers distinct images up to a bound and counts candidates against a budget.
struct Collector {
    images: Vec<DiskImage>,
    seen: HashSet<u64>,
    bound: usize,
    budget: usize,
    /// The digests of the byte buffers the disk's files hold now (durable and live), by
    /// address, filled as they are first hashed. Candidates share these buffers for every file a
    /// crash leaves as it was, so each is hashed once per walk, not once per candidate. Only
    /// buffers the state keeps alive for the whole walk are remembered: a buffer built for one
    /// candidate may be freed and its address reused by another.
    shared: Vec<(usize, Option<u64>)>,
}

impl Collector {
    fn new(bound: usize, state: &State) -> Collector {
        // Only files a candidate can hold: those named now or on the disk, or by a pending
        // operation. A long run leaves behind many more inodes (every file it ever removed) that
        // no image shows; a buffer left out here would only be hashed once per candidate.
        let mut inos: Vec<u64> = state
            .dirs
            .values()
            .flat_map(|dir| dir.live.values().chain(dir.durable.values()).copied())
            .chain(state.ns_pending.iter().map(NsOp::entry))
            .filter_map(|entry| match entry {
                Entry::File(ino) => Some(ino),
                Entry::Dir => None,
            })
            .collect();
        inos.sort_unstable();
        inos.dedup();
        let mut shared: Vec<(usize, Option<u64>)> = inos
            .into_iter()
            .filter_map(|ino| state.inodes.get(ino))
            .flat_map(|inode| [&inode.durable, &inode.live])
            .map(|bytes| (Arc::as_ptr(bytes) as usize, None))
            .collect();
        // Sorted by address for binary search; a buffer shared by live and durable once.
        shared.sort_unstable_by_key(|(addr, _)| *addr);
        shared.dedup_by_key(|(addr, _)| *addr);
        Collector {
            images: Vec::new(),
            seen: HashSet::new(),
            bound,
            budget: bound
                .saturating_mul(CANDIDATES_PER_IMAGE)
                .max(CANDIDATES_MIN),
            shared,
        }
    }

    /// Adds an image unless an equal one is already in; the order of `images` is the order of offers.
    fn offer(&mut self, image: DiskImage) {
        self.budget = self.budget.saturating_sub(1);
        let shared = &mut self.shared;
        let hash = image.content_hash_with(|bytes| {
            let addr = Arc::as_ptr(bytes) as usize;
            match shared.binary_search_by_key(&addr, |(a, _)| *a) {
                Ok(i) => *shared[i].1.get_or_insert_with(|| xxh3_64(bytes)),
                Err(_) => xxh3_64(bytes),
            }
        });
        if self.seen.insert(hash) {
            self.images.push(image);
        }
    }

    fn done(&self) -> bool {
        self.images.len() >= self.bound || self.budget == 0
    }
}

/// Torn: one unit per file (which of its Torn options) and per directory (how long a prefix).
fn torn(state: &State, sector: u64, out: &mut Collector) {
    let files: Vec<(u64, Vec<TornOption>)> = pending_inodes(state)
        .map(|(ino, inode)| {
            let options = torn_options(&inode.pending, sector, state.atomic_sectors);
            (ino, options)
        })
        .collect();
    let dirs: Vec<(&Path, usize)> = ns_counts(state).into_iter().collect();
    // Unit values: a file's option index (0 = all dropped) and a directory's prefix length.
    let keep_all_index = |options: &[TornOption]| {
        options
            .iter()
            .position(|o| o.fate == FileFate::KeepAll)
            .unwrap_or(0)
    };
    let maxs: Vec<usize> = files
        .iter()
        .map(|(_, o)| o.len() - 1)
        .chain(dirs.iter().map(|(_, count)| *count))
        .collect();
    let kept: Vec<usize> = files
        .iter()
        .map(|(_, o)| keep_all_index(o))
        .chain(dirs.iter().map(|(_, count)| *count))
        .collect();
    let to_choice = |values: &[usize]| {
        let (file_values, dir_values) = values.split_at(files.len());
        let file_fates = files
            .iter()
            .zip(file_values)
            .map(|((ino, options), v)| (*ino, options[*v].fate.clone()))
            .collect();
        let prefix: BTreeMap<&Path, usize> = dirs
            .iter()
            .zip(dir_values)
            .map(|((dir, _), v)| (*dir, *v))
            .collect();
        Choice {
            ns: torn_ns(state, &prefix),
            files: file_fates,
            sector,
        }
    };
    walk(&maxs, &kept, out, |values| {
        let mut choice = to_choice(values);
        order_metadata(state, &mut choice, true);
        build_image(state, &choice)
    });
}

/// Reorder: one keep-or-drop bit per sector piece of every file and per namespace operation.
fn reorder(state: &State, sector: u64, out: &mut Collector) {
    let files: Vec<(u64, usize)> = pending_inodes(state)
        .map(|(ino, inode)| (ino, pieces(&inode.pending, sector).len()))
        .collect();
    let ns_ops = state.ns_pending.len();
    let n = files.iter().map(|(_, count)| count).sum::<usize>() + ns_ops;
    let to_choice = |bits: &[bool]| {
        let mut at = 0;
        let mut file_fates = BTreeMap::new();
        for (ino, count) in &files {
            let fills = bits[at..at + count]
                .iter()
                .map(|keep| if *keep { Fill::Keep } else { Fill::Drop })
                .collect();
            file_fates.insert(*ino, FileFate::Pieces(fills));
            at += count;
        }
        Choice {
            ns: bits[at..].to_vec(),
            files: file_fates,
            sector,
        }
    };
    // Subset sizes alternate from both ends (0, n, 1, n-1, ...): all dropped, all kept, one kept,
    // one dropped, and so on inwards.
    let mut sizes = Vec::with_capacity(n + 1);
    let (mut lo, mut hi) = (0usize, n);
    while lo <= hi {
        sizes.push(lo);
        if hi != lo {
            sizes.push(hi);
        }
        lo += 1;
        if hi == 0 {
            break;
        }
        hi -= 1;
    }
    for size in sizes {
        let mut combo: Vec<usize> = (0..size).collect();
        loop {
            if out.done() {
                return;
            }
            let mut bits = vec![false; n];
            for i in &combo {
                bits[*i] = true;
            }
            let mut choice = to_choice(&bits);
            order_metadata(state, &mut choice, false);
            out.offer(build_image(state, &choice));
            if !next_combination(&mut combo, n) {
                break;
            }
        }
    }
}

/// Reorder on a device with atomic sectors: one unit per sector a file's writes touched (how many
/// of its pieces survive, in order), per `set_len` and per namespace operation (kept or not).
fn reorder_atomic(state: &State, sector: u64, out: &mut Collector) {
    let files: Vec<(u64, Vec<Vec<usize>>)> = pending_inodes(state)
        .map(|(ino, inode)| (ino, atomic::units(&inode.pending, sector)))
        .collect();
    let maxs: Vec<usize> = files
        .iter()
        .flat_map(|(_, units)| units.iter().map(Vec::len))
        .chain(state.ns_pending.iter().map(|_| 1))
        .collect();
    let to_choice = |values: &[usize]| {
        let mut at = 0;
        let mut file_fates = BTreeMap::new();
        for (ino, units) in &files {
            let fills = atomic::fills(units, &values[at..at + units.len()]);
            file_fates.insert(*ino, FileFate::Pieces(fills));
            at += units.len();
        }
        Choice {
            ns: values[at..].iter().map(|v| *v > 0).collect(),
            files: file_fates,
            sector,
        }
    };
    // Everything kept is every unit at its largest value.
    walk(&maxs, &maxs, out, |values| {
        let mut choice = to_choice(values);
        order_metadata(state, &mut choice, false);
        build_image(state, &choice)
    });
}

/// Advances `combo` (sorted indices into 0..n) to the next combination of its size, in
/// lexicographic order; false when it was the last.
fn next_combination(combo: &mut [usize], n: usize) -> bool {
    let k = combo.len();
    let mut i = k;
    while i > 0 {
        i -= 1;
        if combo[i] < n - k + i {
            combo[i] += 1;
            for j in i + 1..k {
                combo[j] = combo[j - 1] + 1;
            }
            return true;
        }
    }
    false
}

/// Walks unit values: all zero, all `kept`, single deviations from each, then every combination.
fn walk(
    maxs: &[usize],
    kept: &[usize],
    out: &mut Collector,
    mut build: impl FnMut(&[usize]) -> DiskImage,
) {
    let zeros = vec![0; maxs.len()];
    let mut offer = |values: &[usize], out: &mut Collector| {
        if !out.done() {
            out.offer(build(values));
        }
    };
    offer(&zeros, out);
    offer(kept, out);
    for base in [&zeros, kept] {
        for unit in 0..maxs.len() {
            for value in 0..=maxs[unit] {
                if value == base[unit] {
                    continue;
                }
                let mut values = base.to_vec();
                values[unit] = value;
                offer(&values, out);
            }
        }
    }
    // Every combination, as an odometer over the units.
    let mut values = zeros;
    loop {
        if out.done() {
            return;
        }
        offer(&values, out);
        let mut unit = 0;
        loop {
            if unit == maxs.len() {
                return;
            }
            if values[unit] < maxs[unit] {
                values[unit] += 1;
                break;
            }
            values[unit] = 0;
            unit += 1;
        }
    }
}
