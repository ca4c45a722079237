//! Runs of like steps, drawn as one bar: what keeps a long run narrow.
//!
//! A workload of hundreds of unsynced puts appends one log record each; drawn one column and one
//! bar per put, the picture is tens of thousands of pixels wide and nothing in it differs from
//! its neighbour. Consecutive steps join a run when nothing about them needs telling apart:
//! writes the store acknowledged that touched at most one file, each only by plain successful
//! writes, none a durability point; or reads and checks, which change nothing. A run's writes
//! then share one column on their file (`×n`) and one bar above it (`12 writes`); a sync, a
//! flush, another file, a failure or a fault ends the run.

use faultfs::{Event, EventOp};

use super::lanes::{file_paths, is_shown};
use super::page::{StepKind, StepSpan};

/// Steps `first..=last` of the page, drawn as one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub first: usize,
    pub last: usize,
}

impl Run {
    /// How many steps it holds.
    pub fn len(&self) -> usize {
        self.last - self.first + 1
    }
}

/// A case with at most this many steps draws every step on its own: it is small enough to read
/// whole, and a shrunk case always is.
pub const RUN_STEPS_MIN: usize = 40;

/// Groups the steps into runs, in order; every step is in exactly one.
pub fn runs(steps: &[StepSpan], events: &[Event]) -> Vec<Run> {
    if steps.len() <= RUN_STEPS_MIN {
        return (0..steps.len())
            .map(|s| Run { first: s, last: s })
            .collect();
    }
    let mut out: Vec<Run> = Vec::new();
    let mut open: Option<(StepKind, Option<&str>)> = None;
    for (s, span) in steps.iter().enumerate() {
        let this = joinable(span, events);
        let joined = match (open, this) {
            (Some((kind, path)), Some((k, p)))
                if kind == k && (path.is_none() || p.is_none() || path == p) =>
            {
                open = Some((kind, path.or(p)));
                true
            }
            _ => {
                open = this;
                false
            }
        };
        match out.last_mut() {
            Some(run) if joined => run.last = s,
            _ => out.push(Run { first: s, last: s }),
        }
    }
    out
}

/// The kind and the one file of a step that may join a run, or `None`.
fn joinable<'a>(span: &StepSpan, events: &'a [Event]) -> Option<(StepKind, Option<&'a str>)> {
    let calm = match span.kind {
        StepKind::Write => span.acked && !span.made_durable,
        StepKind::Read | StepKind::Check => true,
        _ => false,
    };
    if !calm {
        return None;
    }
    let mut path: Option<&str> = None;
    let end = span.end_event.min(events.len());
    for e in events
        .get(span.first_event..end)?
        .iter()
        .filter(|e| is_shown(e))
    {
        let plain_write =
            matches!(e.op, EventOp::Write { .. }) && e.result == "ok" && e.fault.is_none();
        let p = file_paths(&e.op).first().copied();
        if !plain_write || (path.is_some() && p != path) {
            return None;
        }
        path = p;
    }
    Some((span.kind, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultfs::Phase;

    fn write(path: &str) -> Event {
        Event {
            index: 0,
            phase: Phase::Write,
            op: EventOp::Write {
                path: path.into(),
                offset: 0,
                len: 1,
            },
            result: "ok".into(),
            fault: None,
        }
    }

    fn span(kind: StepKind, first: usize, end: usize, durable: bool) -> StepSpan {
        StepSpan {
            label: String::new(),
            kind,
            first_event: first,
            end_event: end,
            acked: true,
            made_durable: durable,
        }
    }

    #[test]
    fn unsynced_writes_to_one_log_form_a_run_that_a_synced_write_ends() {
        let events = vec![
            write("d/log"),
            write("d/log"),
            write("d/log"),
            write("d/other"),
        ];
        let mut steps = vec![
            span(StepKind::Write, 0, 1, false),
            span(StepKind::Write, 1, 2, false),
            span(StepKind::Write, 2, 3, true),
            span(StepKind::Read, 3, 3, false),
            span(StepKind::Read, 3, 3, false),
            span(StepKind::Write, 3, 4, false),
        ];
        let pairs = |steps: &[StepSpan]| -> Vec<(usize, usize)> {
            runs(steps, &events)
                .iter()
                .map(|r| (r.first, r.last))
                .collect()
        };
        // A small case keeps every step apart.
        assert_eq!(pairs(&steps).len(), steps.len());
        steps.extend((0..RUN_STEPS_MIN).map(|_| span(StepKind::Check, 4, 4, false)));
        assert_eq!(pairs(&steps)[..4], [(0, 1), (2, 2), (3, 4), (5, 5)]);
    }
}
