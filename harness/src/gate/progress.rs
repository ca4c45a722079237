//! Progress while a gate runs: a bar on a terminal, a plain line every few seconds otherwise
//! (CI logs), nothing when asked to be quiet. Progress goes to stderr; results go to stdout.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::gate::pool::Tally;

/// How often the plain display prints a line.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub enum Progress {
    Bar {
        bar: ProgressBar,
        /// The bar measures seconds of a time budget (otherwise seeds of a seed budget).
        by_time: bool,
        start: Instant,
    },
    Plain {
        start: Instant,
        last: Instant,
    },
    Quiet,
}

impl Progress {
    /// The display for this environment: a bar when stderr is a terminal.
    pub fn new(quiet: bool, seeds: Option<u64>, seconds: Option<f64>) -> Progress {
        let now = Instant::now();
        if quiet {
            return Progress::Quiet;
        }
        if !std::io::stderr().is_terminal() {
            return Progress::Plain {
                start: now,
                last: now,
            };
        }
        // With both budgets the bar follows the seeds; the deadline still stops the sweep.
        let (len, by_time) = match (seeds, seconds) {
            (Some(n), _) => (n, false),
            (None, Some(s)) => ((s * 10.0) as u64, true),
            (None, None) => (0, false),
        };
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        let template = if by_time {
            "{spinner} [{elapsed_precise}] {wide_bar} {msg}"
        } else {
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} seeds {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        Progress::Bar {
            bar,
            by_time,
            start: now,
        }
    }

    /// Shows the running totals.
    pub fn tick(&mut self, t: Tally) {
        match self {
            Progress::Bar {
                bar,
                by_time,
                start,
            } => {
                if *by_time {
                    bar.set_position((start.elapsed().as_secs_f64() * 10.0) as u64);
                } else {
                    bar.set_position(t.seeds);
                }
                bar.set_message(format!(
                    "{} seeds, {} crash points, {} violations",
                    t.seeds, t.crash_points, t.violations
                ));
            }
            Progress::Plain { start, last } => {
                if last.elapsed() >= PLAIN_EVERY {
                    *last = Instant::now();
                    eprintln!(
                        "gate: {:.0}s: {} seeds, {} crash points, {} violations",
                        start.elapsed().as_secs_f64(),
                        t.seeds,
                        t.crash_points,
                        t.violations
                    );
                }
            }
            Progress::Quiet => {}
        }
    }

    /// Removes the bar.
    pub fn finish(&mut self) {
        if let Progress::Bar { bar, .. } = self {
            bar.finish_and_clear();
        }
    }
}
