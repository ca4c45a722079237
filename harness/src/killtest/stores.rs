//! Where the kill-test opens a store: on the real disk, background work on its own threads.
//!
//! Simulated runs put a store's background work inline so they replay; a kill-test wants the
//! opposite, flushes and compactions racing the writer on their own threads, with the store's
//! [`crate::Store::kill_test_config`] (the engine's is sized so every round of a few hundred
//! milliseconds flushes, compacts and rolls its MANIFEST over while the kill may land).

use std::sync::Arc;

use crate::store::{Background, DiskAssumptions, Env};

/// The environment of a kill-test open on `fs` (a real disk): threads, the worst-case disk.
pub fn threads_env(fs: Arc<dyn faultfs::Fs>) -> Env {
    Env {
        fs,
        dir: crate::runner::DB_DIR.into(),
        background: Background::Threads,
        assumptions: DiskAssumptions::WORST,
    }
}
