//! The engine's error type.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error from the file system, with what the engine was doing.
    #[error("I/O error while {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// A file's bytes are damaged.
    #[error("corruption in {file} at offset {offset}: {reason}")]
    Corruption {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// A file that the MANIFEST names is missing.
    #[error("missing file {file}: {reason}")]
    MissingFile { file: PathBuf, reason: String },
    /// An earlier write-path I/O error poisoned the engine; reopen it.
    #[error("engine poisoned by an earlier I/O error ({cause}); reopen it")]
    Poisoned { cause: String },
    /// The engine was closed.
    #[error("engine closed")]
    Closed,
    /// A bad argument or option.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// `check_invariants` found a structural invariant broken.
    #[error("invariant violated: {0}")]
    Invariant(String),
}

impl Error {
    /// Tells whether this error comes from a simulated power cut, directly or as the refusal of
    /// an engine that a power cut poisoned.
    pub fn is_power_loss(&self) -> bool {
        match self {
            Error::Io { source, .. } => faultfs::is_power_loss(source),
            Error::Poisoned { cause } => cause.contains(&faultfs::power_loss_error().to_string()),
            _ => false,
        }
    }

    /// A corruption error for `file` at `offset`.
    pub(crate) fn corruption(file: &Path, offset: u64, reason: impl Into<String>) -> Error {
        Error::Corruption {
            file: file.to_path_buf(),
            offset,
            reason: reason.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Wraps an I/O error with what the engine was doing; the context is built only on failure.
pub(crate) trait IoContext<T> {
    fn ctx(self, what: &str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, what: &str, path: &Path) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: format!("{what} {}", path.display()),
            source,
        })
    }
}
