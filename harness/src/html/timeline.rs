//! The time axis: the log cut into epochs at its reboots, and each epoch into columns.
//!
//! An epoch runs from power-on to the next reboot (with the damage that reboot applied), so each
//! power cut ends one and the story of a crash reads left to right inside it. Only events that
//! change the disk get a column (see [`super::lanes::is_shown`]); a run of writes to one file in
//! one run of steps and one phase shares a column (drawn `×n`), which keeps a long run narrow
//! without hiding which file was written when. A reboot gets a wide column to draw what
//! survived. An epoch of hundreds of columns keeps its start and the approach to its power cut
//! and folds the middle into one gap; the page lists every event as text as well.

use faultfs::{Event, EventOp};

use super::lanes::{file_paths, is_shown};

/// The narrowest column of one event, in pixels (a small case gets wider ones, up to
/// [`COLUMN_W_MAX`], so it fills the page).
pub const COLUMN_W: f64 = 18.0;
pub const COLUMN_W_MAX: f64 = 36.0;
/// The width of a reboot's column: room for each file's bytes and what survived of them.
pub const REBOOT_W: f64 = 250.0;
/// Space before the first column and after the last.
pub const PAD: f64 = 10.0;

/// One place on the time axis: one event, or several writes merged.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// The events it stands for: `first..=last` (hidden events in between included).
    pub first: usize,
    pub last: usize,
    /// How many shown events it stands for.
    pub count: usize,
    pub x: f64,
    pub w: f64,
    /// A fold: the middle of a long epoch, drawn as one gap (its events are in the text list).
    pub folded: bool,
}

impl Column {
    /// The horizontal middle.
    pub fn mid(&self) -> f64 {
        self.x + self.w / 2.0
    }
}

/// From one power-on to the next reboot.
#[derive(Clone, Debug, PartialEq)]
pub struct Epoch {
    /// Counted from 1.
    pub number: usize,
    /// The events `first..end`.
    pub first: usize,
    pub end: usize,
    /// The reboot that ends it, if one does.
    pub reboot: Option<usize>,
    pub columns: Vec<Column>,
    pub width: f64,
}

impl Epoch {
    /// Tells whether event `i` falls in this epoch.
    pub fn holds(&self, i: usize) -> bool {
        (self.first..self.end).contains(&i)
    }

    /// The column showing event `i`, if it is shown.
    pub fn column_of(&self, i: usize) -> Option<&Column> {
        let at = self.columns.partition_point(|c| c.last < i);
        self.columns.get(at).filter(|c| c.first <= i)
    }

    /// Where event `i` starts on the axis: its column, or the next column after it.
    pub fn x_at(&self, i: usize) -> f64 {
        let at = self.columns.partition_point(|c| c.last < i);
        self.columns.get(at).map_or(self.width - PAD, |c| c.x)
    }

    /// Where event `i` ends on the axis: the end of its column, or of the last column before it.
    pub fn x_end(&self, i: usize) -> f64 {
        let at = self.columns.partition_point(|c| c.first <= i);
        match at.checked_sub(1).and_then(|k| self.columns.get(k)) {
            Some(c) => c.x + c.w,
            None => PAD,
        }
    }
}

/// Cuts the log into epochs and lays out their columns, each event's `column_w` wide.
/// `step_of[i]` is the step that caused event `i` (writes merge only inside one step).
pub fn epochs(events: &[Event], step_of: &[Option<usize>], column_w: f64) -> Vec<Epoch> {
    let mut out = Vec::new();
    let mut first = 0;
    let mut i = 0;
    while i < events.len() {
        if matches!(events[i].op, EventOp::Reboot { .. }) {
            let reboot = i;
            i += 1;
            // The damage a reboot applied belongs to it.
            while i < events.len() && matches!(events[i].op, EventOp::Damage { .. }) {
                i += 1;
            }
            let span = (first, i, Some(reboot));
            out.push(layout(out.len() + 1, events, span, step_of, column_w));
            first = i;
        } else {
            i += 1;
        }
    }
    if first < events.len() || out.is_empty() {
        let span = (first, events.len(), None);
        out.push(layout(out.len() + 1, events, span, step_of, column_w));
    }
    out
}

/// Lays out the events `first..end` that end with `reboot`, if any.
fn layout(
    number: usize,
    events: &[Event],
    (first, end, reboot): (usize, usize, Option<usize>),
    step_of: &[Option<usize>],
    column_w: f64,
) -> Epoch {
    let mut columns: Vec<Column> = Vec::new();
    let mut x = PAD;
    let mut cut = false;
    for i in first..end {
        let e = &events[i];
        let is_cut = e.result.starts_with("power_loss") || matches!(e.op, EventOp::PowerOff);
        // After the power went, every further call fails the same way and changes nothing.
        if !is_shown(e) || (cut && is_cut) {
            continue;
        }
        cut |= is_cut;
        if let Some(last) = columns.last_mut()
            && merges(
                &events[last.last],
                e,
                step_of.get(last.last),
                step_of.get(i),
            )
        {
            last.last = i;
            last.count += 1;
            continue;
        }
        let w = if matches!(e.op, EventOp::Reboot { .. }) {
            REBOOT_W
        } else {
            column_w
        };
        columns.push(Column {
            first: i,
            last: i,
            count: 1,
            x,
            w,
            folded: false,
        });
        x += w;
    }
    let width = fold(&mut columns) + PAD;
    Epoch {
        number,
        first,
        end,
        reboot,
        columns,
        width,
    }
}

