//! The file-system seam of Powercut.
//!
//! A storage engine that touches storage only through [`Fs`] and [`File`] can run on the real disk
//! ([`StdFs`]) or inside the crash simulator ([`SimFs`]), which knows exactly which bytes and which
//! directory entries a real disk would still hold after the power goes.
//!
//! # Durability model (the contract every implementation keeps)
//!
//! - A [`File::write_at`] is visible to reads at once and durable only after a later successful
//!   [`File::sync`] of that file.
//! - [`File::sync`] makes the file's data and length durable, but not its name: a new file, a rename
//!   or a removal is durable only after [`Fs::sync_dir`] of the directory that holds the name.
//! - [`Fs::rename`] is atomic: after a crash either the old or the new binding holds, never neither.
//! - After a power cut nothing reaches the disk, whatever the program does next.
//!
//! Test controls (cutting the power, rebooting, injecting faults) are methods on [`SimFs`], not
//! on the trait, so production code cannot call them by accident.

#![warn(missing_docs)]

use std::fmt;
use std::io;
use std::path::Path;

mod append;
mod kind;
mod sim;
mod std_fs;

pub use append::AppendWriter;
pub use kind::FileKind;

pub use sim::{
    ChangeKind, CrashPoint, CrashPolicy, DiskImage, Event, EventOp, EventPath, Fault, FaultClass,
    FilePiece, FsyncMode, IoOp, KindFn, MutationHook, NamespaceOp, PathPattern, PieceFate,
    RebootDecision, RebootOutcome, SimFs,
};
use std_fs::confined;
pub use std_fs::{PathError, StdFs, confine};

/// A file system as a storage engine sees it.
///
/// Paths are relative to the file system's root; an absolute path or a `..` that climbs above the
/// root is refused with `InvalidInput` naming the path.
pub trait Fs: Send + Sync + fmt::Debug {
    /// Creates a new, empty file; its name is durable only after `sync_dir` of its parent,
    /// and it fails with `AlreadyExists` if the name is taken.
    fn create(&self, path: &Path) -> io::Result<Box<dyn File>>;

    /// Creates `path` if it is missing, or else opens it and sets its length to 0; for a store
    /// that rewrites a file from scratch and does not care whether it existed.
    ///
    /// Durability is that of the steps it stands for, nothing more:
    /// - an existing file's cut to length 0 is a pending change like any `set_len`: until the next
    ///   successful [`File::sync`] of the file, a crash can bring back its old bytes and length
    ///   (or, under the simulator's tearing policies, some of them next to some new ones);
    /// - a new file's name is durable only after [`Fs::sync_dir`] of its parent, like `create`.
    ///
    /// [`Fs::create`] keeps its rule that the name must not exist; this is the method to call when
    /// replacing an existing file's content is what the caller means.
    ///
    /// The provided version opens first and creates only if the name is missing (so on the
    /// simulator a plain rewrite is no failed mutating operation); if another holder creates the
    /// name in between, it opens and truncates that file.
    fn create_or_truncate(&self, path: &Path) -> io::Result<Box<dyn File>> {
        let existing = match self.open(path) {
            Ok(file) => Some(file),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let file = match existing {
            Some(file) => file,
            None => match self.create(path) {
                // A new file is already empty: nothing to cut.
                Ok(file) => return Ok(file),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.open(path)?,
                Err(e) => return Err(e),
            },
        };
        file.set_len(0)?;
        Ok(file)
    }

    /// Opens an existing file for reading and writing; opening changes nothing on disk.
    fn open(&self, path: &Path) -> io::Result<Box<dyn File>>;

    /// Atomically binds `to` to the file named `from`, replacing any file at `to`; the change is
    /// durable only after `sync_dir` of both parents, and a crash leaves the old or the new binding.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Removes a name; until `sync_dir` of its parent, a crash can bring the file back with its
    /// durable bytes.
    fn remove(&self, path: &Path) -> io::Result<()>;

    /// Lists the names in a directory, sorted, as they are now (durable or not).
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;

    /// Creates a directory and its missing parents; each new directory entry is durable only
    /// after `sync_dir` of its parent.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;

    /// Makes every create, rename and remove made so far in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;

    /// Tells whether a name exists now (durable or not).
    fn exists(&self, path: &Path) -> io::Result<bool>;

    /// Takes an exclusive lock on `path` (created if missing) that lasts until the returned guard
    /// is dropped or the process dies; a second holder gets a `WouldBlock` error naming the path.
    fn lock(&self, path: &Path) -> io::Result<Box<dyn Lock>>;

    /// Labels what the caller is doing now, so events and coverage know where a crash fell;
    /// it has no effect on what is durable, and real file systems ignore it.
    fn set_phase(&self, phase: Phase) {
        let _ = phase;
    }
}

/// An open file.
pub trait File: Send + Sync + fmt::Debug {
    /// Returns the live length (what reads see, durable or not).
    fn len(&self) -> io::Result<u64>;

