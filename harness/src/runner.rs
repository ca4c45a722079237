//! The crash/recover loop behind [`crate::execute`].
//!
//! One `Runner` owns a fresh `SimFs`, the store, the history and the crash queue, and walks the
//! case's steps. When the power goes (an armed crash fires, a `crash` step cuts it, or an I/O
//! error forces a power cycle) it reboots the disk, arms the next queued crash (which may fall
//! inside the recovery), reopens the store and checks the recovered state against the history.
//! An accepted recovery becomes the model's new base; the first violation stops the run.

use std::collections::{BTreeSet, VecDeque};
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use faultfs::{CrashPolicy, FaultClass, FsyncMode, SimFs};

use crate::case::{Case, CrashStep, DamageStep, Step};
use crate::checker::{Judgement, Violation, ViolationKind, judge};
use crate::damage;
use crate::model::{History, Mutation, Outcome};
use crate::run::{Counts, RecoveryResult, StepTrace};
use crate::store::{
    Background, Call, DamageRule, DiskAssumptions, Durability, Env, Store, StoreError,
};

mod faults;
mod reads;

use faults::unclean_refusal;

/// The directory every store lives in on the simulated disk.
pub const DB_DIR: &str = "db";

/// At most this many power cycles in a row while a store keeps failing to open with I/O errors.
const OPEN_RETRIES_MAX: u32 = 4;

/// At most this many crashes nested inside the checking of earlier recoveries.
const CRASH_DEPTH_MAX: u32 = 16;

/// A crash as the runner saw it; event index and phase are filled in from the log afterwards.
#[derive(Clone, Debug)]
pub struct PendingCrash {
    pub policy: CrashPolicy,
    pub during_recovery: bool,
    pub bounds: (usize, usize),
    pub result: RecoveryResult,
}

/// What a finished runner hands back.
pub struct Finished {
    pub sim: SimFs,
    pub crashes: Vec<PendingCrash>,
    /// One per step that ran, in order.
    pub steps: Vec<StepTrace>,
    pub violation: Option<Violation>,
    pub counts: Counts,
    /// `mutating_ops()` at the last durability point before the violation.
    pub durable_mark: u64,
    /// Injected errors the store absorbed (see [`crate::RunOutcome::findings`]).
    pub findings: Vec<String>,
}

/// The fault classes after which any prefix (and a clean refusal) is an allowed recovery: their
/// damage can look exactly like a torn tail. Every damage class can.
const LENIENT: [FaultClass; 4] = FaultClass::DAMAGE;

/// The fault classes that damage bytes already on the disk (what [`DamageRule::Unchecked`]
/// leaves unjudged).
const DAMAGE_CLASSES: [FaultClass; 4] = FaultClass::DAMAGE;

/// Fault classes after which a clean refusal is allowed but the bounds stay D..N. A sync that
/// lied (ReportLater) did not advance D (rule (a)), but it can leave a file the MANIFEST names
/// full of bytes that never reached the disk: refusing to open is then the only right answer.
const REFUSAL_OK: [FaultClass; 1] = [FaultClass::FsyncReportLater];

/// A write step's mutations: the one a put or delete builds, or a batch step's own.
enum WriteOps<'s> {
    One(Mutation),
    Batch(&'s [Mutation]),
}

impl WriteOps<'_> {
    fn as_slice(&self) -> &[Mutation] {
        match self {
            WriteOps::One(m) => std::slice::from_ref(m),
            WriteOps::Batch(ms) => ms,
        }
    }
}

