//! A [`Case`]: everything one run does, spelled out step by step.
//!
//! Seeded runs, scenario files and shrunk failures all become a case, so one executor runs them
//! all and a shrunk case can be written back as a scenario that reproduces it without the seed.
//! The JSON form of [`Step`] is the `steps` array of a scenario file (see `scenarios/README.md`).

use faultfs::{CrashPolicy, Fault};
use serde::{Deserialize, Serialize};

use crate::model::Mutation;
use crate::store::{DiskAssumptions, FileKind};

/// A crash: when the power goes and how the disk comes back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashStep {
    /// What of the pending state survives.
    pub policy: CrashPolicy,
    /// `None`: the power goes now. `Some(n)`: it goes at the (n+1)-th mutating fs operation from
    /// when the crash is armed. Crashes are armed one at a time in the order they appear; the
    /// next one is armed right after the previous one's reboot, so it may fall inside recovery.
    #[serde(default)]
    pub after_ops: Option<u64>,
    /// Seeds the reboot's choices (which pending writes survive under Torn / Reorder).
    #[serde(default)]
    pub seed: u64,
}

/// Damage the harness aims at a durable byte of a file, applied at the next reboot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DamageClass {
    BitFlip,
    TornSector,
}

/// Aimed damage: at the next crash the harness picks, from the event log, a durable write to a
/// file of role `file` and damages a byte inside it (see [`crate::damage`] for which writes are
/// eligible and which outcome each allows).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DamageStep {
    pub class: DamageClass,
    pub file: FileKind,
    /// Chooses among the eligible writes and the offset inside (any number; it is reduced modulo).
    #[serde(default)]
    pub pick: u64,
}

/// One step of a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    Put {
        key: String,
        value: String,
        #[serde(default)]
        sync: bool,
    },
    Delete {
        key: String,
        #[serde(default)]
        sync: bool,
    },
    /// An atomic batch.
    Batch {
        ops: Vec<Mutation>,
        #[serde(default)]
        sync: bool,
    },
    /// Reads a key; it must equal the live model.
    Get {
        key: String,
    },
    /// Reads a range (`None` = unbounded); it must equal the live model.
    Scan {
        #[serde(default)]
        start: Option<String>,
        #[serde(default)]
        end: Option<String>,
    },
    Sync {},
    Flush {},
    Compact {},
    /// A clean close and reopen.
    Reopen {},
    Crash(CrashStep),
    /// Arms a faultfs fault now.
    Fault(Fault),
    /// Arms aimed damage for the next crash.
    Damage(DamageStep),
    /// The key must hold `value` now (`null`: absent).
    Expect {
        key: String,
        value: Option<String>,
    },
}

impl Step {
    /// The mutations of a write step, with its sync flag; `None` for other steps.
    pub fn as_write(&self) -> Option<(Vec<Mutation>, bool)> {
        match self {
            Step::Put { key, value, sync } => Some((
                vec![Mutation::Put {
                    key: key.clone(),
                    value: value.clone(),
                }],
                *sync,
            )),
            Step::Delete { key, sync } => {
                Some((vec![Mutation::Delete { key: key.clone() }], *sync))
            }
            Step::Batch { ops, sync } => Some((ops.clone(), *sync)),
            _ => None,
        }
    }

    /// Tells whether the step calls the store (as opposed to crashes, faults, expectations).
    pub fn is_store_op(&self) -> bool {
        !matches!(
            self,
            Step::Crash(_) | Step::Fault(_) | Step::Damage(_) | Step::Expect { .. }
        )
    }
}

/// Everything one run does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// The name of the store it runs on ([`crate::Store::name`]).
    pub store: String,
    /// The store's configuration in its JSON form (see [`crate::store::config_from_json`]).
    pub config: serde_json::Value,
    /// Named defects of the store to switch on ([`crate::Store::enable_defect`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bugs: Vec<String>,
    /// What the disk promises, when the run overrides the store's own declaration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumptions: Option<DiskAssumptions>,
    /// Seeds the simulator's own runtime choices (where a misdirected write lands).
    pub sim_seed: u64,
    pub steps: Vec<Step>,
}

impl Case {
    /// How many steps call the store.
    pub fn store_ops(&self) -> usize {
        self.steps.iter().filter(|s| s.is_store_op()).count()
    }

    /// An empty case for store `S` with its default configuration.
    pub fn new<S: crate::Store>(steps: Vec<Step>) -> Case {
        Case {
            store: S::name().to_string(),
            config: crate::store::config_to_json::<S>(&S::Config::default()),
            bugs: Vec::new(),
            assumptions: None,
            sim_seed: 0,
            steps,
        }
    }
}
