//! The round loop's state: the model carried from round to round, and what one round does
//! with the child's run (account, check, report).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::checker::{self, Verdict, Violation, ViolationKind};
use crate::killtest::child::ChildArgs;
use crate::killtest::report::{self, KillReport, KillTestOutcome, LowerBound};
use crate::killtest::round::{self, ChildRun, KillTiming, RoundTally};
use crate::killtest::{KillTestError, KillTestOptions, io_error, recover, workload};
use crate::model::{History, Outcome, State};
use crate::store::Store;

/// The child's report lines quoted in a failure report.
const LAST_LINES_MAX: usize = 30;

/// The model and tallies carried from round to round.
pub(crate) struct Run<'a, S: Store> {
    options: &'a KillTestOptions,
    config: S::Config,
    dir: PathBuf,
    history: History,
    pub outcome: KillTestOutcome,
}

/// What one round produced, for the report.
struct RoundFacts {
    round_seed: u64,
    first_id: u64,
    timing: KillTiming,
    child: ChildRun,
    tally: RoundTally,
    issued: usize,
}

impl<'a, S: Store> Run<'a, S> {
    /// A run in `dir` with an empty store and model.
    pub fn new(
        options: &'a KillTestOptions,
        config: S::Config,
        dir: PathBuf,
        dir_kept: bool,
    ) -> Run<'a, S> {
        Run {
            options,
            config,
            history: History::new(),
            outcome: KillTestOutcome {
                seed: options.seed,
                store: S::name().to_string(),
                dir: dir.clone(),
                dir_kept,
                rounds: 0,
                elapsed: Duration::ZERO,
                kills_by_phase: BTreeMap::new(),
                writes_issued: 0,
                writes_acked: 0,
                unacked_recovered: 0,
                acked_not_durable: 0,
                opens_timed: 0,
                open_time_total: Duration::ZERO,
                report: None,
            },
            dir,
        }
    }

    /// Runs one round; `Some(report)` when it broke the contract.
    pub fn round(
        &mut self,
        round_seed: u64,
        timing: KillTiming,
    ) -> Result<Option<KillReport>, KillTestError> {
        let first_id = self.history.next_id;
        let child = self.spawn(round_seed, first_id, timing)?;
        let mut workload = workload::RoundWorkload::new(round_seed, first_id);
        let tally = round::apply_lines(&mut self.history, &mut workload, &child.lines);
        self.account(&child, &tally);
        let lower = match self.options.lower {
            LowerBound::Acked => tally.acked,
            LowerBound::Durable => tally.durable,
        };
        let (violation, recovered) = match child_violation(&child, &tally) {
            Some(v) => (Some(v), State::new()),
            None => self.check_recovery(lower),
        };
        let facts = RoundFacts {
            round_seed,
            first_id,
            timing,
            issued: self.history.issued(),
            child,
            tally,
        };
        Ok(violation.map(|v| self.report(v, &recovered, facts)))
    }

    /// Runs the round's child until the kill; refuses a child that never reports its start.
    fn spawn(
        &self,
        seed: u64,
        first_id: u64,
        timing: KillTiming,
    ) -> Result<ChildRun, KillTestError> {
        let exe = &self.options.child_exe;
        let args = ChildArgs {
            dir: self.dir.clone(),
            store: self.options.child_store.clone(),
            seed,
            first_id,
            bugs: self.options.bugs.clone(),
            config: self.options.config.as_ref().map(|c| c.to_string()),
        };
        let child = round::run_child_process(exe, &args, timing)
            .map_err(io_error(format!("running the child {}", exe.display())))?;
        if child.started {
            return Ok(child);
        }
        let stderr = child.stderr.trim_end();
        Err(KillTestError::Child(format!(
            "the child {} did not report its start within seconds ({}); is it the powercut \
             binary?{}",
            exe.display(),
            child.status,
            if stderr.is_empty() {
                String::new()
            } else {
                format!(" Its stderr: {stderr}")
            }
        )))
    }

    /// Adds the round to the run's tallies.
    fn account(&mut self, child: &ChildRun, tally: &RoundTally) {
        let o = &mut self.outcome;
        o.writes_issued += self.history.issued() as u64;
        o.writes_acked += tally.acked as u64;
        o.acked_not_durable += tally.acked.saturating_sub(tally.durable) as u64;
        if let Some(t) = child.open_time {
            o.opens_timed += 1;
            o.open_time_total += t;
        }
        if child.killed {
            *o.kills_by_phase
                .entry(tally.kill_phase().to_string())
                .or_default() += 1;
        }
    }

    /// The failure report of a round.
    fn report(&self, violation: Violation, recovered: &State, f: RoundFacts) -> KillReport {
        let violation = self.name_lost_acknowledged(violation, recovered, &f.tally);
        let bugs: String = self
            .options
            .bugs
            .iter()
            .map(|b| format!(" --bug {b}"))
            .collect();
        let config = self
            .options
            .config
            .as_ref()
            .map(|c| format!(" --config '{c}'"))
            .unwrap_or_default();
        let program = self
            .options
            .child_exe
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "powercut".to_string());
        let store_flag = self
            .options
            .child_store
            .as_ref()
            .map(|s| format!(" --store {s}"))
            .unwrap_or_default();
        let lines = &f.child.lines;
        KillReport {
            lost_acknowledged: report::lost_acknowledged(&self.history, recovered, f.tally.acked),
            violation,
            store: S::name().to_string(),
            seed: self.options.seed,
            round: self.outcome.rounds,
            round_seed: f.round_seed,
            first_id: f.first_id,
            kill_timing: f.child.killed.then_some(f.timing),
            kill_phase: f.tally.kill_phase().to_string(),
            lower_bound: self.options.lower,
            durable: f.tally.durable,
            acked: f.tally.acked,
            issued: f.issued,
            last_lines: lines[lines.len().saturating_sub(LAST_LINES_MAX)..].to_vec(),
            child_stderr: f.child.stderr,
            dir: self.dir.clone(),
            rerun: format!(
                "{program} kill-test{store_flag} --seed {} --rounds {} --lower {}{bugs}{config}",
                self.options.seed,
                self.outcome.rounds,
                self.options.lower.name(),
            ),
        }
    }

    /// A rejected state that is a clean prefix, only shorter than the acknowledged writes, is
    /// said so in plain words: the checker would name it by its first symptom (a deleted key
    /// back, a value gone), while the cause is acknowledged writes the kill took.
    fn name_lost_acknowledged(
        &self,
        violation: Violation,
        recovered: &State,
        tally: &RoundTally,
    ) -> Violation {
        if self.options.lower != LowerBound::Acked || violation.bounds.is_none() {
            return violation;
        }
        let Verdict::Accepted { k } = checker::check_recovery(&self.history, recovered, 0) else {
            return violation;
        };
        if k >= tally.acked {
            return violation;
        }
        let first_id = self.history.next_id - self.history.issued() as u64;
        let message = format!(
            "acknowledged writes were lost: the recovered state is the model after {k} writes, a \
             clean prefix, but {} were acknowledged, so writes {}..={} (ids {}..={}) were lost \
             by a process kill, which keeps everything handed to the kernel ({} were durable)",
            tally.acked,
            k + 1,
            tally.acked,
            first_id + k as u64,
            first_id + tally.acked as u64 - 1,
            tally.durable
        );
        Violation {
            kind: ViolationKind::LostDurable,
            message,
            ..violation
        }
    }

    /// Opens the store after the kill and checks it; rebases the model when it is accepted.
    /// Returns the violation, if any, and the recovered state.
    fn check_recovery(&mut self, lower: usize) -> (Option<Violation>, State) {
        let recovered = match recover::recover::<S>(&self.config, &self.dir) {
            Ok(state) => state,
            Err(f) => return (Some(Violation::new(f.kind, f.message)), State::new()),
        };
        match checker::check_recovery(&self.history, &recovered, lower) {
            Verdict::Accepted { k } => {
                let acked = self
                    .history
                    .writes
                    .iter()
                    .rposition(|w| w.outcome == Outcome::Acked)
                    .map_or(0, |p| p + 1);
                self.outcome.unacked_recovered += k.saturating_sub(acked) as u64;
                self.history.rebase(k);
                (None, recovered)
            }
            Verdict::Rejected(v) => (Some(v), recovered),
        }
    }
}

/// A violation the child's own run shows: a read that missed a write, an error from the store,
/// a death before the kill, or lines the parent cannot follow.
fn child_violation(child: &ChildRun, tally: &RoundTally) -> Option<Violation> {
    if let Some(t) = &tally.child_violation {
        return Some(Violation::new(ViolationKind::ReadYourWrites, t.clone()));
    }
    if let Some(t) = &tally.child_error {
        return Some(Violation::new(
            ViolationKind::UnexpectedError,
            format!("the store failed in the child on a healthy disk: {t}"),
        ));
    }
    if !child.killed {
        let kind = if child.stderr.contains("panicked") {
            ViolationKind::Panic
        } else {
            ViolationKind::UnexpectedError
        };
        return Some(Violation::new(
            kind,
            format!("the child died before the kill ({})", child.status),
        ));
    }
    tally.protocol_error.as_ref().map(|e| {
        Violation::new(
            ViolationKind::UnexpectedError,
            format!("the child's report could not be followed: {e}"),
        )
    })
}
