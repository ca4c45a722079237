//! The child process of a round: opens the store on the real disk and runs the round's workload
//! until the parent kills it, reporting every step on stdout (see [`super::protocol`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultfs::{Fs, Phase, StdFs};

use crate::checker::read_mismatch;
use crate::killtest::phase_fs::PhaseFs;
use crate::killtest::protocol::{ChildEvent, Reporter};
use crate::killtest::recover::read_state;
use crate::killtest::workload::{KillOp, RoundWorkload};
use crate::model::State;
use crate::store::{Call, Durability, Store, StoreError};

/// Exit code of a child that saw a contract violation itself (a read that missed a write).
pub const EXIT_VIOLATION: u8 = 1;
/// Exit code of a child whose store failed (open, write, sync, ...).
pub const EXIT_STORE_ERROR: u8 = 3;

/// What one child runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildArgs {
    /// The kill-test directory (the store lives in its `db` subdirectory).
    pub dir: PathBuf,
    /// The `--store` a multi-store binary needs to pick the store (`None`: its default).
    pub store: Option<String>,
    /// The round's seed.
    pub seed: u64,
    /// The global id of the round's first write.
    pub first_id: u64,
    /// Store defects switched on.
    pub bugs: Vec<String>,
    /// Configuration fields over the store's kill-test configuration (JSON object text).
    pub config: Option<String>,
}

impl ChildArgs {
    /// The command-line arguments of the hidden `kill-test-child` subcommand.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "kill-test-child".to_string(),
            "--dir".to_string(),
            self.dir.display().to_string(),
            "--seed".to_string(),
            self.seed.to_string(),
            "--first-id".to_string(),
            self.first_id.to_string(),
        ];
        if let Some(store) = &self.store {
            args.extend(["--store".to_string(), store.clone()]);
        }
        for b in &self.bugs {
            args.extend(["--bug".to_string(), b.clone()]);
        }
        if let Some(c) = &self.config {
            args.extend(["--config".to_string(), c.clone()]);
        }
        args
    }
}

/// Runs the child of store `S` until it is killed (or the parent stops listening); returns its
/// exit code.
pub fn run_child<S: Store>(args: &ChildArgs) -> u8 {
    let reporter = Arc::new(Reporter);
    if !reporter.send(&ChildEvent::Started) {
        return 0;
    }
    let options = crate::killtest::KillTestOptions {
        bugs: args.bugs.clone(),
        config: args
            .config
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok()),
        ..crate::killtest::KillTestOptions::new(PathBuf::new())
    };
    match options.store_config::<S>() {
        Ok(config) => drive::<S>(args, &config, &reporter),
        Err(e) => {
            reporter.send(&ChildEvent::Error(format!("configuration: {e}")));
            EXIT_STORE_ERROR
        }
    }
}

fn drive<S: Store>(args: &ChildArgs, config: &S::Config, reporter: &Arc<Reporter>) -> u8 {
    let fail = |what: String| {
        reporter.send(&ChildEvent::Error(what));
        EXIT_STORE_ERROR
    };
    let std_fs = match StdFs::new(&args.dir) {
        Ok(fs) => fs,
        Err(e) => return fail(format!("the kill-test directory: {e}")),
    };
    let fs: Arc<dyn Fs> = Arc::new(PhaseFs::new(Arc::new(std_fs), reporter.clone()));
    // Labelled for stores that label nothing themselves (one that does relabels inside open).
    fs.set_phase(Phase::Recovery);
    let mut store = match open_when_unlocked::<S>(&fs, config) {
        Ok(s) => s,
        Err(e) => return fail(format!("open: {e}")),
    };
    if !reporter.send(&ChildEvent::Opened) {
        return 0;
    }
    fs.set_phase(Phase::Write);
    let mut live = match read_state(&mut store) {
        Ok(state) => state,
        Err(e) => return fail(format!("reading the store after open: {e}")),
    };
    let mut workload = RoundWorkload::new(args.seed, args.first_id);
    let durability = S::durability(config);
    loop {
        if let Some(code) = step(&mut store, durability, &mut workload, &mut live, reporter) {
            return code;
        }
    }
}

/// How long the child waits for the LOCK before it gives up.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Opens the store, waiting a little while the LOCK is held.
///
/// The parent drops its own handle before it starts the child, but when the parent process runs
/// other threads that spawn processes (a test binary), a `fork` of one of them may still share
/// the parent's LOCK descriptor for the microseconds before its `exec` closes it. The parent's
/// own open after a kill does not wait: that one checks that the kernel released the dead
/// child's lock.
fn open_when_unlocked<S: Store>(fs: &Arc<dyn Fs>, config: &S::Config) -> Result<S, StoreError> {
    let start = Instant::now();
    loop {
        match S::open(&crate::killtest::stores::threads_env(fs.clone()), config) {
            Err(e) if e.to_string().contains("already locked") && start.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// Runs one operation; `Some(code)` ends the child. A call is reported as a durability point
/// only where the store's declared durability says it is one (the rule every driver uses).
fn step<S: Store>(
    store: &mut S,
    durability: Durability,
    workload: &mut RoundWorkload,
    live: &mut State,
    reporter: &Reporter,
) -> Option<u8> {
    let fail = |what: String| {
        reporter.send(&ChildEvent::Error(what));
        Some(EXIT_STORE_ERROR)
    };
    match workload.next_op() {
        KillOp::Write {
            id,
            mutations,
            sync,
        } => {
            if !reporter.send(&ChildEvent::Issued(id)) {
                return Some(0);
            }
            if let Err(e) = store.write(&mutations, sync) {
                return fail(format!("write {id}: {e}"));
            }
            for m in &mutations {
                m.apply(live);
            }
            if !reporter.send(&ChildEvent::Acked(id)) {
                return Some(0);
            }
            if durability.makes_durable(Call::Write { sync })
                && !reporter.send(&ChildEvent::Durable(id + 1))
            {
                return Some(0);
            }
        }
        KillOp::Get { key } => {
            let got = match store.get(key.as_bytes()) {
                Ok(v) => v.map(|v| String::from_utf8_lossy(&v).into_owned()),
                Err(e) => return fail(format!("get {key:?}: {e}")),
            };
            let want = live.get(&key).map(String::as_str);
            if let Some(v) = read_mismatch(&key, want, got.as_deref()) {
                reporter.send(&ChildEvent::Violation(format!("{}: {}", v.kind, v.message)));
                return Some(EXIT_VIOLATION);
            }
        }
        op @ (KillOp::Sync | KillOp::Flush) => {
            let (result, call) = if op == KillOp::Sync {
                (store.sync(), Call::Sync)
            } else {
                (store.flush(), Call::Flush)
            };
            if let Err(e) = result {
                return fail(format!("{op:?}: {e}"));
            }
            if durability.makes_durable(call)
                && !reporter.send(&ChildEvent::Durable(workload.next_id()))
            {
                return Some(0);
            }
        }
        KillOp::Compact => {
            if let Err(e) = store.compact() {
                return fail(format!("compact: {e}"));
            }
        }
    }
    None
}