pub struct Runner<'a, S: Store> {
    case: &'a Case,
    config: &'a S::Config,
    durability: Durability,
    /// What the disk promises in this run.
    assumptions: DiskAssumptions,
    sim: SimFs,
    env: Env,
    store: Option<S>,
    /// Shared so that exploration's crash-point hook, which runs inside the store's fs calls,
    /// judges each crash image against the history as it stands at that call. The runner never
    /// holds the lock across a store call or a disk operation.
    history: Arc<Mutex<History>>,
    queued: VecDeque<CrashStep>,
    armed: Option<CrashStep>,
    /// Aimed damage waiting for the next crash.
    damage: Vec<DamageStep>,
    /// Whether any fault step ran (only then is the event log consulted while running).
    faults_armed: bool,
    /// A ReportLater fault is armed and has not fired yet: durability points must be checked.
    report_later_armed: bool,
    /// How many ReportLater faults were injected.
    report_later_injected: usize,
    /// Fault classes seen firing in the log so far, and how far the log was read.
    fired: BTreeSet<FaultClass>,
    events_read: usize,
    /// Aimed damage was applied: a clean refusal naming one of these files is allowed.
    damaged_files: BTreeSet<String>,
    /// Aimed damage landed where a torn tail could explain it (any prefix is allowed then).
    lenient_damage: bool,
    /// A fault of a damage class fired (aimed or not).
    damage_struck: bool,
    /// Opens attempted so far (the first one creates the store).
    opens: u64,
    /// The policy of power cycles not caused by a crash step (after I/O errors).
    cycle_policy: CrashPolicy,
    cycle_seed: u64,
    crashes: Vec<PendingCrash>,
    violation: Option<Violation>,
    /// The run cannot go on (violation, or a clean refusal left a damaged store).
    stopped: bool,
    /// How many crashes are being handled inside one another right now.
    crash_depth: u32,
    counts: Counts,
    durable_mark: u64,
    findings: Vec<String>,
    steps: Vec<StepTrace>,
    /// Durability points reached so far (tells a step that reached one).
    durability_points: u64,
}

impl<'a, S: Store> Runner<'a, S> {
    pub fn new(case: &'a Case, config: &'a S::Config) -> Self {
        let sim = SimFs::with_seed(case.sim_seed);
        let cycle_policy = case
            .steps
            .iter()
            .find_map(|s| match s {
                Step::Crash(c) => Some(c.policy),
                _ => None,
            })
            .unwrap_or(CrashPolicy::Strict);
        let assumptions = case.assumptions.unwrap_or_else(|| S::assumptions(config));
        sim.set_file_kinds(Some(S::file_kind));
        assumptions.apply_to(&sim);
        let env = Env {
            fs: Arc::new(sim.clone()),
            dir: PathBuf::from(DB_DIR),
            background: Background::Inline,
            assumptions,
        };
        Runner {
            case,
            config,
            durability: S::durability(config),
            assumptions,
            sim,
            env,
            store: None,
            history: Arc::new(Mutex::new(History::new())),
            queued: VecDeque::new(),
            armed: None,
            damage: Vec::new(),
            faults_armed: false,
            report_later_armed: false,
            report_later_injected: 0,
            fired: BTreeSet::new(),
            events_read: 0,
            damaged_files: BTreeSet::new(),
            lenient_damage: false,
            damage_struck: false,
            opens: 0,
            cycle_policy,
            cycle_seed: case.sim_seed ^ 0x9e37_79b9_7f4a_7c15,
            crashes: Vec::new(),
            violation: None,
            stopped: false,
            crash_depth: 0,
            counts: Counts::default(),
            durable_mark: 0,
            findings: Vec::new(),
            steps: Vec::with_capacity(case.steps.len()),
            durability_points: 0,
        }
    }

    /// A handle to the runner's disk.
    pub fn sim(&self) -> SimFs {
        self.sim.clone()
    }

    /// The history the runner keeps, shared: what [`crate::explore`] judges each crash point's
    /// disks against while the run goes on.
    pub fn history_handle(&self) -> Arc<Mutex<History>> {
        self.history.clone()
    }

    fn hist(&self) -> MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs every step (then a clean close and reopen unless the case ends with a crash),
    /// checking each recovery.
    pub fn run(mut self) -> Finished {
        // Nothing logs between two steps: where one step's events end, the next one's begin.
        let mut first_event = self.sim.event_count();
        for step in &self.case.steps {
            if self.stopped {
                break;
            }
            self.counts.steps += 1;
            let (acked, points) = (self.counts.acked, self.durability_points);
            self.step(step);
            let end_event = self.sim.event_count();
            self.steps.push(StepTrace {
                first_event,
                end_event,
                acked: self.counts.acked > acked,
                made_durable: self.durability_points > points,
            });
            first_event = end_event;
        }
        // A case that ends with a crash has just had its recovery checked; otherwise a clean close
        // and reopen checks that close made everything durable.
        let ends_with_crash = matches!(self.case.steps.last(), Some(Step::Crash(_)));
        if !self.stopped && !ends_with_crash {
            self.reopen();
        }
        Finished {
            sim: self.sim,
            crashes: self.crashes,
            steps: self.steps,
            violation: self.violation,
            counts: self.counts,
            durable_mark: self.durable_mark,
            findings: self.findings,
        }
    }

