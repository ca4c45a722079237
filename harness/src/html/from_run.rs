//! A [`Page`] from what a run produced: its outcome, its report and the event log it kept.
//!
//! This is the only part of the page that knows the run loop's types; the renderer sees plain
//! data. The roles of files come from a classifier the store supplies (`faultfs::KindFn`), so a
//! store plugged in from outside gets lanes named for what its files are.

use std::collections::BTreeMap;
use std::path::Path;

use faultfs::{FileKind, KindFn};

use super::lanes::{dir_path, file_paths};
use super::page::{CrashMark, KeyDiffText, Page, StepKind, StepSpan, ViolationText};
use crate::case::Step;
use crate::run::{RecoveryResult, RunOutcome};

/// The page of a failed run, or `None` when the run passed (a passing run keeps no event log).
/// The title, replay command and notes can be changed on the result before rendering.
pub fn page_of(outcome: &RunOutcome, roles: KindFn) -> Option<Page> {
    let trace = outcome.trace.as_ref()?;
    let report = outcome.report.as_ref()?;
    let v = &report.violation;
    let mut roles_of: BTreeMap<String, FileKind> = BTreeMap::new();
    for e in &trace.events {
        for p in file_paths(&e.op).into_iter().chain(dir_path(&e.op)) {
            roles_of
                .entry(p.to_string())
                .or_insert_with(|| roles(Path::new(p)));
        }
    }
    let mut steps: Vec<StepSpan> = outcome
        .case
        .steps
        .iter()
        .zip(&trace.steps)
        .map(|(step, t)| StepSpan {
            label: label(step),
            kind: kind(step),
            first_event: t.first_event,
            end_event: t.end_event,
            acked: t.acked,
            made_durable: t.made_durable,
        })
        .collect();
    let done = trace.steps.last().map_or(0, |t| t.end_event);
    if done < trace.events.len() {
        steps.push(StepSpan {
            label: "close and reopen (final check)".to_string(),
            kind: StepKind::Epilogue,
            first_event: done,
            end_event: trace.events.len(),
            acked: false,
            made_durable: false,
        });
    }
    let title = match outcome.seed.or(report.seed) {
        Some(seed) => format!("{}: {} store, seed {seed}", v.kind, report.store),
        None => format!("{}: {} store", v.kind, report.store),
    };
    Some(Page {
        title,
        store: report.store.clone(),
        seed: outcome.seed.or(report.seed),
        policy: report.policy,
        replay: report.replay.clone(),
        notes: Vec::new(),
        faults: report.faults.clone(),
        events: trace.events.clone(),
        roles: roles_of,
        steps,
        crashes: outcome
            .crashes
            .iter()
            .enumerate()
            .map(|(k, c)| CrashMark {
                event_index: c.event_index,
                phase: c.phase,
                during_recovery: c.during_recovery,
                bounds: c.bounds,
                policy: c.policy,
                result: result_words(&c.result, k + 1 == outcome.crashes.len()),
            })
            .collect(),
        violation: Some(ViolationText {
            kind: v.kind.name().to_string(),
            message: v.message.clone(),
            closest_k: v.closest_k,
            diffs: v
                .diffs
                .iter()
                .map(|d| KeyDiffText {
                    key: d.key.clone(),
                    expected: d.expected.clone(),
                    recovered: d.recovered.clone(),
                })
                .collect(),
        }),
        hints: report.hints.clone(),
        trace_hash: outcome.trace_hash,
    })
}

/// How a recovery ended. The run loop leaves a recovery that failed before being checked (a
/// refusal, an error) marked as cut again; in a failed run the last one is the failure.
fn result_words(r: &RecoveryResult, last: bool) -> String {
    match r {
        RecoveryResult::Recovered { k } => format!("recovered the model after {k} writes"),
        RecoveryResult::Unchecked { detail } => {
            format!("after damage the store does not check, left unjudged: {detail}")
        }
        RecoveryResult::RolledBack { k, durable } => {
            format!("rolled back to the model after {k} writes, below the durable {durable}")
        }
        RecoveryResult::Refused { file } => format!("refused to open: {file}"),
        RecoveryResult::CrashedAgain if last => "the recovery broke the contract".to_string(),
        RecoveryResult::CrashedAgain => "the power went again during recovery".to_string(),
        RecoveryResult::Violated => "the recovery broke the contract".to_string(),
    }
}

fn kind(step: &Step) -> StepKind {
    match step {
        Step::Put { .. } | Step::Delete { .. } | Step::Batch { .. } => StepKind::Write,
        Step::Get { .. } | Step::Scan { .. } => StepKind::Read,
        Step::Sync {} | Step::Flush {} | Step::Reopen {} => StepKind::Durability,
        Step::Compact {} => StepKind::Maintenance,
        Step::Crash(_) => StepKind::Crash,
        Step::Fault(_) | Step::Damage(_) => StepKind::Fault,
        Step::Expect { .. } => StepKind::Check,
    }
}

/// A step in a few words: `put k03=v3-abc sync`, `crash strict after 40 ops`.
fn label(step: &Step) -> String {
    let sync = |s: &bool| if *s { " sync" } else { "" };
    let short = |v: &str| super::text::cut(v, 12);
    match step {
        Step::Put {
            key,
            value,
            sync: s,
        } => format!("put {key}={}{}", short(value), sync(s)),
        Step::Delete { key, sync: s } => format!("delete {key}{}", sync(s)),
        Step::Batch { ops, sync: s } => format!("batch of {}{}", ops.len(), sync(s)),
        Step::Get { key } => format!("get {key}"),
        Step::Scan { start, end } => format!(
            "scan {}..{}",
            start.as_deref().unwrap_or(""),
            end.as_deref().unwrap_or("")
        ),
        Step::Sync {} => "sync".to_string(),
        Step::Flush {} => "flush".to_string(),
        Step::Compact {} => "compact".to_string(),
        Step::Reopen {} => "reopen".to_string(),
        Step::Crash(c) => match c.after_ops {
            Some(n) => format!("crash {} after {n} ops", c.policy),
            None => format!("power cut ({})", c.policy),
        },
        Step::Fault(f) => format!("arm {}", crate::swarm::fault_class_name(f.class())),
        Step::Damage(d) => format!("aim damage at {}", d.file.name()),
        Step::Expect { key, value } => match value {
            Some(v) => format!("expect {key}={}", short(v)),
            None => format!("expect {key} absent"),
        },
    }
}
