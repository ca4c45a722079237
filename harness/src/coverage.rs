//! Coverage facts: which fault or crash policy hit which role of file in which phase.
//!
//! A run reports one fact per fault that fired and one per crash point; the gate aggregates them
//! into the matrix cause x file kind x phase.

use std::path::Path;

use faultfs::{CrashPolicy, Event, EventOp, FaultClass, Phase};

pub use crate::store::FileKind;
use serde::{Deserialize, Serialize};

/// What caused a coverage fact: a fault that fired, or a crash under a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    Fault(FaultClass),
    /// A crash under a policy.
    Crash(PolicyKind),
}

/// A crash policy without its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    Strict,
    KeepAll,
    Torn,
    Reorder,
}

impl PolicyKind {
    /// Every kind, in a fixed order.
    pub const ALL: [PolicyKind; 4] = [
        PolicyKind::Strict,
        PolicyKind::KeepAll,
        PolicyKind::Torn,
        PolicyKind::Reorder,
    ];

    /// The kind of a policy.
    pub fn of(policy: &CrashPolicy) -> PolicyKind {
        match policy {
            CrashPolicy::Strict => PolicyKind::Strict,
            CrashPolicy::KeepAll => PolicyKind::KeepAll,
            CrashPolicy::Torn { .. } => PolicyKind::Torn,
            CrashPolicy::Reorder { .. } => PolicyKind::Reorder,
        }
    }

    /// The short name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Strict => "strict",
            PolicyKind::KeepAll => "keepall",
            PolicyKind::Torn => "torn",
            PolicyKind::Reorder => "reorder",
        }
    }

    /// The policy with the default sector size (512 bytes).
    pub fn policy(self) -> CrashPolicy {
        match self {
            PolicyKind::Strict => CrashPolicy::Strict,
            PolicyKind::KeepAll => CrashPolicy::KeepAll,
            PolicyKind::Torn => CrashPolicy::Torn { sector: 512 },
            PolicyKind::Reorder => CrashPolicy::Reorder { sector: 512 },
        }
    }

    /// Parses a command-line name.
    pub fn parse(name: &str) -> Option<PolicyKind> {
        PolicyKind::ALL
            .into_iter()
            .find(|k| k.name() == name || (name == "keep_all" && *k == PolicyKind::KeepAll))
    }
}

/// One cell hit: a cause, the file it touched and the engine phase in force.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CoverageFact {
    pub cause: Cause,
    /// The path of the operation it hit (empty for a fault that hit no file, like a power cut
    /// between operations).
    pub path: String,
    pub file: FileKind,
    pub phase: Phase,
}

/// The primary path an event touched (the source of a rename), or "" for none.
pub fn event_path(op: &EventOp) -> &str {
    match op {
        EventOp::Create { path }
        | EventOp::Open { path }
        | EventOp::Read { path, .. }
        | EventOp::Write { path, .. }
        | EventOp::SetLen { path, .. }
        | EventOp::Sync { path }
        | EventOp::Remove { path }
        | EventOp::List { path }
        | EventOp::CreateDir { path }
        | EventOp::SyncDir { path }
        | EventOp::Exists { path }
        | EventOp::Lock { path }
        | EventOp::Damage { path, .. } => path,
        EventOp::Rename { from, .. } => from,
        EventOp::PowerOff | EventOp::Reboot { .. } => "",
    }
}

/// The facts of every fault that fired in an event log; `kinds` names each file's role.
pub fn fault_facts(events: &[Event], kinds: fn(&Path) -> FileKind) -> Vec<CoverageFact> {
    // A plain loop: as a `filter_map` closure the rare fault arm kept the closure out of line,
    // a call per event of a log that has hundreds of events per run and mostly no fault.
    let mut facts: Vec<CoverageFact> = Vec::new();
    for e in events {
        let Some(class) = e.fault else { continue };
        let path = event_path(&e.op).to_string();
        facts.push(CoverageFact {
            cause: Cause::Fault(class),
            file: kinds(Path::new(&path)),
            path,
            phase: e.phase,
        });
    }
    facts.sort();
    facts.dedup();
    facts
}