    fn fail(&mut self, violation: Violation) {
        if self.violation.is_none() {
            self.violation = Some(violation);
        }
        self.stopped = true;
    }

    fn step(&mut self, step: &Step) {
        match step {
            Step::Crash(c) => self.crash_step(c),
            Step::Fault(f) => {
                self.faults_armed = true;
                if matches!(
                    f,
                    faultfs::Fault::FsyncFailure {
                        mode: FsyncMode::ReportLater,
                        ..
                    }
                ) {
                    self.report_later_armed = true;
                    self.report_later_injected += 1;
                }
                self.sim.inject(f.clone());
            }
            Step::Damage(d) => {
                self.faults_armed = true;
                self.damage.push(d.clone());
            }
            Step::Expect { key, value } => self.expect(key, value.as_deref()),
            _ => self.store_step(step),
        }
    }

    fn crash_step(&mut self, c: &CrashStep) {
        match c.after_ops {
            None => {
                self.sim.power_off();
                self.crash(c.clone(), false);
            }
            Some(_) if self.armed.is_some() => self.queued.push_back(c.clone()),
            Some(n) => {
                self.sim.crash_after_ops(n);
                self.armed = Some(c.clone());
            }
        }
    }

    /// Arms the next queued crash, if any (right after a reboot, so it may hit recovery).
    fn arm_next(&mut self) {
        self.armed = None;
        if let Some(c) = self.queued.pop_front() {
            self.sim.crash_after_ops(c.after_ops.unwrap_or(0));
            self.armed = Some(c);
        }
    }

    /// Opens the store if it is not open (the first step, or after a refusal-free crash).
    fn ensure_open(&mut self) -> bool {
        if self.store.is_some() {
            return true;
        }
        self.recover(false);
        self.store.is_some() && !self.stopped
    }

    fn store_step(&mut self, step: &Step) {
        if !self.ensure_open() {
            return;
        }
        // The store reads a write's mutations in place: a batch step's own, or the one built
        // for a put or delete (which `live` then takes over, see `write`).
        let (ops, sync) = match step {
            Step::Put { key, value, sync } => (
                WriteOps::One(Mutation::Put {
                    key: key.clone(),
                    value: value.clone(),
                }),
                *sync,
            ),
            Step::Delete { key, sync } => {
                (WriteOps::One(Mutation::Delete { key: key.clone() }), *sync)
            }
            Step::Batch { ops, sync } => (WriteOps::Batch(ops), *sync),
            Step::Get { key } => return self.get(key),
            Step::Scan { start, end } => return self.scan(start.as_deref(), end.as_deref()),
            Step::Sync {} => return self.durability_point(|s| s.sync(), Call::Sync),
            Step::Flush {} => return self.durability_point(|s| s.flush(), Call::Flush),
            Step::Compact {} => return self.durability_point(|s| s.compact(), Call::Compact),
            Step::Reopen {} => return self.reopen(),
            _ => return,
        };
        self.write(ops, sync)
    }

