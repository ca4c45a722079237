//! The failure report of DESIGN section 4.

use std::fmt;

use faultfs::{CrashPolicy, Event};
use serde::{Deserialize, Serialize};

use crate::case::Step;
use crate::checker::Violation;
use crate::run::CrashRecord;

/// What a user needs to understand and replay one failure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The seed, for seeded runs.
    pub seed: Option<u64>,
    /// `engine` or `careless`.
    pub store: String,
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
    /// Plain-words hints read off the events (a file created but its directory never synced, ...).
    pub hints: Vec<String>,
    /// The one command that replays this failure.
    pub replay: String,
    /// A `#[test]` that reproduces the failure without the seed (after shrinking).
    pub test_snippet: Option<String>,
    /// The scenario file the shrunk case was written to.
    pub scenario_path: Option<String>,
    pub trace_hash: u64,
}

impl Report {
    /// One-line form of an event.
    pub fn event_line(e: &Event) -> String {
        let fault = e
            .fault
            .map(|f| format!(" [fault {f:?}]"))
            .unwrap_or_default();
        let op = serde_json::to_string(&e.op).unwrap_or_default();
        format!("#{} {} {} -> {}{}", e.index, e.phase, op, e.result, fault)
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
            writeln!(
                f,
                "crash: event #{} in phase {}{} on {:?}; bounds D..N = {}..{}",
                c.event_index,
                c.phase,
                if c.during_recovery {
                    " (during recovery)"
                } else {
                    ""
                },
                c.path,
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
                    "  {:?}: expected {:?}, recovered {:?}",
                    d.key, d.expected, d.recovered
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
        writeln!(f, "trace-hash: {:016x}", self.trace_hash)?;
        write!(f, "replay: {}", self.replay)
    }
}
