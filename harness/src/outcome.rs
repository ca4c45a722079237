//! The data a run produces: its outcome, crashes, counts, violations and failure signature.
//!
//! A leaf module: the checker, the run loop, reports, the gate and the shrinker all use these
//! types, and this module uses none of them, so they do not import each other in a circle.

use std::collections::BTreeSet;
use std::fmt;

use faultfs::{CrashPolicy, FaultClass, Phase};
use serde::{Deserialize, Serialize};

use crate::case::Case;
use crate::coverage::{Cause, CoverageFact};
use crate::report::Report;
use crate::swarm::RunConfig;

/// Why a run is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// The recovered state is no prefix of the history (a hole or a reordering).
    NotAPrefix,
    /// The recovered state is a prefix shorter than D: durable writes were lost.
    LostDurable,
    /// A deleted key came back with an older value.
    Resurrected,
    /// Part of an atomic batch survived without the rest.
    TornBatch,
    /// A value that was never written to that key.
    Phantom,
    /// A read while running did not match the live model.
    ReadYourWrites,
    /// The store's own invariant check failed after recovery.
    Invariant,
    /// The store refused to open (or to read) with no damage that could justify it, or named
    /// the wrong file.
    UncleanRefusal,
    /// The store accepted a write after an I/O error instead of refusing until reopened.
    PoisonIgnored,
    /// A scenario's `expect` step did not hold.
    Expectation,
    /// The store panicked.
    Panic,
    /// The store failed in a way the contract does not allow (for example an I/O error with no
    /// fault armed).
    UnexpectedError,
    /// An fsync failed and the store acknowledged the call anyway (it retried the fsync, or
    /// ignored the error): the pages that failed to reach the disk may be gone for good
    /// ("fsyncgate").
    SwallowedFsyncError,
}

impl ViolationKind {
    /// The snake_case name used in reports and scenario files.
    pub fn name(self) -> &'static str {
        match self {
            ViolationKind::NotAPrefix => "not_a_prefix",
            ViolationKind::LostDurable => "lost_durable",
            ViolationKind::Resurrected => "resurrected",
            ViolationKind::TornBatch => "torn_batch",
            ViolationKind::Phantom => "phantom",
            ViolationKind::ReadYourWrites => "read_your_writes",
            ViolationKind::Invariant => "invariant",
            ViolationKind::UncleanRefusal => "unclean_refusal",
            ViolationKind::PoisonIgnored => "poison_ignored",
            ViolationKind::Expectation => "expectation",
            ViolationKind::Panic => "panic",
            ViolationKind::UnexpectedError => "unexpected_error",
            ViolationKind::SwallowedFsyncError => "swallowed_fsync_error",
        }
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A key whose recovered value differs from the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDiff {
    pub key: String,
    /// What the model holds (`None`: absent).
    pub expected: Option<String>,
    /// What the store holds.
    pub recovered: Option<String>,
}

/// A broken contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub kind: ViolationKind,
    /// One or two sentences saying what went wrong.
    pub message: String,
    /// The keys that differ (expected vs recovered), at the allowed prefix closest to the result.
    pub diffs: Vec<KeyDiff>,
    /// The bounds the recovered state had to fall in: (lower, N) in writes since the base.
    pub bounds: Option<(usize, usize)>,
    /// The prefix `diffs` compares against.
    pub closest_k: Option<usize>,
}

impl Violation {
    /// A violation with only a message.
    pub fn new(kind: ViolationKind, message: impl Into<String>) -> Violation {
        Violation {
            kind,
            message: message.into(),
            diffs: Vec::new(),
            bounds: None,
            closest_k: None,
        }
    }
}

/// How a recovery ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryResult {
    /// Accepted: the recovered state is the model after `k` of the `n` writes issued.
    Recovered { k: usize },
    /// The store refused cleanly, naming a damaged file (allowed under damage faults).
    Refused { file: String },
    /// Accepted, but below the durable watermark D: durable writes were given back, which only
    /// damage (under the rollback rule, or where a torn tail could explain it), truncation, a
    /// misdirected write or a lying fsync allows.
    RolledBack { k: usize, durable: usize },
    /// Damage struck a store that declares it unchecked ([`crate::DamageRule::Unchecked`]): what
    /// it recovered was not judged (`detail` says what the checker would have said).
    Unchecked { detail: String },
    /// The power went again during recovery (the next record is that crash).
    CrashedAgain,
    /// The recovery broke the contract (see the run's violation).
    Violated,
}

/// One power cut and what followed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashRecord {
    /// The index of the event the power went at (the first that failed), in the run's log.
    pub event_index: u64,
    /// The engine phase in force then.
    pub phase: Phase,
    /// The path of the operation that was cut ("" if none).
    pub path: String,
    pub policy: CrashPolicy,
    /// Whether the power went while the store was recovering from an earlier crash.
    pub during_recovery: bool,
    /// The bounds the recovered state had to fall in: (lower, N) writes since the last accepted
    /// recovery (lower is D, or 0 when damage allowed any prefix).
    pub bounds: (usize, usize),
    pub result: RecoveryResult,
}

