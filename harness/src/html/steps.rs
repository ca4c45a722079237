//! The band above the lanes: each workload step as a bar over the events it caused.
//!
//! A write's bar says how it ended: acknowledged and made durable (solid), acknowledged but not
//! yet durable (pale), in flight when the power went, or failed. A dashed line marks each
//! durability point; flags `D` and `N` mark the writes that bound what a recovery may return.
//! Bars are packed into as few rows as their labels allow.

use std::fmt::Write as _;

use super::page::{CrashMark, Page, StepKind, StepSpan};
use super::runs::Run;
use super::text::{cut, esc, px, text_width};
use super::timeline::{Epoch, PAD};

/// The height of one row of step bars.
pub const ROW_H: f64 = 17.0;
/// At most this many characters of a step's label are drawn (all of it is in the tooltip).
const LABEL_CHARS_MAX: usize = 30;

/// How a write ended, as far as the picture tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteState {
    /// Acknowledged, and a durability point followed before any power cut.
    Durable,
    /// Acknowledged, not yet durable when the power went (or when the run ended).
    Acked,
    /// The power went during the call.
    InFlight,
    /// The store returned an error.
    Failed,
}

impl WriteState {
    pub fn name(self) -> &'static str {
        match self {
            WriteState::Durable => "durable",
            WriteState::Acked => "acked",
            WriteState::InFlight => "in-flight",
            WriteState::Failed => "failed",
        }
    }
}

/// A `D` or `N` flag on a write's bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flag {
    pub step: usize,
    pub text: String,
    pub title: String,
}

/// What the steps band needs beyond the page: each write's fate and the bound flags.
pub struct StepFacts {
    /// For each step: its write state (writes only) and the durability point step, if any.
    pub writes: Vec<Option<(WriteState, Option<usize>)>>,
    pub flags: Vec<Flag>,
}

/// Works out each write's fate and where each crash's D and N fall.
pub fn facts(page: &Page) -> StepFacts {
    let cuts: Vec<usize> = page
        .crashes
        .iter()
        .map(|c| c.event_index as usize)
        .collect();
    let writes = (0..page.steps.len())
        .map(|s| write_state(&page.steps, s, &cuts))
        .collect();
    StepFacts {
        writes,
        flags: flags(&page.steps, &page.crashes),
    }
}

fn write_state(
    steps: &[StepSpan],
    s: usize,
    cuts: &[usize],
) -> Option<(WriteState, Option<usize>)> {
    let span = &steps[s];
    if span.kind != StepKind::Write {
        return None;
    }
    let inside = |c: &usize| (span.first_event..span.end_event).contains(c);
    if !span.acked {
        let state = if cuts.iter().any(inside) {
            WriteState::InFlight
        } else {
            WriteState::Failed
        };
        return Some((state, None));
    }
    // The first durability point at or after the write that no power cut came before.
    let point = (s..steps.len()).find(|&t| {
        steps[t].made_durable
            && !cuts
                .iter()
                .any(|c| (span.end_event..steps[t].first_event).contains(c))
    });
    let state = if point.is_some() {
        WriteState::Durable
    } else {
        WriteState::Acked
    };
    Some((state, point))
}

/// The bounds of the last power cut (the one whose recovery failed) as flags on write bars;
/// earlier cuts say theirs in their labels. The bounds count writes since the last accepted
/// recovery, so counting back from the writes issued before the cut finds them: the N-th is the
/// last write issued, the D-th is `N - D` writes before it.
fn flags(steps: &[StepSpan], crashes: &[CrashMark]) -> Vec<Flag> {
    let Some(crash) = crashes.last() else {
        return Vec::new();
    };
    let writes: Vec<usize> = (0..steps.len())
        .filter(|&s| steps[s].kind == StepKind::Write)
        .collect();
    let cut = crash.event_index as usize;
    let issued = writes
        .iter()
        .filter(|&&s| steps[s].first_event <= cut)
        .count();
    let (d, n) = crash.bounds;
    if n > issued || d > n {
        return Vec::new();
    }
    let base = issued - n;
    let mut out = Vec::new();
    if d > 0 {
        out.push(Flag {
            step: writes[base + d - 1],
            text: "D".to_string(),
            title: format!(
                "D: the {d} writes up to here were durable when the power went, so the recovery must keep them"
            ),
        });
    }
    if n > 0 {
        out.push(Flag {
            step: writes[issued - 1],
            text: "N".to_string(),
            title: format!(
                "N: the last write issued before the power went; the recovery may keep up to {n} writes"
            ),
        });
    }
    out
}

