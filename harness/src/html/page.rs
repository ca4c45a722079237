//! What a failure page shows, as plain data: [`super::render`] draws a [`Page`] and nothing else.
//!
//! The fields are the facts of one run in words that fit any store (file roles, not engine file
//! names; violation text, not checker types), so the renderer needs no part of the run loop and
//! a store plugged in from outside gets the same picture.

use std::collections::BTreeMap;

use faultfs::{CrashPolicy, Event, FileKind, Phase};

/// One failing run, ready to draw.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// The heading (for example `lost_durable: seed 10` or a scenario's name).
    pub title: String,
    /// The store's name.
    pub store: String,
    /// The seed, for seeded runs.
    pub seed: Option<u64>,
    /// The run's crash policy.
    pub policy: Option<CrashPolicy>,
    /// The one command that replays the failure.
    pub replay: String,
    /// Extra lines under the heading (how the case was shrunk, where it was saved).
    pub notes: Vec<String>,
    /// The faults armed during the run and which fired, one line each.
    pub faults: Vec<String>,
    /// The whole event log of the file system.
    pub events: Vec<Event>,
    /// The role of every file the events name, as the store classifies it.
    pub roles: BTreeMap<String, FileKind>,
    /// The steps of the workload in the order they ran.
    pub steps: Vec<StepSpan>,
    /// Every power cut, in order; the k-th closes with the k-th reboot event of the log.
    pub crashes: Vec<CrashMark>,
    pub violation: Option<ViolationText>,
    /// Plain-words hints read off the events (the missing sync, usually).
    pub hints: Vec<String>,
    /// The digest a replay must reproduce.
    pub trace_hash: u64,
}

/// What kind of thing a step asks for; it decides the colour of the step's bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// A put, a delete or a batch: one write in the model's history.
    Write,
    /// A get or a scan.
    Read,
    /// A sync, a flush or a clean reopen: a call the store may promise durability at.
    Durability,
    /// Compaction and other reorganisation.
    Maintenance,
    /// A power cut, now or after some operations.
    Crash,
    /// A fault or aimed damage armed.
    Fault,
    /// An expectation checked.
    Check,
    /// Work the run loop did after the last step (the final clean close and reopen).
    Epilogue,
}

/// One step of the workload and the events it caused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepSpan {
    /// A short description (`put k03=v3 sync`).
    pub label: String,
    pub kind: StepKind,
    /// The step caused events `first_event..end_event` (empty when it touched no file).
    pub first_event: usize,
    pub end_event: usize,
    /// A write the store acknowledged.
    pub acked: bool,
    /// The step ended at a durability point: every write issued so far counts as durable.
    pub made_durable: bool,
}

/// One power cut and what followed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrashMark {
    /// The event the power went at (the first operation that failed, or the power-off).
    pub event_index: u64,
    pub phase: Phase,
    /// The power went while the store was recovering from an earlier cut.
    pub during_recovery: bool,
    /// D and N: the recovered state had to be the model after between D and N of the writes
    /// issued since the last accepted recovery.
    pub bounds: (usize, usize),
    pub policy: CrashPolicy,
    /// How the recovery ended, in words (`recovered the first 3 writes`, `violated`, ...).
    pub result: String,
}

/// The broken contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViolationText {
    /// The violation kind (`lost_durable`, `phantom`, ...).
    pub kind: String,
    pub message: String,
    /// The prefix of the history the diffs compare against, when there is one.
    pub closest_k: Option<usize>,
    /// The keys whose recovered value differs from the model.
    pub diffs: Vec<KeyDiffText>,
}

/// One key that came back wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyDiffText {
    pub key: String,
    /// What the model holds (`None`: absent).
    pub expected: Option<String>,
    /// What the store returned (`None`: absent).
    pub recovered: Option<String>,
}