/// Past this many columns an epoch folds its middle into one gap.
const FOLD_COLUMNS_MIN: usize = 240;
/// The columns kept before the gap, and after it (the approach to the power cut matters most).
const FOLD_HEAD: usize = 30;
const FOLD_TAIL: usize = 170;
/// The width of the gap.
const FOLD_W: f64 = 120.0;

/// Folds the middle of a long epoch; returns where the last column ends.
fn fold(columns: &mut Vec<Column>) -> f64 {
    let end_of = |c: &[Column]| c.last().map_or(PAD, |c| c.x + c.w);
    if columns.len() < FOLD_COLUMNS_MIN {
        return end_of(columns);
    }
    let tail = columns.split_off(columns.len() - FOLD_TAIL);
    let middle = columns.split_off(FOLD_HEAD);
    let (Some(a), Some(b)) = (middle.first(), middle.last()) else {
        columns.extend(tail);
        return end_of(columns);
    };
    let gap = Column {
        first: a.first,
        last: b.last,
        count: middle.iter().map(|c| c.count).sum(),
        x: a.x,
        w: FOLD_W,
        folded: true,
    };
    let shift = gap.x + gap.w - tail.first().map_or(gap.x + gap.w, |c| c.x);
    columns.push(gap);
    columns.extend(tail.into_iter().map(|c| Column {
        x: c.x + shift,
        ..c
    }));
    end_of(columns)
}

/// Two writes (or two resizes) to one file, in one step and phase, both plain successes.
fn merges(
    a: &Event,
    b: &Event,
    step_a: Option<&Option<usize>>,
    step_b: Option<&Option<usize>>,
) -> bool {
    let same_kind = matches!(
        (&a.op, &b.op),
        (EventOp::Write { .. }, EventOp::Write { .. })
            | (EventOp::SetLen { .. }, EventOp::SetLen { .. })
    );
    same_kind
        && file_paths(&a.op) == file_paths(&b.op)
        && a.phase == b.phase
        && step_a == step_b
        && [a, b].iter().all(|e| e.result == "ok" && e.fault.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultfs::CrashPolicy;

    use crate::html::ok_event as ev;

    fn write(offset: u64) -> Event {
        ev(EventOp::Write {
            path: "d/f".into(),
            offset,
            len: 4,
        })
    }

    #[test]
    fn a_long_epoch_folds_its_middle_and_keeps_the_approach_to_the_cut() {
        let events: Vec<Event> = (0..400)
            .map(|i| {
                ev(EventOp::Sync {
                    path: format!("d/f{i}").into(),
                })
            })
            .collect();
        let steps = vec![None; events.len()];
        let e = &epochs(&events, &steps, COLUMN_W)[0];
        assert_eq!(e.columns.len(), FOLD_HEAD + 1 + FOLD_TAIL);
        let gap = &e.columns[FOLD_HEAD];
        assert!(gap.folded);
        assert_eq!((gap.first, gap.last, gap.count), (30, 229, 200));
        assert_eq!(e.columns.last().map(|c| c.first), Some(399));
        assert_eq!(e.columns[FOLD_HEAD + 1].x, gap.x + FOLD_W);
    }

    #[test]
    fn writes_of_one_step_share_a_column_and_a_reboot_ends_an_epoch() {
        let events = vec![
            write(0),
            write(4),
            ev(EventOp::Read {
                path: "d/f".into(),
                offset: 0,
                len: 4,
            }),
            write(8),
            ev(EventOp::PowerOff),
            ev(EventOp::Reboot {
                policy: CrashPolicy::Strict,
                seed: 0,
                outcome: faultfs::RebootOutcome {
                    atomic_sectors: false,
                    ordered_metadata: false,
                    decisions: Vec::new(),
                },
            }),
            write(0),
        ];
        let steps = vec![
            Some(0),
            Some(0),
            Some(1),
            Some(1),
            Some(1),
            Some(1),
            Some(2),
        ];
        let epochs = epochs(&events, &steps, COLUMN_W);
        assert_eq!(epochs.len(), 2);
        let cols: Vec<(usize, usize, usize)> = epochs[0]
            .columns
            .iter()
            .map(|c| (c.first, c.last, c.count))
            .collect();
        // The read is not drawn; the third write is another step's.
        assert_eq!(cols, vec![(0, 1, 2), (3, 3, 1), (4, 4, 1), (5, 5, 1)]);
        assert_eq!(epochs[0].reboot, Some(5));
        assert_eq!(epochs[1].first, 6);
        assert_eq!(epochs[0].x_at(2), epochs[0].columns[1].x);
        assert!(epochs[0].column_of(2).is_none());
    }
}
