//! [`PhaseFs`]: a real file system that tells the parent which phase the engine is in.
//!
//! `StdFs` ignores `set_phase`; in the child it is wrapped so every change of label becomes a
//! `p <phase>` line, and the parent knows in which phase each kill landed. With background
//! threads the label is whatever was set last by any thread (a flush finishing sets `write`
//! while a compaction may still run), so the per-phase kill counts are approximate, not exact.

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use faultfs::{File, Fs, Lock, Phase};

use crate::killtest::protocol::{ChildEvent, Reporter};

/// `inner` plus phase reporting.
#[derive(Debug)]
pub struct PhaseFs {
    inner: Arc<dyn Fs>,
    reporter: Arc<Reporter>,
    /// The last label reported, so repeated labels cost no line.
    last: Mutex<Option<Phase>>,
}

impl PhaseFs {
    /// Wraps `inner`, reporting phase changes through `reporter`.
    pub fn new(inner: Arc<dyn Fs>, reporter: Arc<Reporter>) -> PhaseFs {
        PhaseFs {
            inner,
            reporter,
            last: Mutex::new(None),
        }
    }
}

impl Fs for PhaseFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn File>> {
        self.inner.create(path)
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn File>> {
        self.inner.open(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.inner.remove(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list(dir)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.inner.sync_dir(dir)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.inner.exists(path)
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn Lock>> {
        self.inner.lock(path)
    }

    fn set_phase(&self, phase: Phase) {
        self.inner.set_phase(phase);
        // The line is sent under the lock so two threads' labels reach the pipe in the order
        // they were set.
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if *last != Some(phase) {
            *last = Some(phase);
            let _listening = self.reporter.send(&ChildEvent::Phase(phase));
        }
    }
}