    /// Tells whether the live length is zero.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Fills `buf` from `offset` with the live bytes, or fails with `UnexpectedEof` if the file is
    /// shorter; reading changes nothing on disk.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;

    /// Reads the whole file as it is now: its live length, then that many live bytes (durable or
    /// not). A file that another holder shortens in between fails with `UnexpectedEof`.
    fn read_to_end(&self) -> io::Result<Vec<u8>> {
        let len = usize::try_from(self.len()?).map_err(|_| {
            io::Error::new(
                io::ErrorKind::OutOfMemory,
                "file is longer than this platform can hold in memory",
            )
        })?;
        let mut bytes = vec![0; len];
        self.read_exact_at(0, &mut bytes)?;
        Ok(bytes)
    }

    /// Writes `data` at `offset`, extending the file with zeros if needed; visible to reads now,
    /// durable only after a later successful `sync`.
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()>;

    /// Sets the live length, cutting or zero-extending; durable only after a later `sync`.
    fn set_len(&self, len: u64) -> io::Result<()>;

    /// Makes the file's data and length durable (fsync); it does NOT make the file's name durable.
    fn sync(&self) -> io::Result<()>;
}

/// An exclusive lock on a path, released when dropped (or when the holding process dies).
pub trait Lock: Send + Sync + fmt::Debug {}

/// What the engine is doing when an operation happens. Labels only; they never change behaviour.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Foreground writes: WAL appends and syncs, opening, closing.
    #[default]
    Write,
    /// Turning a memtable into an SST and recording it in the MANIFEST.
    Flush,
    /// Merging SSTs and recording the result in the MANIFEST.
    Compaction,
    /// Starting a new MANIFEST and swapping CURRENT to it.
    Rollover,
    /// Reading CURRENT, the MANIFEST and the WALs back after a restart.
    Recovery,
    /// Creating a store on an empty disk (its first open).
    Create,
}

impl Phase {
    /// Every phase, in a fixed order (for coverage matrices).
    pub const ALL: [Phase; 6] = [
        Phase::Write,
        Phase::Flush,
        Phase::Compaction,
        Phase::Rollover,
        Phase::Recovery,
        Phase::Create,
    ];

    /// A short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Write => "write",
            Phase::Flush => "flush",
            Phase::Compaction => "compaction",
            Phase::Rollover => "rollover",
            Phase::Recovery => "recovery",
            Phase::Create => "create",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The message carried by every error that a simulated power cut produces.
const POWER_LOSS_MESSAGE: &str = "power lost (simulated crash)";

/// The error every operation returns once the simulated power is off.
pub fn power_loss_error() -> io::Error {
    io::Error::other(PowerLoss)
}

/// Tells whether an error (or any error it wraps) comes from a simulated power cut.
pub fn is_power_loss(err: &io::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = err.get_ref().map(|e| e as _);
    while let Some(e) = source {
        if e.is::<PowerLoss>() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<io::Error>()
            && is_power_loss(io)
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// The errno an error carries, looking through wrappers that add a path (an injected EIO or
/// ENOSPC from `SimFs`, or a kernel error from `StdFs`, both keep their errno this way).
pub fn os_error_code(err: &io::Error) -> Option<i32> {
    if let Some(code) = err.raw_os_error() {
        return Some(code);
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = err.get_ref().map(|e| e as _);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<io::Error>()
            && let Some(code) = os_error_code(io)
        {
            return Some(code);
        }
        source = e.source();
    }
    None
}

/// The payload of a power-loss error.
#[derive(Debug, Clone, Copy)]
pub struct PowerLoss;

impl fmt::Display for PowerLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(POWER_LOSS_MESSAGE)
    }
}

impl std::error::Error for PowerLoss {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_loss_is_recognised_through_wrapping() {
        let err = power_loss_error();
        assert!(is_power_loss(&err));
        let wrapped = io::Error::other(err);
        assert!(is_power_loss(&wrapped));
        assert!(!is_power_loss(&io::Error::from_raw_os_error(libc::EIO)));
    }
}
