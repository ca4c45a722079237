//! Powercut's harness: a reference model and checker, seeded workloads, crash/recover loops,
//! replay, shrinking, exploration and the `powercut` CLI.
//!
//! # How a run works
//!
//! A [`Case`] is a store kind, engine options and a list of [`Step`]s (writes, reads, syncs,
//! flushes, compactions, reopens, crashes, faults, expectations). A seed expands into a case
//! ([`RunConfig::from_seed`]): the workload, the engine options, the crash policy, the faults and
//! the crash schedule all come from one `ChaCha8Rng`. [`execute`] runs a case on a fresh
//! [`faultfs::SimFs`]: every write is recorded in a [`History`] with its outcome; when the power
//! goes the disk is rebooted under the crash's policy, the store is reopened (a second crash may
//! fall inside that recovery) and the recovered state is checked against the history
//! ([`checker::check_recovery`]). A failing case can be shrunk ([`shrink()`]) and written as a
//! [`Scenario`] file that reproduces it without the seed. [`explore()`] visits every crash point
//! of one run instead of sampling them.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod case;
pub mod checker;
pub mod cli;
pub mod coverage;
pub mod damage;
pub mod explore;
pub mod gate;
pub mod hints;
pub mod html;
pub mod killtest;
pub mod model;
pub mod report;
pub mod run;
pub mod runner;
pub mod scenario;
pub mod shrink;
pub mod store;
pub mod stores;
pub mod strategies;
pub mod swarm;
pub mod workload;

pub use case::{Case, CrashStep, DamageClass, DamageStep, Step, StoreKind};
pub use checker::{KeyDiff, Verdict, Violation, ViolationKind};
pub use coverage::{Cause, CoverageFact, FileKind, PolicyKind};
pub use explore::{ExploreOptions, ExploreOutcome, explore};
pub use model::{History, Mutation, Outcome, WriteRecord};
pub use report::Report;
pub use run::{
    Counts, CrashRecord, DamageDone, RecoveryResult, RunOptions, RunOutcome, execute, execute_with,
    run_seed,
};
pub use scenario::{Scenario, ScenarioError, run_scenario};
pub use shrink::{ShrinkOptions, ShrinkOutcome, shrink};
pub use store::{Durability, Store, StoreError};
pub use swarm::RunConfig;
pub use workload::{Mix, WorkloadParams, generate};
