//! Integration tests of the engine, in one binary to keep link time low.
//!
//! Slow sweeps are sized by environment variables: `POWERCUT_CASES` (property-test cases).

#![allow(clippy::unwrap_used, clippy::expect_used)]
// Tests damage real files behind the engine's back on purpose; the engine itself never may.
#![allow(clippy::disallowed_methods)]

mod basics;
#[cfg(feature = "bugs")]
mod bugs;
mod cli;
mod common;
mod concurrency;
mod failures;
mod model;
mod no_std_fs;
mod recovery;
mod sequence;
mod sim;