/// A step's place in an epoch: its bar's ends, or `None` when it ran in another epoch.
fn extent(epoch: &Epoch, span: &StepSpan, last_epoch: bool) -> Option<(f64, f64)> {
    // A step wholly inside a fold is not drawn; the fold says which steps it holds.
    let fold = epoch.columns.iter().find(|c| c.folded);
    let folded = |i: usize| fold.is_some_and(|c| (c.first..=c.last).contains(&i));
    if folded(span.first_event) && folded(span.end_event.max(span.first_event + 1) - 1) {
        return None;
    }
    if span.first_event < span.end_event {
        if span.end_event <= epoch.first || span.first_event >= epoch.end {
            return None;
        }
        let x0 = if span.first_event < epoch.first {
            PAD
        } else {
            epoch.x_at(span.first_event)
        };
        let x1 = if span.end_event > epoch.end {
            epoch.width - PAD
        } else {
            epoch.x_end(span.end_event - 1)
        };
        return Some((x0, x1.max(x0 + 4.0)));
    }
    // A step that touched no file sits where the log stood when it ran.
    let here = epoch.holds(span.first_event) || (last_epoch && span.first_event >= epoch.end);
    here.then(|| {
        let x = epoch.x_at(span.first_event);
        (x, x + 4.0)
    })
}

/// The steps band of one epoch: its SVG, how many rows it took and how far right it reaches.
pub fn band(
    page: &Page,
    facts: &StepFacts,
    runs: &[Run],
    epoch: &Epoch,
    last_epoch: bool,
    top: f64,
) -> (String, usize, f64) {
    let mut row_ends: Vec<f64> = Vec::new();
    let mut svg = String::new();
    for run in runs {
        let span = run_span(page, *run);
        let Some((x0, x1)) = extent(epoch, &span, last_epoch) else {
            continue;
        };
        let label = cut(&span.label, LABEL_CHARS_MAX);
        let flags: Vec<&Flag> = facts
            .flags
            .iter()
            .filter(|f| (run.first..=run.last).contains(&f.step))
            .collect();
        let reach = x1.max(x0 + text_width(&label) + 3.0) + 14.0 + 11.0 * flags.len() as f64;
        let row = match row_ends.iter().position(|end| *end + 3.0 <= x0) {
            Some(r) => r,
            None => {
                row_ends.push(0.0);
                row_ends.len() - 1
            }
        };
        row_ends[row] = reach;
        let bar = Bar {
            run: *run,
            span: &span,
            x: (x0, x1),
            y: top + row as f64 * ROW_H,
            label: &label,
            flags: &flags,
        };
        draw_step(&mut svg, page, facts, &bar);
    }
    let reach = row_ends.iter().copied().fold(0.0, f64::max);
    (svg, row_ends.len().max(1), reach)
}

/// A run of steps as one span: the events of all of them, a label that counts them.
fn run_span(page: &Page, run: Run) -> StepSpan {
    let first = &page.steps[run.first];
    if run.len() == 1 {
        return first.clone();
    }
    let last = &page.steps[run.last];
    let what = match first.kind {
        StepKind::Write => "writes",
        StepKind::Read => "reads",
        _ => "checks",
    };
    StepSpan {
        label: format!("{} {what}: {} …", run.len(), first.label),
        end_event: last.end_event,
        ..first.clone()
    }
}

/// One bar to draw.
struct Bar<'a> {
    run: Run,
    span: &'a StepSpan,
    x: (f64, f64),
    y: f64,
    label: &'a str,
    flags: &'a [&'a Flag],
}

/// At most this many steps of a run are listed in its tooltip.
const RUN_TITLE_STEPS_MAX: usize = 12;

fn bar_title(page: &Page, bar: &Bar<'_>) -> String {
    let (run, span) = (bar.run, bar.span);
    let mut title = if run.len() == 1 {
        format!("step {}: {}", run.first + 1, span.label)
    } else {
        let mut t = format!("steps {}..{} ({}):", run.first + 1, run.last + 1, run.len());
        for (k, s) in page.steps[run.first..=run.last].iter().enumerate() {
            if k == RUN_TITLE_STEPS_MAX {
                let _ = write!(t, "\n… and {} more", run.len() - k);
                break;
            }
            let _ = write!(t, "\n{}", s.label);
        }
        t
    };
    if span.first_event < span.end_event {
        let _ = write!(
            title,
            "\nevents #{}..#{}",
            span.first_event,
            span.end_event - 1
        );
    } else {
        title.push_str("\n(touched no file)");
    }
    title
}

