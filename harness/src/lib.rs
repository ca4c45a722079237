//! Powercut: crash-consistency testing for any storage engine written against [`faultfs::Fs`].
//! A reference model and checker, seeded workloads, crash/recover loops, replay, shrinking,
//! exploration, the durability gate and the `powercut` CLI, all generic over a [`Store`].
//!
//! # Plugging in your engine
//!
//! Implement [`Store`] for a thin wrapper around your engine (see [`store`] for what it
//! declares), then either give it the whole CLI in a binary of your own:
//!
//! ```no_run
//! # type MyStore = powercut::stores::CarelessStore;
//! fn main() -> std::process::ExitCode {
//!     powercut::cli::main::<MyStore>()
//! }
//! ```
//!
//! or sweep it inside `cargo test` with [`sweep()`].
//!
//! # How a run works
//!
//! A [`Case`] is a store's name, its configuration and a list of [`Step`]s (writes, reads, syncs,
//! flushes, compactions, reopens, crashes, faults, expectations). A seed expands into a case
//! ([`RunConfig::from_seed`]): the workload, the store's configuration, the crash policy, the faults and
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
#[cfg(feature = "fast-alloc")]
pub mod fast_alloc;
pub mod gate;
pub mod hints;
pub mod html;
pub mod killtest;
pub mod model;
pub mod outcome;
pub mod panics;
pub mod probe;
pub mod report;
pub mod run;
pub mod runner;
pub mod scenario;
pub mod shrink;
pub mod store;
pub mod stores;
#[cfg(feature = "strategies")]
pub mod strategies;
pub mod swarm;
pub mod sweep;
pub mod workload;

pub use case::{Case, CrashStep, DamageClass, DamageStep, Step};
pub use checker::{KeyDiff, Verdict, Violation, ViolationKind};
pub use coverage::{Cause, CoverageFact, PolicyKind};
pub use explore::{ExploreOptions, ExploreOutcome, explore};
pub use model::{History, Mutation, Outcome, WriteRecord};
pub use outcome::{Counts, CrashRecord, DamageDone, RecoveryResult, RunOutcome, Signature};
pub use report::Report;
pub use run::{execute, run_seed};
pub use scenario::{Scenario, ScenarioError, run_scenario};
pub use shrink::{ShrinkOptions, ShrinkOutcome, shrink};
pub use store::{
    Background, Call, DamageRule, Defect, DiskAssumptions, Durability, Env, FileKind, Pairs, Store,
    StoreError,
};
pub use swarm::{RunConfig, RunOptions};
pub use sweep::{SweepOptions, sweep};
pub use workload::{Mix, WorkloadParams, generate};

/// The file-system seam a store is written against (`Fs`, `File`, `StdFs`, `SimFs`, ...).
pub use faultfs;
/// The `rand` traits for drawing (`use powercut::rand::RngExt`).
pub use rand;
/// The generator a store's [`Store::draw_config`] draws from.
pub use rand_chacha::ChaCha8Rng;
