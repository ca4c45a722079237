//! The compaction picker: a pure function from a version and the options to the next task.
//!
//! Leveled: L0 merges into L1 once it holds `l0_compaction_trigger` files; a deeper level whose
//! size passes its target (`level1_bytes * level_size_ratio^(level-1)`) pushes one file down,
//! the one that overlaps the fewest bytes below. A file with nothing to merge with below moves
//! down without being rewritten (a trivial move).
//!
//! Tiered: every L0 file is a sorted run; once there are `l0_compaction_trigger` runs, the
//! window of that many age-adjacent runs with the most similar sizes merges into one run.

use crate::options::{CompactionStyle, Options};
use crate::version::{SstMeta, VersionState};

/// What a compaction does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactionTask {
    /// Inputs, newest data first (L0 newest first, then the level below).
    pub inputs: Vec<SstMeta>,
    pub output_level: usize,
    /// Move the inputs to `output_level` as they are, writing nothing.
    pub trivial_move: bool,
    /// No older data for the task's key range lives below `output_level`, so tombstones can go.
    pub drop_tombstones: bool,
}

/// The next compaction to run, if any. `force` lowers the L0 trigger to a single file.
pub fn pick(state: &VersionState, options: &Options, force: bool) -> Option<CompactionTask> {
    match options.compaction {
        CompactionStyle::Leveled => pick_leveled(state, options, force),
        CompactionStyle::Tiered => pick_tiered(state, options, force),
    }
}

fn key_range(files: &[SstMeta]) -> Option<(&[u8], &[u8])> {
    let smallest = files.iter().map(|m| m.smallest.as_slice()).min()?;
    let largest = files.iter().map(|m| m.largest.as_slice()).max()?;
    Some((smallest, largest))
}