    fn write(&mut self, ops: WriteOps<'_>, sync: bool) {
        let fired_before = self.report_later_count();
        if self.store.is_none() {
            return;
        }
        let mutations = ops.as_slice();
        // The written keys' values before the write: only needed to check a failed write, and
        // writes fail only when a fault is armed.
        let before: Vec<(String, Option<String>)> = if self.faults_armed {
            let h = self.hist();
            mutations
                .iter()
                .map(|m| (m.key().to_string(), h.live.get(m.key()).cloned()))
                .collect()
        } else {
            Vec::new()
        };
        // The history gets its own copy (its lock is never held across a store call) and records
        // the write before the store sees it: a crash inside the call is judged against it.
        let pos = self.hist().issue_leaving_live(mutations.to_vec(), sync);
        self.counts.writes += 1;
        let events_before = self.sim.event_count();
        let result = self
            .store
            .as_mut()
            .map(|store| store.write(mutations, sync));
        // `live` takes the write once the call is back (nothing reads it during the call), a put
        // or delete by moving in the mutation the store read instead of cloning the history's.
        {
            let mut h = self.hist();
            match ops {
                WriteOps::One(m) => h.apply_to_live(m),
                WriteOps::Batch(ms) => ms.iter().for_each(|m| m.apply(&mut h.live)),
            }
        }
        let Some(result) = result else {
            return;
        };
        match result {
            Ok(()) => {
                self.counts.acked += 1;
                self.hist().settle(pos, Outcome::Acked);
                if self.swallowed_since(events_before) {
                    return;
                }
                if self.durability.makes_durable(Call::Write { sync })
                    && !self.sync_lied(fired_before)
                {
                    self.mark_durable();
                }
            }
            Err(e) => {
                let outcome = if e.is_power_loss() {
                    Outcome::InFlight
                } else {
                    Outcome::Failed
                };
                self.hist().settle(pos, outcome);
                if outcome == Outcome::Failed && self.faults_armed {
                    self.check_unlogged_write_invisible(&before);
                    if self.stopped {
                        return;
                    }
                }
                self.on_error(e, true);
            }
        }
    }

    /// The injected fault that made the last write fail, if it refused the write's WAL append
    /// itself (EIO or ENOSPC on a write to a WAL since the last reboot).
    fn failed_wal_append(&self) -> Option<String> {
        self.sim.with_events(|events| {
            events
                .iter()
                .rev()
                .take_while(|e| !matches!(e.op, faultfs::EventOp::Reboot { .. }))
                .find(|e| {
                    matches!(e.fault, Some(FaultClass::WriteError | FaultClass::NoSpace))
                        && matches!(&e.op, faultfs::EventOp::Write { path, .. }
                        if S::file_kind(std::path::Path::new(path)) == crate::store::FileKind::Log)
                })
                .map(crate::report::Report::event_line)
        })
    }

    /// A write whose WAL append failed never reached the log and can never survive a crash, so
    /// reads must not show it (the memtable must not be updated before the log append
    /// succeeds). `before` holds the written keys' values before the write.
    fn check_unlogged_write_invisible(&mut self, before: &[(String, Option<String>)]) {
        let Some(event) = self.failed_wal_append() else {
            return;
        };
        let Some(store) = self.store.as_mut() else {
            return;
        };
        for (key, old) in before {
            let Ok(got) = store.get(key.as_bytes()) else {
                continue;
            };
            let got = got.map(crate::model::text);
            if got != *old {
                let m = format!(
                    "the write to {key:?} failed before reaching the WAL ({event}), yet reads \
                     show it: a value that cannot survive a crash was made visible"
                );
                let diff = crate::checker::KeyDiff {
                    key: key.clone(),
                    expected: old.clone(),
                    recovered: got,
                };
                return self.fail(Violation {
                    diffs: vec![diff],
                    ..Violation::new(ViolationKind::ReadYourWrites, m)
                });
            }
        }
    }

    fn durability_point(&mut self, op: impl FnOnce(&mut S) -> Result<(), StoreError>, call: Call) {
        let durable = self.durability.makes_durable(call);
        let fired_before = self.report_later_count();
        let events_before = self.sim.event_count();
        let Some(store) = self.store.as_mut() else {
            return;
        };
        match op(store) {
            Ok(()) => {
                if self.swallowed_since(events_before) {
                    return;
                }
                if durable && !self.sync_lied(fired_before) {
                    self.mark_durable();
                }
            }
            Err(e) => self.on_error(e, durable),
        }
    }

    fn mark_durable(&mut self) {
        self.durability_points += 1;
        self.hist().mark_all_durable();
        self.durable_mark = self.sim.mutating_ops();
    }

    /// A clean close (a durability point) and reopen, checked like a recovery.
    fn reopen(&mut self) {
        let Some(mut store) = self.store.take() else {
            return;
        };
        let events_before = self.sim.event_count();
        match store.close() {
            Ok(()) => {
                if self.swallowed_since(events_before) {
                    return;
                }
                if self.durability.makes_durable(Call::Close) {
                    self.mark_durable();
                }
                drop(store);
                self.recover(false);
            }
            Err(e) => {
                self.store = Some(store);
                self.on_error(e, true);
            }
        }
    }

