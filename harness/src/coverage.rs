//! Coverage facts: which fault or crash policy hit which kind of file in which engine phase.
//!
//! A run reports one fact per fault that fired and one per crash point; the gate aggregates them
//! into the matrix cause x file kind x phase.

use faultfs::{CrashPolicy, Event, EventOp, FaultClass, Phase};
use serde::{Deserialize, Serialize};

/// The kind of an engine file, by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// `*.wal`
    Wal,
    /// `*.sst`
    Sst,
    /// `MANIFEST-*`
    Manifest,
    /// `CURRENT*` (CURRENT and CURRENT.tmp)
    Current,
    /// Anything else (LOCK, directories, a careless store's log).
    Other,
}

impl FileKind {
    /// Every kind, in a fixed order (for coverage matrices).
    pub const ALL: [FileKind; 5] = [
        FileKind::Wal,
        FileKind::Sst,
        FileKind::Manifest,
        FileKind::Current,
        FileKind::Other,
    ];

    /// Classifies a path by its file name.
    pub fn of(path: &str) -> FileKind {
        let name = path.rsplit('/').next().unwrap_or(path);
        if name.ends_with(".wal") {
            FileKind::Wal
        } else if name.ends_with(".sst") {
            FileKind::Sst
        } else if name.starts_with("MANIFEST-") {
            FileKind::Manifest
        } else if name.starts_with("CURRENT") {
            FileKind::Current
        } else {
            FileKind::Other
        }
    }

    /// The faultfs path pattern that matches files of this kind.
    pub fn pattern(self) -> &'static str {
        match self {
            FileKind::Wal => "*.wal",
            FileKind::Sst => "*.sst",
            FileKind::Manifest => "MANIFEST-*",
            FileKind::Current => "CURRENT*",
            FileKind::Other => "*",
        }
    }

    /// A short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Wal => "wal",
            FileKind::Sst => "sst",
            FileKind::Manifest => "manifest",
            FileKind::Current => "current",
            FileKind::Other => "other",
        }
    }
}

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

/// The facts of every fault that fired in an event log.
pub fn fault_facts(events: &[Event]) -> Vec<CoverageFact> {
    let mut facts: Vec<CoverageFact> = events
        .iter()
        .filter_map(|e| {
            let class = e.fault?;
            let path = event_path(&e.op).to_string();
            Some(CoverageFact {
                cause: Cause::Fault(class),
                file: FileKind::of(&path),
                path,
                phase: e.phase,
            })
        })
        .collect();
    facts.sort();
    facts.dedup();
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_kinds_are_read_from_names() {
        assert_eq!(FileKind::of("db/000012.wal"), FileKind::Wal);
        assert_eq!(FileKind::of("db/000013.sst"), FileKind::Sst);
        assert_eq!(FileKind::of("db/MANIFEST-000001"), FileKind::Manifest);
        assert_eq!(FileKind::of("db/CURRENT.tmp"), FileKind::Current);
        assert_eq!(FileKind::of("db/LOCK"), FileKind::Other);
    }
}