/// Tallies of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Steps executed.
    pub steps: u64,
    /// Writes issued and acknowledged.
    pub writes: u64,
    pub acked: u64,
    /// Power cuts (including the final one).
    pub crashes: u64,
    /// Recoveries checked and accepted.
    pub recoveries: u64,
    /// Clean refusals after damage.
    pub refusals: u64,
    /// Recoveries accepted below the durable watermark (see [`RecoveryResult::RolledBack`]).
    #[serde(default)]
    pub rollbacks: u64,
    /// Injected read or write errors (EIO, ENOSPC) the store absorbed: the call that met one
    /// still returned Ok (a retry that worked). A finding, not a violation; see
    /// [`RunOutcome::findings`].
    #[serde(default)]
    pub swallowed: u64,
    /// Recoveries after media damage left unjudged (`DamageRule::Unchecked`).
    #[serde(default)]
    pub unchecked: u64,
    /// Faults that fired.
    pub faults_fired: u64,
    /// Events in the fs log.
    pub events: u64,
}

/// Everything a run produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunOutcome {
    /// The seed, for seeded runs.
    pub seed: Option<u64>,
    /// What the seed decided, for seeded runs.
    pub config: Option<RunConfig>,
    /// The case that ran.
    pub case: Case,
    /// The digest of the fs event log; a replay must give the same.
    pub trace_hash: u64,
    pub crashes: Vec<CrashRecord>,
    /// The contract violations (a run stops at the first).
    pub violations: Vec<Violation>,
    /// Which faults and crash policies hit which files in which phase.
    pub coverage: Vec<CoverageFact>,
    pub counts: Counts,
    /// The failure report, when a violation was found.
    pub report: Option<Report>,
    /// Every damage a fault did at a reboot (file, offset, class), from the event log.
    #[serde(default)]
    pub damage: Vec<DamageDone>,
    /// For a failed run: what was not durable when the store last claimed durability.
    #[serde(default)]
    pub hints: Vec<crate::hints::Hint>,
    /// The failure's signature (see [`Signature`]), for a failed run.
    #[serde(default)]
    pub signature: Option<Signature>,
    /// Things worth knowing that break no promise: injected read or write errors the store
    /// absorbed and acknowledged anyway (one line each, with the event).
    #[serde(default)]
    pub findings: Vec<String>,
    /// The whole event log and the events of each step, kept when the run failed (a failure
    /// page draws them); not serialized, since the log of a long run is large.
    #[serde(skip)]
    pub trace: Option<Trace>,
}

/// One damage applied at a reboot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DamageDone {
    pub path: String,
    pub offset: u64,
    pub class: faultfs::FaultClass,
}

impl RunOutcome {
    /// Fills in [`RunOutcome::signature`] (and the report's copy of it).
    pub fn with_signature(mut self) -> RunOutcome {
        self.signature = Signature::of(&self);
        if let (Some(r), Some(s)) = (self.report.as_mut(), &self.signature) {
            r.signature = s.to_string();
        }
        self
    }

    /// Tells whether the run found no violation.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// What a failing run did, event by event.
#[derive(Clone, Debug)]
pub struct Trace {
    pub events: Vec<faultfs::Event>,
    /// One per step that ran, in the order of the case's steps.
    pub steps: Vec<StepTrace>,
}

/// Which events one step of the case caused, and what the store said; a failure page draws the
/// steps above the file lanes from these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepTrace {
    /// The first event logged while the step ran (the event count before it).
    pub first_event: usize,
    /// The event count after it: the step caused events `first_event..end_event`.
    pub end_event: usize,
    /// A write the store acknowledged (returned Ok).
    pub acked: bool,
    /// The step ended at a durability point: every write issued so far counts as durable.
    pub made_durable: bool,
}

/// What tells one failure apart from another, kept by the shrinker: the violation kind, the
/// fault classes that fired, the role of the file the store refused or the crash cut, and the
/// kinds of missing sync the hints point at. Two failures with one kind but different
/// signatures are (usually) two bugs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub kind: ViolationKind,
    /// Fault classes that fired in the run.
    pub faults: BTreeSet<FaultClass>,
    /// What the hints say is missing, with the role of the file (`name_not_synced:log`).
    pub missing: BTreeSet<String>,
}

impl Signature {
    /// The signature of a failed run (`None` when it passed).
    pub fn of(outcome: &RunOutcome) -> Option<Signature> {
        let kind = outcome.violations.first()?.kind;
        let faults = outcome
            .coverage
            .iter()
            .filter_map(|f| match f.cause {
                Cause::Fault(c) => Some(c),
                Cause::Crash(_) => None,
            })
            .collect();
        let missing = outcome
            .hints
            .iter()
            .map(|h| {
                let kind = serde_json::to_value(h.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                format!("{kind}:{}", h.role.name())
            })
            .collect();
        Some(Signature {
            kind,
            faults,
            missing,
        })
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        let faults: Vec<String> = self
            .faults
            .iter()
            .map(|c| crate::swarm::fault_class_name(*c))
            .collect();
        write!(
            f,
            "; faults fired: {}",
            if faults.is_empty() {
                "none".to_string()
            } else {
                faults.join(", ")
            }
        )?;
        let missing: Vec<&str> = self.missing.iter().map(String::as_str).collect();
        write!(
            f,
            "; missing: {}",
            if missing.is_empty() {
                "nothing the hints see".to_string()
            } else {
                missing.join(", ")
            }
        )
    }
}