    /// The power is off: reboot under the crash's policy and recover.
    fn crash(&mut self, crash: CrashStep, during_recovery: bool) {
        self.store = None;
        self.counts.crashes += 1;
        // Power cycles nest (an error while checking a recovery cycles again); a store that
        // fails every recovery must end the run, not the stack.
        if self.crash_depth >= CRASH_DEPTH_MAX {
            let m = format!("the store failed {CRASH_DEPTH_MAX} recoveries in a row");
            return self.fail(Violation::new(ViolationKind::UnexpectedError, m));
        }
        self.crash_depth += 1;
        self.reboot_and_recover(crash, during_recovery);
        self.crash_depth -= 1;
    }

    fn reboot_and_recover(&mut self, crash: CrashStep, during_recovery: bool) {
        self.refresh_fired();
        if !self.damage.is_empty() {
            let steps = std::mem::take(&mut self.damage);
            let aimed: Vec<_> = self.sim.with_events(|events| {
                steps
                    .iter()
                    .filter_map(|d| damage::aim(events, d, S::file_kind))
                    .collect()
            });
            for a in aimed {
                self.lenient_damage |= !a.strict || self.assumptions.damage == DamageRule::Rollback;
                self.damaged_files.insert(a.path);
                self.sim.inject(a.fault);
            }
        }
        self.sim.reboot(crash.policy, crash.seed);
        let bounds = (self.lower(), self.hist().issued());
        self.crashes.push(PendingCrash {
            policy: crash.policy,
            during_recovery,
            bounds,
            result: RecoveryResult::CrashedAgain,
        });
        self.arm_next();
        self.recover(true);
    }

    fn set_result(&mut self, result: RecoveryResult) {
        if let Some(last) = self.crashes.last_mut() {
            last.result = result;
        }
    }

    /// Opens the store (after a crash, or the first time) and checks what it recovered.
    fn recover(&mut self, after_crash: bool) {
        let mut io_retries = 0;
        loop {
            // Label the phase for stores that do not label their own: the very first open creates
            // the store, every later one recovers it.
            let phase = if self.opens == 0 {
                faultfs::Phase::Create
            } else {
                faultfs::Phase::Recovery
            };
            self.opens += 1;
            faultfs::Fs::set_phase(&self.sim, phase);
            let opened = S::open(&self.env, self.config);
            faultfs::Fs::set_phase(&self.sim, faultfs::Phase::Write);
            match opened {
                Ok(store) => return self.check_opened(store, after_crash),
                Err(StoreError::PowerLoss(_)) => {
                    let crash = self.armed.take().unwrap_or_else(|| self.cycle_crash());
                    self.sim_reboot_in_recovery(crash);
                }
                Err(StoreError::Damaged {
                    ref file,
                    ref detail,
                }) if self.refusal_allowed(file) => {
                    self.counts.refusals += 1;
                    self.set_result(RecoveryResult::Refused {
                        file: format!("{} ({detail})", file.display()),
                    });
                    self.stopped = true;
                    return;
                }
                Err(e) if !e.is_power_loss() && self.unchecked_damage() => {
                    return self.leave_unjudged(format!("the store failed to open: {e}"));
                }
                Err(e @ StoreError::Damaged { .. }) => {
                    self.set_result(RecoveryResult::Violated);
                    return self.fail(unclean_refusal(&e));
                }
                Err(StoreError::Io(_)) if self.faults_armed && io_retries < OPEN_RETRIES_MAX => {
                    io_retries += 1;
                    if io_retries > 1 {
                        // A fault that stays armed (ENOSPC) would refuse every open: the
                        // operator frees space, so the run can check what was recovered.
                        self.sim.clear_faults();
                    }
                    self.sim.power_off();
                    let crash = self.cycle_crash();
                    self.sim_reboot_in_recovery(crash);
                }
                Err(e) => {
                    self.set_result(RecoveryResult::Violated);
                    let m = format!("the store failed to open: {e}");
                    return self.fail(Violation::new(ViolationKind::UnexpectedError, m));
                }
            }
        }
    }

