//! [`KvError`]: why a call failed, classified the way a crash harness needs.
//!
//! SQLite reports an I/O failure as a result code (`SQLITE_IOERR_*`, `SQLITE_FULL`, ...) and
//! loses the `io::Error` behind it. The VFS keeps that error per mount
//! ([`crate::VfsMount::take_errors`]), so the classification here can tell a simulated power cut
//! from EIO or ENOSPC, whatever code SQLite chose to report.

use std::io;
use std::path::PathBuf;

use rusqlite::ErrorCode;

use crate::vfs::VfsMount;

/// Why a [`crate::SqliteKv`] (or [`VfsMount`]) call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KvError {
    /// The simulated power went during the call; nothing more reaches the disk.
    #[error("power lost while {context}: {source}")]
    PowerLoss {
        /// What the store was doing.
        context: String,
        /// The file system's error.
        source: io::Error,
    },
    /// SQLite found a file damaged (`SQLITE_CORRUPT`, `SQLITE_NOTADB`, a failed integrity check).
    #[error("damaged file {}: {detail}", file.display())]
    Damaged {
        /// The database file (SQLite names no file; damage it finds is in the database).
        file: PathBuf,
        /// SQLite's message or the integrity check's findings.
        detail: String,
    },
    /// Another I/O failure (`SQLITE_IOERR_*`, `SQLITE_FULL`, or an open that failed on an I/O
    /// error). The store refuses further work until reopened (see [`KvError::Poisoned`]).
    #[error("I/O error while {context}: {detail}")]
    Io {
        /// What the store was doing.
        context: String,
        /// SQLite's code and message.
        detail: String,
        /// The file system's error behind it, when the VFS saw one (EIO, ENOSPC, ...).
        source: Option<io::Error>,
    },
    /// An earlier I/O error left SQLite's view of its files uncertain (a failed fsync may have
    /// dropped pages that reads still show), so the store refuses work until reopened.
    #[error("refusing work after an earlier I/O error: {0}")]
    Poisoned(String),
    /// Anything else: a bad argument or configuration, a closed store, SQLite misuse.
    #[error("{0}")]
    Other(String),
}

impl KvError {
    /// Tells whether this is a simulated power cut.
    pub fn is_power_loss(&self) -> bool {
        matches!(self, KvError::PowerLoss { .. })
    }

    /// The errno of the file-system error behind an I/O failure, if any.
    pub fn os_error_code(&self) -> Option<i32> {
        match self {
            KvError::Io {
                source: Some(e), ..
            } => faultfs::os_error_code(e),
            _ => None,
        }
    }

    /// Classifies an error from a file-system call made outside SQLite.
    pub(crate) fn from_io(context: &str, err: io::Error) -> KvError {
        if faultfs::is_power_loss(&err) {
            KvError::PowerLoss {
                context: context.to_string(),
                source: err,
            }
        } else {
            KvError::Io {
                context: context.to_string(),
                detail: err.to_string(),
                source: Some(err),
            }
        }
    }

    /// Classifies an error SQLite returned, using the I/O error the VFS saw during the call.
    ///
    /// Power loss wins over everything: once the power is off SQLite may report the failure as
    /// an I/O error, a failed open or even a busy lock, and none of those is the real cause.
    pub(crate) fn from_sqlite(
        mount: &VfsMount,
        db_file: &std::path::Path,
        context: &str,
        err: rusqlite::Error,
    ) -> KvError {
        let seen = mount.take_errors();
        if let Some(source) = seen.power_loss {
            return KvError::PowerLoss {
                context: context.to_string(),
                source,
            };
        }
        let seen = seen.last;
        if let Some(detail) = impossible_row(&err) {
            return KvError::Damaged {
                file: db_file.to_path_buf(),
                detail: format!("{context}: {detail}"),
            };
        }
        let (code, detail) = match &err {
            rusqlite::Error::SqliteFailure(e, msg) => (
                Some(e.code),
                format!(
                    "{} (code {}): {}",
                    ffi_name(e.extended_code),
                    e.extended_code,
                    msg.as_deref().unwrap_or("no message")
                ),
            ),
            other => (None, other.to_string()),
        };
        match code {
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => KvError::Damaged {
                file: db_file.to_path_buf(),
                detail,
            },
            Some(ErrorCode::SystemIoFailure | ErrorCode::DiskFull) => KvError::Io {
                context: context.to_string(),
                detail,
                source: seen,
            },
            // SQLite reports a failed open or a lock it could not take under other codes; if the
            // VFS saw an I/O error during the call, that error is the cause.
            _ if seen.is_some() => KvError::Io {
                context: context.to_string(),
                detail,
                source: seen,
            },
            _ => KvError::Other(format!("{context}: {detail}")),
        }
    }
}

/// A row the schema cannot hold, read back as if it were data: a NULL key or value (both columns
/// are `NOT NULL`) or text that is not UTF-8. SQLite keeps no page checksums, so a damaged page
/// can decode into such a row without any error from SQLite itself; it is damage to the
/// database file, found by the type check rusqlite makes on the way out.
fn impossible_row(err: &rusqlite::Error) -> Option<String> {
    match err {
        rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::Utf8Error(..) => Some(format!("a row the schema forbids: {err}")),
        _ => None,
    }
}

/// A readable name for SQLite's primary result codes that matter here.
fn ffi_name(extended: i32) -> &'static str {
    use rusqlite::ffi;
    match extended & 0xff {
        ffi::SQLITE_IOERR => "SQLITE_IOERR",
        ffi::SQLITE_FULL => "SQLITE_FULL",
        ffi::SQLITE_CORRUPT => "SQLITE_CORRUPT",
        ffi::SQLITE_NOTADB => "SQLITE_NOTADB",
        ffi::SQLITE_CANTOPEN => "SQLITE_CANTOPEN",
        ffi::SQLITE_BUSY => "SQLITE_BUSY",
        ffi::SQLITE_READONLY => "SQLITE_READONLY",
        _ => "SQLITE_ERROR",
    }
}
