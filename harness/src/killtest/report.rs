//! The kill-test's failure report and its end-of-run summary.
//!
//! The simulated [`crate::Report`] is built around a replayable seed, a crash policy, an fs event
//! log and a trace hash; a real process kill has none of those (the moment the kill lands depends
//! on the machine), so the kill-test reports what it does know instead: the round, the kill's
//! delay and phase, the bounds, the keys that differ, the child's last lines and the directory,
//! kept for inspection.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::checker::{KeyDiff, Violation};
use crate::killtest::round::KillTiming;
use crate::model::{History, Mutation, State};

/// Which write the recovered state must at least hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LowerBound {
    /// The last acknowledged write: a process kill keeps everything handed to the kernel, so a
    /// store that hands each acknowledged write to the kernel loses none (DESIGN section 4,
    /// read for a kill rather than a power cut).
    #[default]
    Acked,
    /// The last durability point, as after a power cut: only the promises of DESIGN section 3.
    Durable,
}

impl LowerBound {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LowerBound::Acked => "acked",
            LowerBound::Durable => "durable",
        }
    }

    /// The bound with this name.
    pub fn parse(name: &str) -> Result<LowerBound, String> {
        match name {
            "acked" => Ok(LowerBound::Acked),
            "durable" => Ok(LowerBound::Durable),
            _ => Err(format!("unknown lower bound {name:?} (acked, durable)")),
        }
    }
}

/// Everything known about a failed kill-test round.
#[derive(Clone, Debug, Serialize)]
pub struct KillReport {
    pub violation: Violation,
    pub store: String,
    /// The kill-test's seed and the failing round (from 1).
    pub seed: u64,
    pub round: u64,
    pub round_seed: u64,
    /// The global id of the round's first write.
    pub first_id: u64,
    /// When the child was killed (`None`: it died on its own).
    pub kill_timing: Option<KillTiming>,
    /// The phase label in force when the kill landed.
    pub kill_phase: String,
    pub lower_bound: LowerBound,
    /// Writes of the round: durable (D), acknowledged (A) and issued (N).
    pub durable: usize,
    pub acked: usize,
    pub issued: usize,
    /// Keys whose last acknowledged value was lost and that no later write explains.
    pub lost_acknowledged: Vec<KeyDiff>,
    /// The child's last lines before it died.
    pub last_lines: Vec<String>,
    pub child_stderr: String,
    /// The kill-test directory, kept for inspection.
    pub dir: PathBuf,
    /// The command that runs the same workloads with the same kill delays again.
    pub rerun: String,
}

/// Keys whose value from the last acknowledged write to them (among the first `lower` writes)
/// is gone, replaced by a value no later write wrote.
pub fn lost_acknowledged(history: &History, recovered: &State, lower: usize) -> Vec<KeyDiff> {
    let lower = lower.min(history.issued());
    let mut last: BTreeMap<&str, (usize, Option<&str>)> = BTreeMap::new();
    for (pos, w) in history.writes[..lower].iter().enumerate() {
        for m in &w.mutations {
            last.insert(m.key(), (pos, m.value_after()));
        }
    }
    let mut lost = Vec::new();
    for (key, (pos, want)) in last {
        let got = recovered.get(key).map(String::as_str);
        if got == want {
            continue;
        }
        let later = history.writes[pos + 1..]
            .iter()
            .flat_map(|w| w.mutations.iter())
            .any(|m: &Mutation| m.key() == key && m.value_after() == got);
        if !later {
            lost.push(KeyDiff {
                key: key.to_string(),
                expected: want.map(str::to_string),
                recovered: got.map(str::to_string),
            });
        }
    }
    lost
}

/// At most this many keys are listed per section.
const KEYS_SHOWN_MAX: usize = 20;

/// Values are long filler after their `w<id>.` tag; the tag and the length say enough.
const VALUE_CHARS_SHOWN_MAX: usize = 24;

fn short(value: Option<&String>) -> String {
    match value {
        None => "absent".to_string(),
        Some(v) if v.len() <= VALUE_CHARS_SHOWN_MAX => format!("{v:?}"),
        Some(v) => {
            let cut: String = v.chars().take(VALUE_CHARS_SHOWN_MAX).collect();
            format!("{cut:?}... ({} bytes)", v.len())
        }
    }
}

fn write_diffs(f: &mut fmt::Formatter<'_>, diffs: &[KeyDiff]) -> fmt::Result {
    for d in diffs.iter().take(KEYS_SHOWN_MAX) {
        writeln!(
            f,
            "  {:?}: expected {}, recovered {}",
            d.key,
            short(d.expected.as_ref()),
            short(d.recovered.as_ref())
        )?;
    }
    if diffs.len() > KEYS_SHOWN_MAX {
        writeln!(f, "  ... {} more", diffs.len() - KEYS_SHOWN_MAX)?;
    }
    Ok(())
}

