//! The failure report of DESIGN section 4.

use std::fmt;

use faultfs::{CrashPolicy, Event, EventOp};
use serde::{Deserialize, Serialize};

use crate::case::{Case, Step};
use crate::checker::Violation;
use crate::hints::durability_hints;
use crate::run::CrashRecord;

/// What a user needs to understand and replay one failure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The seed, for seeded runs.
    pub seed: Option<u64>,
    /// The store's name ([`crate::Store::name`]).
    pub store: String,
    /// The disk assumptions the run held the disk to (sector atomicity, the damage rule).
    #[serde(default)]
    pub assumptions: String,
    /// The run's crash policy.
    pub policy: Option<CrashPolicy>,
    /// The faults armed during the run, one line each, and which fired.
    pub faults: Vec<String>,
    pub violation: Violation,
    /// The crash the violation followed (event index and engine phase), if any.
    pub crash: Option<CrashRecord>,
    /// The (minimal, once shrunk) steps that still fail.
    pub workload: Vec<Step>,
    /// The fs events between the last durable point and the crash, one line each (capped).
    pub events: Vec<String>,
    /// What each reboot of the run decided: which pieces of which file survived, were torn or
    /// dropped, and which namespace operations were kept.
    #[serde(default)]
    pub reboots: Vec<String>,
    /// Plain-words hints read off the events (a file created but its directory never synced, ...).
    pub hints: Vec<String>,
    /// The one command that replays this failure.
    pub replay: String,
    /// A `#[test]` that reproduces the failure without the seed (after shrinking).
    pub test_snippet: Option<String>,
    /// The scenario file the shrunk case was written to.
    pub scenario_path: Option<String>,
    pub trace_hash: u64,
    /// The failure's signature: what the shrinker kept (see [`crate::outcome::Signature`]).
    #[serde(default)]
    pub signature: String,
}

impl Report {
    /// One-line form of an event: `#index [phase] op path args -> result [fault]`.
    pub fn event_line(e: &Event) -> String {
        let fault = e
            .fault
            .map(|f| format!(" [fault {f:?}]"))
            .unwrap_or_default();
        let op = match &e.op {
            EventOp::Write { path, offset, len } => format!("write {path} @{offset}+{len}"),
            EventOp::Read { path, offset, len } => format!("read {path} @{offset}+{len}"),
            EventOp::SetLen { path, len } => format!("set_len {path} {len}"),
            EventOp::Rename { from, to } => format!("rename {from} -> {to}"),
            EventOp::Reboot {
                policy,
                seed,
                outcome,
            } => {
                format!("reboot {policy:?} seed {seed}: {outcome}")
            }
            EventOp::Damage { path, offset, what } => format!("damage {path} @{offset}: {what}"),
            EventOp::PowerOff => "power_off".to_string(),
            other => {
                let name = serde_json::to_value(other)
                    .ok()
                    .and_then(|v| v.get("op").and_then(|o| o.as_str().map(str::to_string)))
                    .unwrap_or_default();
                format!("{name} {}", crate::coverage::event_path(other))
            }
        };
        format!("#{} [{}] {} -> {}{}", e.index, e.phase, op, e.result, fault)
    }
}

