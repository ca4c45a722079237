//! Names of the files in a database directory.
//!
//! | name              | what                                                        |
//! |-------------------|-------------------------------------------------------------|
//! | `LOCK`            | flock'd while a `Db` is open                                |
//! | `CURRENT`         | the name of the live MANIFEST and its checksum              |
//! | `CURRENT.tmp`     | the next CURRENT before its rename                          |
//! | `MANIFEST-NNNNNN` | append-only log of framed JSON version edits                |
//! | `NNNNNN.wal`      | write-ahead log of one memtable                             |
//! | `NNNNNN.sst`      | sorted string table                                         |
//!
//! WALs, SSTs and MANIFESTs share one counter of file numbers, so a number names one file ever.

use std::path::{Path, PathBuf};

pub const LOCK: &str = "LOCK";
pub const CURRENT: &str = "CURRENT";
pub const CURRENT_TMP: &str = "CURRENT.tmp";
const MANIFEST_PREFIX: &str = "MANIFEST-";

/// What a name in the database directory is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    Wal(u64),
    Sst(u64),
    Manifest(u64),
    Current,
    CurrentTmp,
    Lock,
}

impl FileKind {
    /// The file number, for numbered files.
    pub fn number(self) -> Option<u64> {
        match self {
            FileKind::Wal(n) | FileKind::Sst(n) | FileKind::Manifest(n) => Some(n),
            _ => None,
        }
    }
}

pub fn wal_name(number: u64) -> String {
    format!("{number:06}.wal")
}

pub fn sst_name(number: u64) -> String {
    format!("{number:06}.sst")
}

pub fn manifest_name(number: u64) -> String {
    format!("{MANIFEST_PREFIX}{number:06}")
}

pub fn wal_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(wal_name(number))
}

pub fn sst_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(sst_name(number))
}

pub fn manifest_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(manifest_name(number))
}

/// Classifies a directory entry; `None` for names the engine does not own.
pub fn parse(name: &str) -> Option<FileKind> {
    match name {
        LOCK => return Some(FileKind::Lock),
        CURRENT => return Some(FileKind::Current),
        CURRENT_TMP => return Some(FileKind::CurrentTmp),
        _ => {}
    }
    if let Some(digits) = name.strip_prefix(MANIFEST_PREFIX) {
        return number(digits).map(FileKind::Manifest);
    }
    if let Some(digits) = name.strip_suffix(".wal") {
        return number(digits).map(FileKind::Wal);
    }
    if let Some(digits) = name.strip_suffix(".sst") {
        return number(digits).map(FileKind::Sst);
    }
    None
}

fn number(digits: &str) -> Option<u64> {
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_parse() {
        assert_eq!(parse(&wal_name(7)), Some(FileKind::Wal(7)));
        assert_eq!(parse(&sst_name(1234567)), Some(FileKind::Sst(1234567)));
        assert_eq!(parse(&manifest_name(3)), Some(FileKind::Manifest(3)));
        assert_eq!(parse("CURRENT"), Some(FileKind::Current));
        assert_eq!(parse("x.sst"), None);
        assert_eq!(parse("00001a.wal"), None);
    }
}