impl fmt::Display for KillReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.violation;
        writeln!(f, "VIOLATION {}: {}", v.kind, v.message)?;
        writeln!(f, "store: {}", self.store)?;
        writeln!(
            f,
            "seed: {}, round {} (round seed {}, first write id {})",
            self.seed, self.round, self.round_seed, self.first_id
        )?;
        match self.kill_timing {
            Some(t) => writeln!(
                f,
                "kill: SIGKILL {:.1} ms after the child {}, in phase {}",
                t.delay.as_secs_f64() * 1e3,
                if t.from_open {
                    "opened the store"
                } else {
                    "started"
                },
                self.kill_phase
            )?,
            None => writeln!(f, "kill: none, the child died on its own")?,
        }
        writeln!(
            f,
            "bounds: of the round's writes {} were durable, {} acknowledged, {} issued; the \
             recovered state had to be the model after k writes, {} <= k <= {} (lower bound: {})",
            self.durable,
            self.acked,
            self.issued,
            match self.lower_bound {
                LowerBound::Acked => self.acked,
                LowerBound::Durable => self.durable,
            },
            self.issued,
            self.lower_bound.name()
        )?;
        if !self.lost_acknowledged.is_empty() {
            writeln!(
                f,
                "lost acknowledged keys ({}): acknowledged values no later write replaced",
                self.lost_acknowledged.len()
            )?;
            write_diffs(f, &self.lost_acknowledged)?;
        }
        // The keys that differ repeat the lost ones when nothing else is wrong.
        if !v.diffs.is_empty() && v.diffs != self.lost_acknowledged {
            let k = v
                .closest_k
                .map(|k| format!(" (model after {k} writes)"))
                .unwrap_or_default();
            writeln!(f, "keys that differ{k}:")?;
            write_diffs(f, &v.diffs)?;
        }
        writeln!(f, "child's last lines:")?;
        for line in &self.last_lines {
            writeln!(f, "  {line}")?;
        }
        if !self.child_stderr.trim().is_empty() {
            writeln!(f, "child stderr:\n{}", self.child_stderr.trim_end())?;
        }
        writeln!(f, "directory kept for inspection: {}", self.dir.display())?;
        write!(
            f,
            "rerun (same workloads and kill delays; where a kill lands is up to the machine): {}",
            self.rerun
        )
    }
}

/// What a kill-test run did.
#[derive(Clone, Debug, Serialize)]
pub struct KillTestOutcome {
    pub seed: u64,
    pub store: String,
    pub dir: PathBuf,
    /// Whether the directory is left on disk (given with `--dir`, or kept after a failure).
    pub dir_kept: bool,
    pub rounds: u64,
    pub elapsed: Duration,
    /// Kills per phase label in force when they landed (`startup`: before any label).
    pub kills_by_phase: BTreeMap<String, u64>,
    pub writes_issued: u64,
    pub writes_acked: u64,
    /// Issued but unacknowledged writes that the recovered state still held.
    pub unacked_recovered: u64,
    /// Acknowledged but not yet durable writes at the kills (what a power cut could have lost).
    pub acked_not_durable: u64,
    /// Children that opened the store before their kill, and their open (recovery) time in all.
    pub opens_timed: u64,
    pub open_time_total: Duration,
    /// The first violation, which ended the run.
    pub report: Option<KillReport>,
}

impl KillTestOutcome {
    /// Tells whether no round broke the contract.
    pub fn passed(&self) -> bool {
        self.report.is_none()
    }

    /// Rounds per second of wall time.
    pub fn rounds_per_second(&self) -> f64 {
        self.rounds as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for KillTestOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "kill-test {}: store {}, seed {}, {} rounds in {:.1} s ({:.2} rounds/s)",
            if self.passed() { "passed" } else { "FAILED" },
            self.store,
            self.seed,
            self.rounds,
            self.elapsed.as_secs_f64(),
            self.rounds_per_second()
        )?;
        let phases: Vec<String> = self
            .kills_by_phase
            .iter()
            .map(|(p, n)| format!("{p} {n}"))
            .collect();
        writeln!(f, "kills by phase: {}", phases.join(", "))?;
        writeln!(
            f,
            "writes: {} issued, {} acknowledged; at the kills {} acknowledged writes were not yet \
             durable, {} unacknowledged writes were recovered anyway",
            self.writes_issued, self.writes_acked, self.acked_not_durable, self.unacked_recovered
        )?;
        if self.opens_timed > 0 {
            writeln!(
                f,
                "child open (recovery) time: {:.1} ms on average over {} opens",
                self.open_time_total.as_secs_f64() * 1e3 / self.opens_timed as f64,
                self.opens_timed
            )?;
        }
        if self.dir_kept {
            write!(f, "directory: {}", self.dir.display())?;
        } else {
            write!(f, "directory: {} (removed)", self.dir.display())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str, v: &str) -> Mutation {
        Mutation::Put {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn lost_acknowledged_names_keys_whose_acknowledged_value_is_gone() {
        let mut h = History::new();
        h.issue(vec![put("a", "w0")], false);
        h.issue(vec![put("b", "w1")], false);
        h.issue(vec![put("a", "w2")], false);
        // Two acknowledged, the third in flight: "b" lost, "a" holds the in-flight value.
        let recovered: State = [("a".to_string(), "w2".to_string())].into();
        let lost = lost_acknowledged(&h, &recovered, 2);
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].key, "b");
        assert_eq!(lost[0].expected.as_deref(), Some("w1"));
        assert_eq!(lost[0].recovered, None);
    }
}