fn overlapping(
    state: &VersionState,
    level: usize,
    smallest: &[u8],
    largest: &[u8],
) -> Vec<SstMeta> {
    state
        .levels
        .get(level)
        .map(|l| {
            l.iter()
                .filter(|m| m.overlaps(smallest, largest))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn nothing_below(state: &VersionState, level: usize, inputs: &[SstMeta]) -> bool {
    let Some((smallest, largest)) = key_range(inputs) else {
        return true;
    };
    (level + 1..state.levels.len()).all(|l| overlapping(state, l, smallest, largest).is_empty())
}

fn mutually_disjoint(files: &[SstMeta]) -> bool {
    let mut sorted: Vec<&SstMeta> = files.iter().collect();
    sorted.sort_by(|a, b| a.smallest.cmp(&b.smallest));
    sorted.windows(2).all(|w| w[0].largest < w[1].smallest)
}

fn level_target(options: &Options, level: usize) -> u64 {
    let mut target = options.level1_bytes;
    for _ in 1..level {
        target = target.saturating_mul(options.level_size_ratio);
    }
    target
}

fn pick_leveled(state: &VersionState, options: &Options, force: bool) -> Option<CompactionTask> {
    let last_level = options.levels.max(2) - 1;
    let l0 = state.levels.first().map(Vec::as_slice).unwrap_or_default();
    let trigger = if force {
        1
    } else {
        options.l0_compaction_trigger
    };
    if !l0.is_empty() && l0.len() >= trigger {
        return Some(task_into(state, l0.to_vec(), 0, 1));
    }
    // The deeper level most over its target, ties to the shallower one.
    let mut best: Option<(usize, f64)> = None;
    for level in 1..last_level.min(state.levels.len()) {
        let score = state.level_bytes(level) as f64 / level_target(options, level) as f64;
        if score > 1.0 && best.is_none_or(|(_, s)| score > s) {
            best = Some((level, score));
        }
    }
    let (level, _) = best?;
    let file = state.levels[level]
        .iter()
        .min_by_key(|m| {
            let below: u64 = overlapping(state, level + 1, &m.smallest, &m.largest)
                .iter()
                .map(|o| o.size)
                .sum();
            (below, m.smallest.clone())
        })?
        .clone();
    Some(task_into(state, vec![file], level, level + 1))
}

/// Merges `upper` (from `level`) with what overlaps them in `output_level`.
fn task_into(
    state: &VersionState,
    upper: Vec<SstMeta>,
    level: usize,
    output_level: usize,
) -> CompactionTask {
    let (smallest, largest) = key_range(&upper)
        .map(|(s, l)| (s.to_vec(), l.to_vec()))
        .unwrap_or_default();
    let lower = overlapping(state, output_level, &smallest, &largest);
    let trivial_move = lower.is_empty() && (level > 0 || mutually_disjoint(&upper));
    let mut inputs = upper;
    inputs.extend(lower);
    let drop_tombstones = nothing_below(state, output_level, &inputs);
    CompactionTask {
        inputs,
        output_level,
        trivial_move,
        drop_tombstones,
    }
}

fn pick_tiered(state: &VersionState, options: &Options, force: bool) -> Option<CompactionTask> {
    let runs = state.levels.first().map(Vec::as_slice).unwrap_or_default();
    let width = if force {
        runs.len()
    } else {
        options.l0_compaction_trigger.max(2)
    };
    if runs.len() < 2 || runs.len() < width {
        return None;
    }
    // Runs are newest first; choose the window whose sizes are the most alike, ties to newest.
    let spread = |w: &[SstMeta]| {
        let max = w.iter().map(|m| m.size).max().unwrap_or(1).max(1);
        let min = w.iter().map(|m| m.size).min().unwrap_or(1).max(1);
        max as f64 / min as f64
    };
    let mut best = 0;
    for start in 1..=runs.len() - width {
        if spread(&runs[start..start + width]) < spread(&runs[best..best + width]) {
            best = start;
        }
    }
    let inputs = runs[best..best + width].to_vec();
    let includes_oldest = best + width == runs.len();
    let drop_tombstones = includes_oldest && nothing_below(state, 0, &inputs);
    Some(CompactionTask {
        inputs,
        output_level: 0,
        trivial_move: false,
        drop_tombstones,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::{VersionEdit, VersionState};

    fn meta(number: u64, level: usize, smallest: &str, largest: &str, size: u64) -> SstMeta {
        SstMeta {
            number,
            level,
            size,
            entries: 1,
            smallest: smallest.as_bytes().to_vec(),
            largest: largest.as_bytes().to_vec(),
            epoch: number,
        }
    }

    fn state(files: Vec<SstMeta>) -> VersionState {
        VersionState::empty(4)
            .apply(&VersionEdit {
                added: files,
                ..Default::default()
            })
            .unwrap()
    }

    fn opts() -> Options {
        Options {
            l0_compaction_trigger: 2,
            level1_bytes: 1000,
            level_size_ratio: 10,
            levels: 4,
            ..Options::default()
        }
    }

    #[test]
    fn l0_below_trigger_picks_nothing_unless_forced() {
        let s = state(vec![meta(1, 0, "a", "b", 10)]);
        assert_eq!(pick(&s, &opts(), false), None);
        let t = pick(&s, &opts(), true).unwrap();
        assert!(t.trivial_move);
        assert_eq!(t.output_level, 1);
    }

    #[test]
    fn overlapping_l0_files_merge_with_l1() {
        let s = state(vec![
            meta(1, 0, "a", "m", 10),
            meta(2, 0, "k", "z", 10),
            meta(3, 1, "b", "c", 10),
            meta(4, 1, "x", "y", 10),
            meta(5, 2, "a", "a", 10),
        ]);
        let t = pick(&s, &opts(), false).unwrap();
        assert!(!t.trivial_move);
        let numbers: Vec<u64> = t.inputs.iter().map(|m| m.number).collect();
        assert_eq!(numbers, vec![2, 1, 3, 4]);
        assert!(!t.drop_tombstones, "L2 holds older data for key a");
    }

    #[test]
    fn oversized_level_pushes_the_least_overlapping_file_down() {
        let s = state(vec![
            meta(1, 1, "a", "c", 600),
            meta(2, 1, "d", "f", 600),
            meta(3, 2, "a", "b", 500),
        ]);
        let t = pick(&s, &opts(), false).unwrap();
        assert_eq!(t.inputs[0].number, 2);
        assert!(t.trivial_move);
        assert_eq!(t.output_level, 2);
        assert!(t.drop_tombstones);
    }

    #[test]
    fn tiered_merges_the_most_alike_runs() {
        let o = Options {
            compaction: CompactionStyle::Tiered,
            l0_compaction_trigger: 2,
            ..opts()
        };
        let s = state(vec![
            meta(1, 0, "a", "z", 1000),
            meta(2, 0, "a", "z", 90),
            meta(3, 0, "a", "z", 100),
        ]);
        let t = pick(&s, &o, false).unwrap();
        let numbers: Vec<u64> = t.inputs.iter().map(|m| m.number).collect();
        assert_eq!(numbers, vec![3, 2]);
        assert!(!t.drop_tombstones, "the oldest run is not in the merge");
        assert_eq!(t.output_level, 0);
    }
}
