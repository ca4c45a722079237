//! The atomic-sector device model (see [`super::SimFs::set_atomic_sectors`]).
//!
//! Some devices write a sector all or nothing (SQLite calls them `SQLITE_IOCAP_ATOMIC512` and
//! `POWERSAFE_OVERWRITE`), and some engines rely on it: a B-tree that rewrites a 320-byte header
//! in place inside one 512-byte sector expects to find the old header or the new one after a
//! crash. On such a device a sector that pending writes touched holds, after a crash, the bytes
//! it held at some moment: its durable bytes, or its bytes as one of those writes left them. It
//! never holds zeros or garbage, never a mix of two moments, and bytes that no write touched
//! never change.
//!
//! In terms of pieces (a write cut at sector boundaries, see [`super::crash::pieces`]): under
//! `Torn` a tear keeps whole pieces only, and under `Reorder` each sector keeps a prefix of the
//! pieces that fall in it, in the order they were written, instead of any subset. A `set_len`
//! changes a length, not a sector, and survives on its own as without the model.
//!
//! A unit is a list of piece indices of one file; choosing a value `v` for it keeps its first `v`
//! pieces and drops the rest. Sampling and enumeration both speak in units, so a sampled disk is
//! always one the enumeration lists.

use std::collections::BTreeMap;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::crash::{Fill, pieces};
use super::state::Pending;

/// The units of one file's pieces under atomic sectors: one per sector that writes touched (in
/// sector order), holding that sector's pieces in the order they were written, then one per
/// `set_len` (a piece whose range is empty).
pub(crate) fn units(pending: &[Pending], sector: u64) -> Vec<Vec<usize>> {
    let mut sectors: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    let mut set_lens = Vec::new();
    for (i, piece) in pieces(pending, sector).iter().enumerate() {
        match pending[piece.op] {
            Pending::SetLen { .. } => set_lens.push(vec![i]),
            // A piece never crosses a sector boundary, so its start names its sector.
            Pending::Write { .. } => sectors
                .entry(piece.start / sector.max(1))
                .or_default()
                .push(i),
        }
    }
    sectors.into_values().chain(set_lens).collect()
}

/// The fills (one per piece, in piece order) that keep the first `values[u]` pieces of each unit
/// `u` and drop the rest.
pub(crate) fn fills(units: &[Vec<usize>], values: &[usize]) -> Vec<Fill> {
    let mut out = vec![Fill::Drop; units.iter().map(Vec::len).sum()];
    for (unit, kept) in units.iter().zip(values) {
        for i in unit.iter().take(*kept) {
            out[*i] = Fill::Keep;
        }
    }
    out
}

/// Draws a value for each unit: how many of its pieces survive, every count as likely.
pub(crate) fn sample(units: &[Vec<usize>], rng: &mut ChaCha8Rng) -> Vec<usize> {
    units
        .iter()
        .map(|unit| rng.random_range(0..=unit.len()))
        .collect()
}