/// A value as a report shows it: quoted, long values cut after their write tag.
pub fn short_value(v: Option<&str>) -> String {
    const SHOWN_MAX: usize = 32;
    match v {
        None => "(absent)".to_string(),
        Some(v) if v.len() <= SHOWN_MAX => format!("{v:?}"),
        Some(v) => {
            let cut = (0..=SHOWN_MAX)
                .rev()
                .find(|i| v.is_char_boundary(*i))
                .unwrap_or(0);
            format!("{:?}... ({} bytes)", &v[..cut], v.len())
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "VIOLATION {}: {}",
            self.violation.kind, self.violation.message
        )?;
        if let Some(seed) = self.seed {
            writeln!(f, "seed: {seed}")?;
        }
        writeln!(f, "store: {}", self.store)?;
        if !self.assumptions.is_empty() {
            writeln!(f, "disk assumptions: {}", self.assumptions)?;
        }
        if let Some(p) = &self.policy {
            writeln!(f, "policy: {p:?}")?;
        }
        if !self.faults.is_empty() {
            writeln!(f, "faults:")?;
            for line in &self.faults {
                writeln!(f, "  {line}")?;
            }
        }
        if let Some(c) = &self.crash {
            let at = if c.path.is_empty() {
                "between operations".to_string()
            } else {
                format!("on {}", c.path)
            };
            writeln!(
                f,
                "crash: event #{} in phase {}{} {at}; bounds D..N = {}..{} writes",
                c.event_index,
                c.phase,
                if c.during_recovery {
                    " (during recovery)"
                } else {
                    ""
                },
                c.bounds.0,
                c.bounds.1
            )?;
        }
        if !self.violation.diffs.is_empty() {
            let k = self
                .violation
                .closest_k
                .map(|k| format!(" (model after {k} writes)"))
                .unwrap_or_default();
            writeln!(f, "keys that differ{k}:")?;
            for d in self.violation.diffs.iter().take(20) {
                writeln!(
                    f,
                    "  {:?}: expected {}, recovered {}",
                    d.key,
                    short_value(d.expected.as_deref()),
                    short_value(d.recovered.as_deref())
                )?;
            }
            if self.violation.diffs.len() > 20 {
                writeln!(f, "  ... {} more", self.violation.diffs.len() - 20)?;
            }
        }
        for h in &self.hints {
            writeln!(f, "hint: {h}")?;
        }
        writeln!(f, "workload ({} steps):", self.workload.len())?;
        for s in self.workload.iter().take(40) {
            writeln!(f, "  {}", serde_json::to_string(s).unwrap_or_default())?;
        }
        if self.workload.len() > 40 {
            writeln!(f, "  ... {} more", self.workload.len() - 40)?;
        }
        if !self.reboots.is_empty() {
            writeln!(f, "what each reboot kept:")?;
            for r in &self.reboots {
                writeln!(f, "  {r}")?;
            }
        }
        if !self.events.is_empty() {
            writeln!(f, "fs events from the last durable point to the crash:")?;
            for e in &self.events {
                writeln!(f, "  {e}")?;
            }
        }
        if let Some(p) = &self.scenario_path {
            writeln!(f, "scenario: {p}")?;
        }
        if let Some(t) = &self.test_snippet {
            writeln!(f, "test:\n{t}")?;
        }
        if !self.signature.is_empty() {
            writeln!(f, "signature: {}", self.signature)?;
        }
        writeln!(f, "trace-hash: {:016x}", self.trace_hash)?;
        write!(f, "replay: {}", self.replay)
    }
}

/// Whether an event is a mutating operation (counted by `SimFs::mutating_ops`).
fn is_mutating(e: &Event) -> bool {
    matches!(
        e.op,
        EventOp::Create { .. }
            | EventOp::Write { .. }
            | EventOp::SetLen { .. }
            | EventOp::Sync { .. }
            | EventOp::Rename { .. }
            | EventOp::Remove { .. }
            | EventOp::CreateDir { .. }
            | EventOp::SyncDir { .. }
    ) && !e.result.starts_with("power_loss")
}

/// At most this many events are quoted in a report.
const REPORT_EVENTS_MAX: usize = 60;

/// At most this many reboots are quoted in a report.
const REPORT_REBOOTS_MAX: usize = 8;

