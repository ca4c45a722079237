//! Background threads (production mode): one flushes frozen memtables, one compacts.
//!
//! Both exit when the engine shuts down or is poisoned, so a power cut never leaves a thread
//! behind.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::{self, JoinHandle};

use super::{Inner, lock};
use crate::error::{Error, Result};
use crate::picker;

fn stopping(inner: &Inner) -> bool {
    inner.shutdown.load(Ordering::SeqCst) || inner.poisoned.load(Ordering::SeqCst)
}

pub(super) fn spawn(inner: &Arc<Inner>) -> Result<Vec<JoinHandle<()>>> {
    let spawn_one = |name: &str, body: fn(&Inner)| {
        let inner = Arc::clone(inner);
        thread::Builder::new()
            .name(name.to_string())
            .spawn(move || body(&inner))
            .map_err(|source| Error::Io {
                context: format!("starting the {name} thread"),
                source,
            })
    };
    Ok(vec![
        spawn_one("lsm-flush", flush_loop)?,
        spawn_one("lsm-compact", compaction_loop)?,
    ])
}

fn flush_loop(inner: &Inner) {
    loop {
        {
            let mut v = lock(&inner.versions);
            while v.imm.is_empty() && !stopping(inner) {
                v = inner.work_cv.wait(v);
            }
        }
        if stopping(inner) {
            return;
        }
        // An error has poisoned the engine; the loop ends at the check above.
        let _ = inner.flush_oldest();
    }
}

fn compaction_loop(inner: &Inner) {
    loop {
        {
            let mut v = lock(&inner.versions);
            while !stopping(inner) && picker::pick(&v.state, &inner.options, false).is_none() {
                let seen = v.generation;
                while v.generation == seen && !stopping(inner) {
                    v = inner.work_cv.wait(v);
                }
            }
        }
        if stopping(inner) {
            return;
        }
        let _ = inner.compact_once(false);
    }
}
