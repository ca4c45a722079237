//! [`FaultfsBackend`]: redb's [`StorageBackend`] over one [`faultfs::File`].
//!
//! Every method forwards to the file and hands back the file system's `io::Error` inside a
//! [`BackendFailure`] that names the operation, the file and the byte range. The wrapper keeps the
//! error's kind, and the original error is its `source()`, so [`faultfs::is_power_loss`] and
//! [`faultfs::os_error_code`] still find what the file system said.
//!
//! redb latches the first I/O failure: every later call returns `StorageError::PreviousIo`, which
//! carries nothing of the original error. The backend therefore records the class of its first
//! failure in a [`FailureLatch`] that the store shares, so a `PreviousIo` after a power cut is
//! still reported as a power loss.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use redb::StorageBackend;

/// Which backend call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendOp {
    /// `len`: reading the file's live length.
    Len,
    /// `read`: filling a buffer from an offset.
    Read,
    /// `set_len`: cutting or extending the file.
    SetLen,
    /// `sync_data`: making the file's data and length durable.
    Sync,
    /// `write`: writing bytes at an offset.
    Write,
}

impl BackendOp {
    /// A short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            BackendOp::Len => "len",
            BackendOp::Read => "read",
            BackendOp::SetLen => "set_len",
            BackendOp::Sync => "sync",
            BackendOp::Write => "write",
        }
    }
}

/// A failed backend call: what was asked of which file, and the file system's own error.
#[derive(Debug)]
pub struct BackendFailure {
    /// The call that failed.
    pub op: BackendOp,
    /// The database file.
    pub file: PathBuf,
    /// The byte offset the call addressed (for `set_len`: the new length; otherwise 0).
    pub offset: u64,
    /// How many bytes the call moved (0 for `len`, `set_len` and `sync`).
    pub len: u64,
    /// What the file system returned, untouched.
    pub source: io::Error,
}

impl fmt::Display for BackendFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} bytes at offset {} in {}: {}",
            self.op.name(),
            self.len,
            self.offset,
            self.file.display(),
            self.source
        )
    }
}

impl std::error::Error for BackendFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl BackendFailure {
    /// Finds the backend failure an `io::Error` carries, if it came from a [`FaultfsBackend`].
    pub fn find(err: &io::Error) -> Option<&BackendFailure> {
        err.get_ref()?.downcast_ref::<BackendFailure>()
    }

    /// Tells whether a read ran past the end of the file: the file is shorter than the
    /// database's header says, which is damage, not a failing disk.
    pub fn is_short_read(&self) -> bool {
        self.op == BackendOp::Read && self.source.kind() == io::ErrorKind::UnexpectedEof
    }
}

/// The first failure a backend saw, kept because redb reports later calls only as `PreviousIo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FirstFailure {
    /// The simulated power went.
    PowerLoss,
    /// Any other I/O error, as its message.
    Io(String),
}

/// Shared record of a backend's first failure (cheap to clone; clones share the record).
#[derive(Clone, Debug, Default)]
pub struct FailureLatch(Arc<Mutex<Option<FirstFailure>>>);

impl FailureLatch {
    /// The first failure recorded, or the power cut that followed it; `None` before any.
    pub fn first(&self) -> Option<FirstFailure> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records `failure` if it is the first, or if it is a power cut after an I/O error: redb
    /// may go on after an error it does not latch (a best-effort write of a page it can write
    /// again later), and once the power is gone every later call must say so, since only a
    /// power cut makes a crash tester reboot.
    fn record(&self, failure: &BackendFailure) {
        let mut first = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let power_loss = faultfs::is_power_loss(&failure.source);
        match *first {
            None => {
                *first = Some(if power_loss {
                    FirstFailure::PowerLoss
                } else {
                    FirstFailure::Io(failure.to_string())
                });
            }
            Some(FirstFailure::Io(_)) if power_loss => *first = Some(FirstFailure::PowerLoss),
            Some(_) => {}
        }
    }
}

/// redb's storage backend on one open [`faultfs::File`].
#[derive(Debug)]
pub struct FaultfsBackend {
    file: Box<dyn faultfs::File>,
    path: PathBuf,
    latch: FailureLatch,
}

impl FaultfsBackend {
    /// A backend on `file`, which was opened by `path` (used only to name the file in errors).
    pub fn new(file: Box<dyn faultfs::File>, path: impl AsRef<Path>) -> FaultfsBackend {
        FaultfsBackend {
            file,
            path: path.as_ref().to_path_buf(),
            latch: FailureLatch::default(),
        }
    }

    /// The record of this backend's first failure, shared with the caller.
    pub fn latch(&self) -> FailureLatch {
        self.latch.clone()
    }

    /// The path the file was opened by.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Wraps a file-system error with the call that got it, keeping its kind, and latches it.
    fn fail(&self, op: BackendOp, offset: u64, len: usize, source: io::Error) -> io::Error {
        let failure = BackendFailure {
            op,
            file: self.path.clone(),
            offset,
            len: len as u64,
            source,
        };
        self.latch.record(&failure);
        io::Error::new(failure.source.kind(), failure)
    }
}

impl StorageBackend for FaultfsBackend {
    /// The live length: what reads see, durable or not.
    fn len(&self) -> Result<u64, io::Error> {
        self.file
            .len()
            .map_err(|e| self.fail(BackendOp::Len, 0, 0, e))
    }

    /// Fills `out` from `offset`; a read past the end fails with `UnexpectedEof`, as redb requires.
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        let len = out.len();
        self.file
            .read_exact_at(offset, out)
            .map_err(|e| self.fail(BackendOp::Read, offset, len, e))
    }

    /// Cuts or zero-extends the file; durable only after `sync_data`.
    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        self.file
            .set_len(len)
            .map_err(|e| self.fail(BackendOp::SetLen, len, 0, e))
    }

    /// An fsync of the file's data and length. faultfs has no weaker sync, and redb needs no
    /// more: the database is one file, and the name's durability is the store's business.
    fn sync_data(&self) -> Result<(), io::Error> {
        self.file
            .sync()
            .map_err(|e| self.fail(BackendOp::Sync, 0, 0, e))
    }

    /// Writes `data` at `offset`; visible at once, durable only after `sync_data`.
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.file
            .write_at(offset, data)
            .map_err(|e| self.fail(BackendOp::Write, offset, data.len(), e))
    }
}
