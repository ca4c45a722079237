//! The handles [`SimFs`] gives out: open files and held locks.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::state::State;
use super::{EventOp, EventPath, Kind, SimFs, execute, lock, shown};
use crate::{File, Lock};

/// An open simulated file. It names its inode, so it keeps working after a rename or remove of
/// its path (like a POSIX descriptor), and it dies with the power.
///
/// Its operations are logged, matched against faults and named in errors by the inode's current
/// name, not by the name it was opened with: after `data.tmp` is renamed to `data`, a write
/// through a handle opened as `data.tmp` is a write to `data`, in the log and for a fault aimed
/// at `data`.
#[derive(Debug)]
pub(super) struct SimFile {
    fs: SimFs,
    /// The confined path it was opened by: its name once its inode is gone (after a reboot).
    opened_as: Arc<Path>,
    ino: u64,
    generation: u64,
}

impl SimFile {
    pub(super) fn new(fs: &SimFs, path: Arc<Path>, ino: u64, generation: u64) -> SimFile {
        SimFile {
            fs: fs.clone(),
            opened_as: path,
            ino,
            generation,
        }
    }

    /// Runs one operation on this file: `op` builds its event from the file's current name,
    /// and `f` gets that name for fault patterns and errors.
    fn run<T>(
        &self,
        kind: Kind,
        op: impl FnOnce(EventPath) -> EventOp,
        f: impl FnOnce(&mut State, &Path) -> io::Result<T>,
    ) -> io::Result<T> {
        let st = self.fs.lock_state();
        // The name and its text are shared with the inode, so taking them copies nothing.
        let (renamed, label) = match st.name_of_open(self.ino, self.generation, &self.opened_as) {
            Some((renamed, label)) => (renamed, EventPath::from(label)),
            None => (None, shown(&self.opened_as).0),
        };
        let name: &Path = renamed.as_deref().unwrap_or(&self.opened_as);
        let op = op(label);
        execute(st, op, kind, Some(self.generation), |st| f(st, name))
    }
}

impl File for SimFile {
    fn len(&self) -> io::Result<u64> {
        let st = self.fs.lock_state();
        if !st.powered || st.generation != self.generation {
            return Err(crate::power_loss_error());
        }
        Ok(st.inodes.get(self.ino).map_or(0, |i| i.live.len() as u64))
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let len = buf.len() as u64;
        self.run(
            Kind::ReadOnly,
            |path| EventOp::Read { path, offset, len },
            |st, name| st.read(self.ino, offset, buf, name),
        )
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let len = data.len() as u64;
        self.run(
            Kind::Mutating,
            |path| EventOp::Write { path, offset, len },
            |st, name| st.write(self.ino, offset, data, name),
        )
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.run(
            Kind::Mutating,
            |path| EventOp::SetLen { path, len },
            |st, name| st.set_len(self.ino, len, name),
        )
    }

    fn sync(&self) -> io::Result<()> {
        self.run(
            Kind::Mutating,
            |path| EventOp::Sync { path },
            |st, name| st.sync(self.ino, name),
        )
    }
}

/// A held simulated lock; dropping it releases the path unless a reboot already did.
#[derive(Debug)]
pub(super) struct SimLock {
    state: Arc<Mutex<State>>,
    path: PathBuf,
    id: u64,
}

impl SimLock {
    pub(super) fn new(state: &Arc<Mutex<State>>, path: PathBuf, id: u64) -> SimLock {
        SimLock {
            state: Arc::clone(state),
            path,
            id,
        }
    }
}

impl Lock for SimLock {}

impl Drop for SimLock {
    fn drop(&mut self) {
        let mut st = lock(&self.state);
        if st.locks.get(&self.path) == Some(&self.id) {
            st.locks.remove(&self.path);
        }
    }
}