    /// The power went while recovering: reboot again; the bounds carry over.
    fn sim_reboot_in_recovery(&mut self, crash: CrashStep) {
        self.counts.crashes += 1;
        self.refresh_fired();
        self.sim.reboot(crash.policy, crash.seed);
        let bounds = (self.lower(), self.hist().issued());
        self.crashes.push(PendingCrash {
            policy: crash.policy,
            during_recovery: true,
            bounds,
            result: RecoveryResult::CrashedAgain,
        });
        self.arm_next();
    }

    fn check_opened(&mut self, mut store: S, after_crash: bool) {
        let pairs = match store.scan(Bound::Unbounded, Bound::Unbounded) {
            Ok(p) => p,
            // Damage found while reading the recovered state back is a refusal of this
            // recovery; power-cycling would only find it again, forever.
            Err(StoreError::Damaged { file, detail }) if self.refusal_allowed(&file) => {
                self.counts.refusals += 1;
                self.set_result(RecoveryResult::Refused {
                    file: format!("{} ({detail})", file.display()),
                });
                self.stopped = true;
                return;
            }
            Err(e) if self.unchecked_damage() => {
                return self.leave_unjudged(format!("reading the state back failed: {e}"));
            }
            Err(e) => {
                self.store = Some(store);
                return self.on_error(e, false);
            }
        };
        let recovered = crate::model::state_of(pairs);
        // After a clean close D = N anyway; lower() only widens it after damage.
        let lower = self.lower();
        let lenient = self.lenient_now();
        let judged = judge(&self.hist(), &recovered, lower, lenient);
        let k = match judged {
            Judgement::Accepted { k } => k,
            Judgement::RolledBack { k } => {
                // Back past an earlier accepted recovery: judge from the whole history on.
                let whole = self.hist().whole();
                *self.hist() = whole;
                k
            }
            Judgement::Rejected(v) if self.unchecked_damage() => {
                return self.leave_unjudged(format!("{}: {}", v.kind, v.message));
            }
            Judgement::Rejected(v) => {
                self.set_result(RecoveryResult::Violated);
                return self.fail(v);
            }
        };
        match store.check_invariants() {
            Ok(()) => {}
            Err(e) if self.unchecked_damage() => {
                return self.leave_unjudged(format!("the store's own check failed: {e}"));
            }
            Err(StoreError::Other(e)) => {
                let m = format!("invariants broken after recovery: {e}");
                self.set_result(RecoveryResult::Violated);
                return self.fail(Violation::new(ViolationKind::Invariant, m));
            }
            // Damage the store's own check finds is a refusal of this recovery, like damage met
            // reading the state back: power-cycling would only find it again, forever.
            Err(StoreError::Damaged { file, detail }) if self.refusal_allowed(&file) => {
                self.counts.refusals += 1;
                self.set_result(RecoveryResult::Refused {
                    file: format!("{} ({detail})", file.display()),
                });
                self.stopped = true;
                return;
            }
            Err(e @ StoreError::Damaged { .. }) => {
                self.set_result(RecoveryResult::Violated);
                return self.fail(unclean_refusal(&e));
            }
            // An I/O error or damage met while checking is handled like any other.
            Err(e) => {
                self.store = Some(store);
                return self.on_error(e, false);
            }
        }
        if after_crash {
            self.counts.recoveries += 1;
            let durable = self.hist().durable;
            if k < durable {
                // Allowed only because damage or a lying sync lowered the bound: name
                // it for what it is, durable writes given back.
                self.counts.rollbacks += 1;
                self.set_result(RecoveryResult::RolledBack { k, durable });
            } else {
                self.set_result(RecoveryResult::Recovered { k });
            }
        }
        // An accepted recovery read back exactly the state after k writes: it becomes the base.
        // The runner's `live` is kept by `issue` alone: only what the lost writes touched
        // needs putting back.
        self.hist().rebase_onto_live(k, after_crash, recovered);
        self.durable_mark = self.sim.mutating_ops();
        self.store = Some(store);
        if after_crash && self.unchecked_damage() {
            // Damaged bytes the recovery did not read may surface in any later read: the run
            // stops here, its one judged recovery after the damage accepted.
            self.stopped = true;
        }
    }
}