/// Builds the report of a failed run of store `S`.
pub fn build<S: crate::Store>(
    case: &Case,
    violation: &Violation,
    crash: Option<&CrashRecord>,
    events: &[Event],
    durable_mark: u64,
    trace_hash: u64,
) -> Report {
    let end = crash.map_or(events.len(), |c| {
        (c.event_index as usize + 1).min(events.len())
    });
    let durable_at = durable_index(events, end, durable_mark);
    let epoch_of = |at: usize| {
        events[..at]
            .iter()
            .rposition(|e| matches!(e.op, EventOp::Reboot { .. }))
            .map_or(0, |i| i + 1)
    };
    let start = durable_at.max(end.saturating_sub(REPORT_EVENTS_MAX));
    let quoted = events[start..end]
        .iter()
        .filter(|e| {
            !matches!(
                e.op,
                EventOp::Read { .. } | EventOp::Exists { .. } | EventOp::List { .. }
            )
        })
        .map(Report::event_line)
        .collect();
    let mut faults: Vec<String> = case
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Fault(f) => serde_json::to_string(f).ok(),
            Step::Damage(d) => serde_json::to_string(d)
                .ok()
                .map(|d| format!("aimed damage {d}")),
            _ => None,
        })
        .collect();
    faults.extend(
        events
            .iter()
            .filter(|e| e.fault.is_some())
            .map(|e| format!("fired: {}", Report::event_line(e))),
    );
    // What was still pending when the store last claimed durability: usually the missing sync.
    let hints = if crash.is_some() {
        durability_hints(&events[epoch_of(durable_at)..durable_at], S::file_kind)
    } else {
        Vec::new()
    };
    let policy = case.steps.iter().find_map(|s| match s {
        Step::Crash(c) => Some(c.policy),
        _ => None,
    });
    let assumptions = case
        .assumptions
        .or_else(|| {
            crate::run::case_config::<S>(case)
                .ok()
                .map(|c| S::assumptions(&c))
        })
        .unwrap_or_default();
    // The reboot that followed the crash is what decided the recovered disk: include it.
    let through = events[end..]
        .iter()
        .position(|e| matches!(e.op, EventOp::Reboot { .. }))
        .map_or(end, |i| end + i + 1);
    let reboots: Vec<String> = events[..through]
        .iter()
        .filter(|e| matches!(e.op, EventOp::Reboot { .. }))
        .map(Report::event_line)
        .collect();
    let reboots = reboots[reboots.len().saturating_sub(REPORT_REBOOTS_MAX)..].to_vec();
    Report {
        seed: None,
        store: case.store.clone(),
        assumptions: assumptions.describe(),
        reboots,
        policy,
        faults,
        violation: violation.clone(),
        crash: crash.cloned(),
        workload: case.steps.clone(),
        events: quoted,
        hints,
        replay: String::new(),
        test_snippet: None,
        scenario_path: None,
        trace_hash,
        signature: String::new(),
    }
}

/// The first event after the last durability point (where `durable_mark` mutating operations
/// had run), looking no further than `end`.
fn durable_index(events: &[Event], end: usize, durable_mark: u64) -> usize {
    let mut seen = 0u64;
    for (i, e) in events[..end].iter().enumerate() {
        if seen >= durable_mark {
            return i;
        }
        if is_mutating(e) {
            seen += 1;
        }
    }
    end
}

/// The events from the reboot before the last durability point up to that point.
fn durable_window(events: &[Event], crash: &CrashRecord, durable_mark: u64) -> (usize, usize) {
    let end = (crash.event_index as usize + 1).min(events.len());
    let durable_at = durable_index(events, end, durable_mark);
    let epoch = events[..durable_at]
        .iter()
        .rposition(|e| matches!(e.op, EventOp::Reboot { .. }))
        .map_or(0, |i| i + 1);
    (epoch, durable_at)
}

/// The typed hints of a failed run whose last crash is `crash`.
pub fn hints_at<S: crate::Store>(
    events: &[Event],
    crash: &CrashRecord,
    durable_mark: u64,
) -> Vec<crate::hints::Hint> {
    let (from, to) = durable_window(events, crash, durable_mark);
    crate::hints::hints_of(&events[from..to], S::file_kind)
}
