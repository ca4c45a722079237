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

use std::ffi::OsString;
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
    numbered("", number, ".wal")
}

pub fn sst_name(number: u64) -> String {
    numbered("", number, ".sst")
}

pub fn manifest_name(number: u64) -> String {
    numbered(MANIFEST_PREFIX, number, "")
}

pub fn wal_path(dir: &Path, number: u64) -> PathBuf {
    numbered_path(dir, "", number, ".wal")
}

pub fn sst_path(dir: &Path, number: u64) -> PathBuf {
    numbered_path(dir, "", number, ".sst")
}

pub fn manifest_path(dir: &Path, number: u64) -> PathBuf {
    numbered_path(dir, MANIFEST_PREFIX, number, "")
}

/// `dir.join(name)`, allocated once at its final size (`join` copies `dir` and then grows the
/// copy to append the name).
pub fn join(dir: &Path, name: &str) -> PathBuf {
    joined(dir, &[name.as_bytes()])
}

/// `dir.join(name)` for the name that is the concatenation of `parts` (each valid UTF-8, or
/// ASCII digits), built in one allocation of its final size. For a relative name on Unix the
/// bytes are put together directly (what `PathBuf::push` does there: a `/` unless `dir` is
/// empty or already ends in one), without `push`'s parsing of both paths.
fn joined(dir: &Path, parts: &[&[u8]]) -> PathBuf {
    let name_len: usize = parts.iter().map(|p| p.len()).sum();
    let dir = dir.as_os_str();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let relative = parts
            .iter()
            .find(|p| !p.is_empty())
            .is_none_or(|p| p[0] != b'/');
        if relative {
            let separator = dir.as_bytes().last().is_some_and(|&b| b != b'/');
            let mut path = OsString::with_capacity(dir.len() + usize::from(separator) + name_len);
            path.push(dir);
            if separator {
                path.push("/");
            }
            for part in parts {
                path.push(std::ffi::OsStr::from_bytes(part));
            }
            return PathBuf::from(path);
        }
    }
    let mut path = PathBuf::with_capacity(dir.len() + 1 + name_len);
    // Pushing onto an empty path adds no separator, so this is exactly `dir.join(name)`.
    path.push(dir);
    path.push(String::from_utf8_lossy(&parts.concat()).as_ref());
    path
}

/// The decimal digits of `number`, zero-padded to at least six, written at the end of `buf`.
fn digits(number: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut text = itoa::Buffer::new();
    let text = text.format(number).as_bytes();
    let end = buf.len();
    let start = end - text.len().max(6);
    buf[start..].fill(b'0');
    buf[end - text.len()..].copy_from_slice(text);
    &buf[start..]
}

/// `format!("{prefix}{number:06}{suffix}")` without the formatting machinery, which cost more
/// than the rest of building a path.
fn numbered(prefix: &str, number: u64, suffix: &str) -> String {
    let mut buf = [0u8; 20];
    let digits = digits(number, &mut buf);
    let mut name = String::with_capacity(prefix.len() + digits.len() + suffix.len());
    name.push_str(prefix);
    name.extend(digits.iter().map(|&d| char::from(d)));
    name.push_str(suffix);
    name
}

/// `join(dir, &numbered(prefix, number, suffix))` without the intermediate name.
fn numbered_path(dir: &Path, prefix: &str, number: u64, suffix: &str) -> PathBuf {
    let mut buf = [0u8; 20];
    let digits = digits(number, &mut buf);
    joined(dir, &[prefix.as_bytes(), digits, suffix.as_bytes()])
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

    #[test]
    fn names_and_paths_are_what_format_and_join_make() {
        for n in [0, 7, 99_999, 123_456, 1_234_567, u64::MAX] {
            assert_eq!(wal_name(n), format!("{n:06}.wal"));
            assert_eq!(sst_name(n), format!("{n:06}.sst"));
            assert_eq!(manifest_name(n), format!("MANIFEST-{n:06}"));
            for dir in ["", "/", "db", "/tmp/db", "/tmp/db/", "a//b"] {
                let dir = Path::new(dir);
                // Byte for byte: the paths reach the file system, whose trace is pinned.
                let same = |made: PathBuf, name: String| {
                    assert_eq!(made.as_os_str(), dir.join(name).as_os_str());
                };
                same(wal_path(dir, n), format!("{n:06}.wal"));
                same(sst_path(dir, n), format!("{n:06}.sst"));
                same(manifest_path(dir, n), format!("MANIFEST-{n:06}"));
                same(join(dir, CURRENT), CURRENT.to_string());
                same(join(dir, "/abs"), "/abs".to_string());
                same(join(dir, ""), String::new());
            }
        }
    }
}
