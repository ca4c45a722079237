//! The parent's side of a round's end: open the store the child was killed in, check its own
//! invariants and read back everything it holds.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use faultfs::{Fs, StdFs};

use crate::checker::ViolationKind;
use crate::killtest::stores::{KillStoreKind, threaded_engine};
use crate::model::State;
use crate::store::{Store, StoreError};
use crate::stores::buffered::{BufferedConfig, BufferedStore};
use crate::stores::{CarelessConfig, CarelessStore, EngineStore};

/// The store's directory inside the kill-test directory.
pub const DB_DIR: &str = "db";

/// Why the recovered store could not be read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryFailure {
    pub kind: ViolationKind,
    pub message: String,
}

/// Every pair the store holds, as the model's text state.
pub fn read_state<S: Store>(store: &mut S) -> Result<State, String> {
    let pairs = store
        .scan(Bound::Unbounded, Bound::Unbounded)
        .map_err(|e| format!("scan: {e}"))?;
    let mut state = State::new();
    for (k, v) in pairs {
        // The workload writes only ASCII, so anything else is bytes the store made up.
        let key = String::from_utf8(k).map_err(|e| format!("a key that is not text: {e}"))?;
        let value = String::from_utf8(v)
            .map_err(|e| format!("key {key:?} holds a value that is not text: {e}"))?;
        state.insert(key, value);
    }
    Ok(state)
}

/// Opens the store of `kind` in `dir` (the kill-test directory) the way a restarted process
/// would (with the same engine defects as the child), checks its invariants and returns its contents. The store is dropped, not closed, so
/// the next child recovers the same files again rather than a cleanly closed store.
pub fn recover(
    kind: KillStoreKind,
    bugs: &[engine::bugs::Bug],
    dir: &Path,
) -> Result<State, RecoveryFailure> {
    let fs: Arc<dyn Fs> = match StdFs::new(dir) {
        Ok(fs) => Arc::new(fs),
        Err(e) => {
            return Err(RecoveryFailure {
                kind: ViolationKind::UnexpectedError,
                message: format!("the kill-test directory {}: {e}", dir.display()),
            });
        }
    };
    match kind {
        KillStoreKind::Engine => recover_store::<EngineStore>(fs, &threaded_engine(bugs)),
        KillStoreKind::Careless => recover_store::<CarelessStore>(fs, &CarelessConfig::default()),
        KillStoreKind::Buffered => recover_store::<BufferedStore>(fs, &BufferedConfig::default()),
    }
}

fn recover_store<S: Store>(fs: Arc<dyn Fs>, config: &S::Config) -> Result<State, RecoveryFailure> {
    let mut store = S::open(&crate::killtest::stores::threads_env(fs), config).map_err(|e| {
        RecoveryFailure {
            kind: refusal_kind(&e),
            message: format!(
                "the store could not be reopened after the kill: {e}{}",
                lock_hint(&e)
            ),
        }
    })?;
    store.check_invariants().map_err(|e| RecoveryFailure {
        kind: ViolationKind::Invariant,
        message: format!("after recovery: {e}"),
    })?;
    read_state(&mut store).map_err(|message| RecoveryFailure {
        kind: ViolationKind::UnexpectedError,
        message: format!("reading the recovered store back: {message}"),
    })
}

/// A kill damages no byte the kernel holds, so even a refusal that names a file is unclean.
fn refusal_kind(err: &StoreError) -> ViolationKind {
    match err {
        StoreError::Damaged { .. } => ViolationKind::UncleanRefusal,
        _ => ViolationKind::UnexpectedError,
    }
}

/// Points at the LOCK when the open failed on it: the kernel should have dropped the dead
/// child's flock.
fn lock_hint(err: &StoreError) -> &'static str {
    if err.to_string().contains("locked") {
        " (the dead child's LOCK was not released: the lock must be one the kernel drops when \
         its process dies, like flock)"
    } else {
        ""
    }
}