fn draw_step(svg: &mut String, page: &Page, facts: &StepFacts, bar: &Bar<'_>) {
    let (span, (x0, x1), y, label) = (bar.span, bar.x, bar.y, bar.label);
    // The steps of a run share their fate (nothing in a run is a durability point or failed).
    let write = facts.writes.get(bar.run.first).copied().flatten();
    let mut class = format!("step step-{}", kind_name(span.kind));
    let mut title = bar_title(page, bar);
    if let Some((state, point)) = write {
        let _ = write!(class, " {}", state.name());
        title.push_str(match state {
            WriteState::Durable | WriteState::Acked => "\nacknowledged",
            WriteState::InFlight => "\nin flight when the power went",
            WriteState::Failed => "\nthe store returned an error",
        });
        match point {
            Some(p) if p == bar.run.first => {
                title.push_str("; durable when acknowledged (a synced write)")
            }
            Some(p) => {
                let _ = write!(
                    title,
                    "; made durable by step {} ({})",
                    p + 1,
                    page.steps[p].label
                );
            }
            None if state == WriteState::Acked => {
                title.push_str("; not yet durable when the power went")
            }
            None => {}
        }
    }
    if span.made_durable {
        class.push_str(" durability-point");
        title.push_str("\ndurability point: every write so far counts as durable");
    }
    let _ = write!(
        svg,
        "<g class=\"{class}\" data-step=\"{}\" data-steps=\"{}\"><title>{}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"2\"/><text x=\"{}\" y=\"{}\">{}</text>",
        bar.run.first + 1,
        bar.run.len(),
        esc(&title),
        px(x0),
        px(y + 2.0),
        px(x1 - x0),
        px(ROW_H - 5.0),
        px(x0 + 3.0),
        px(y + ROW_H - 6.0),
        esc(label)
    );
    let mark = match write {
        Some((WriteState::Durable | WriteState::Acked, _)) => Some(("ack", "✓")),
        Some((WriteState::Failed, _)) => Some(("nack", "✗")),
        Some((WriteState::InFlight, _)) => Some(("nack", "⚡")),
        None => None,
    };
    let label_end = x0 + 3.0 + text_width(label);
    if let Some((c, m)) = mark {
        let _ = write!(
            svg,
            "<text class=\"{c}\" x=\"{}\" y=\"{}\">{m}</text>",
            px(x1.max(label_end) + 2.0),
            px(y + ROW_H - 6.0)
        );
    }
    for (j, f) in bar.flags.iter().enumerate() {
        let _ = write!(
            svg,
            "<g class=\"flag flag-{}\"><title>{}</title><text x=\"{}\" y=\"{}\">{}</text></g>",
            f.text.to_ascii_lowercase(),
            esc(&f.title),
            px(x1.max(label_end) + 14.0 + 11.0 * j as f64),
            px(y + ROW_H - 6.0),
            esc(&f.text)
        );
    }
    svg.push_str("</g>");
}

/// The CSS name of a step kind.
pub fn kind_name(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Write => "write",
        StepKind::Read => "read",
        StepKind::Durability => "durability",
        StepKind::Maintenance => "maintenance",
        StepKind::Crash => "crash",
        StepKind::Fault => "fault",
        StepKind::Check => "check",
        StepKind::Epilogue => "epilogue",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultfs::{CrashPolicy, Phase};

    fn span(kind: StepKind, first: usize, end: usize, acked: bool, durable: bool) -> StepSpan {
        StepSpan {
            label: String::new(),
            kind,
            first_event: first,
            end_event: end,
            acked,
            made_durable: durable,
        }
    }

    #[test]
    fn d_and_n_fall_on_the_writes_the_bounds_count() {
        // w1 (synced), w2, w3, then the power goes at event 9 with D..N = 1..3.
        let steps = vec![
            span(StepKind::Write, 0, 3, true, true),
            span(StepKind::Write, 3, 5, true, false),
            span(StepKind::Write, 5, 7, true, false),
            span(StepKind::Crash, 9, 12, false, false),
        ];
        let crash = CrashMark {
            event_index: 9,
            phase: Phase::Write,
            during_recovery: false,
            bounds: (1, 3),
            policy: CrashPolicy::Strict,
            result: String::new(),
        };
        let f = flags(&steps, &[crash]);
        let placed: Vec<(usize, &str)> = f.iter().map(|f| (f.step, f.text.as_str())).collect();
        assert_eq!(placed, vec![(0, "D"), (2, "N")]);
        assert_eq!(
            write_state(&steps, 0, &[9]),
            Some((WriteState::Durable, Some(0)))
        );
        assert_eq!(
            write_state(&steps, 1, &[9]),
            Some((WriteState::Acked, None))
        );
    }
}
