//! [`KvError`]: every failure of [`crate::RedbKv`], sorted into the classes a crash tester acts on.
//!
//! redb keeps the backend's `io::Error` by value (`StorageError::Io`, `Error::Io`), but its error
//! types implement `std::error::Error` without `source()`, so walking a redb error's source chain
//! never reaches the file system's error. The classifier therefore converts every redb error into
//! `redb::Error` (redb provides `From` for all of them) and matches its variants.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::backend::{BackendFailure, FailureLatch, FirstFailure};

/// The class of a [`KvError`], for tallies and assertions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorClass {
    /// The simulated power went.
    PowerLoss,
    /// The database file is damaged, too short, or not a redb database.
    Damaged,
    /// An earlier I/O error made redb refuse all work until the database is reopened.
    Poisoned,
    /// Another I/O error from the file system.
    Io,
    /// Anything else.
    Other,
}

/// Why a [`crate::RedbKv`] call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KvError {
    /// The simulated power went ([`faultfs::is_power_loss`] holds for `source`).
    #[error("power lost while {context}: {source}")]
    PowerLoss {
        /// What the store was doing.
        context: String,
        /// The file system's error (or, after redb latched it, a fresh power-loss error).
        #[source]
        source: io::Error,
    },
    /// The database file's bytes do not hold a database redb accepts: a checksum or structure
    /// check failed, the magic number is missing, or the file is shorter than its header says.
    #[error("damaged file {}: {detail}", file.display())]
    Damaged {
        /// The damaged file.
        file: PathBuf,
        /// What redb found.
        detail: String,
    },
    /// redb saw an I/O error earlier and refuses every call until the database is reopened.
    #[error("poisoned by an earlier I/O error: {first}")]
    Poisoned {
        /// The first failure, as the backend recorded it.
        first: String,
    },
    /// Another I/O error (EIO, ENOSPC, ...).
    #[error("I/O error while {context}: {source}")]
    Io {
        /// What the store was doing.
        context: String,
        /// The file system's error.
        #[source]
        source: io::Error,
    },
    /// Anything else: a closed database, a refused argument, an error redb reports that no file
    /// system caused.
    #[error("{0}")]
    Other(String),
}

impl KvError {
    /// The class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            KvError::PowerLoss { .. } => ErrorClass::PowerLoss,
            KvError::Damaged { .. } => ErrorClass::Damaged,
            KvError::Poisoned { .. } => ErrorClass::Poisoned,
            KvError::Io { .. } => ErrorClass::Io,
            KvError::Other(_) => ErrorClass::Other,
        }
    }

    /// Tells whether this is a simulated power cut.
    pub fn is_power_loss(&self) -> bool {
        self.class() == ErrorClass::PowerLoss
    }

    /// Tells whether the file was refused as damaged.
    pub fn is_damage(&self) -> bool {
        self.class() == ErrorClass::Damaged
    }

    /// Classifies an error from a direct file-system call of the store (not through redb).
    pub(crate) fn from_fs(context: impl fmt::Display, err: io::Error) -> KvError {
        let context = context.to_string();
        if faultfs::is_power_loss(&err) {
            KvError::PowerLoss {
                context,
                source: err,
            }
        } else {
            KvError::Io {
                context,
                source: err,
            }
        }
    }
}

/// What the classifier needs to know besides the error: which file, and the backend's latch.
pub(crate) struct Classifier<'a> {
    pub file: &'a Path,
    pub latch: &'a FailureLatch,
}

impl Classifier<'_> {
    /// Sorts any redb error into a [`KvError`]; `context` says what the store was doing.
    pub fn classify(&self, context: &str, err: impl Into<redb::Error>) -> KvError {
        match err.into() {
            redb::Error::Io(source) => self.io(context, source),
            redb::Error::Corrupted(detail) => self.damaged(detail),
            redb::Error::UpgradeRequired(version) => self.damaged(format!(
                "file format version {version} is not the one redb 4 writes"
            )),
            redb::Error::PreviousIo => self.previous_io(context),
            other => KvError::Other(format!("{context}: {other}")),
        }
    }

    fn damaged(&self, detail: String) -> KvError {
        KvError::Damaged {
            file: self.file.to_path_buf(),
            detail,
        }
    }

    /// An `io::Error` inside a redb error: from the backend (the file system spoke) or made by
    /// redb itself (it looked at the bytes and refused them).
    fn io(&self, context: &str, source: io::Error) -> KvError {
        match BackendFailure::find(&source) {
            Some(failure) if failure.is_short_read() => self.damaged(format!(
                "the file is shorter than the database needs ({failure})"
            )),
            Some(_) => KvError::from_fs(context, source),
            // redb reports a file that does not start with its magic number, or an empty file it
            // was not asked to initialize, as an I/O error of kind InvalidData that no file system
            // produced.
            None if source.kind() == io::ErrorKind::InvalidData => self.damaged(source.to_string()),
            None => KvError::from_fs(context, source),
        }
    }

    /// redb latched an earlier failure and hid it; the backend's latch says what it was.
    fn previous_io(&self, context: &str) -> KvError {
        match self.latch.first() {
            Some(FirstFailure::PowerLoss) => KvError::PowerLoss {
                context: format!("{context} (redb had latched the power cut)"),
                source: faultfs::power_loss_error(),
            },
            Some(FirstFailure::Io(first)) => KvError::Poisoned { first },
            None => KvError::Poisoned {
                first: "redb reports an earlier I/O error the backend never returned".to_string(),
            },
        }
    }
}
