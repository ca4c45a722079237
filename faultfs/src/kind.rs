//! The roles a store's files play, in words that fit any engine.
//!
//! Faults, aimed damage, hints and coverage speak of roles rather than of file names, so the same
//! sweep reaches the write-ahead log of an LSM, the journal of a B-tree and the one database file
//! of an engine that rewrites in place. A store says which role each of its files has; the
//! simulator matches a fault pattern `role:<name>` against that answer (see
//! [`crate::SimFs::set_file_kinds`]).

use serde::{Deserialize, Serialize};

/// The role of a file in a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A write-ahead log or journal: appended, synced to make writes durable, replayed.
    Log,
    /// Where data lives long-term: tables, pages, the database file itself.
    Data,
    /// A metadata log or catalog that says which data files are live.
    Manifest,
    /// A small file naming the live metadata, replaced atomically (like LevelDB's CURRENT).
    Pointer,
    /// Anything else: lock files, directories, temporary files.
    Other,
}

impl FileKind {
    /// Every role, in a fixed order (for coverage matrices and reports).
    pub const ALL: [FileKind; 5] = [
        FileKind::Log,
        FileKind::Data,
        FileKind::Manifest,
        FileKind::Pointer,
        FileKind::Other,
    ];

    /// The lowercase name used in patterns (`role:log`), reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Log => "log",
            FileKind::Data => "data",
            FileKind::Manifest => "manifest",
            FileKind::Pointer => "pointer",
            FileKind::Other => "other",
        }
    }

    /// Parses [`FileKind::name`].
    pub fn parse(name: &str) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The fault pattern that matches every file of this role (`role:log`, ...).
    pub fn pattern(self) -> String {
        format!("role:{}", self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in FileKind::ALL {
            assert_eq!(FileKind::parse(k.name()), Some(k));
        }
        assert_eq!(FileKind::parse("wal"), None);
    }
}
