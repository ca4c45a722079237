//! [`StdFs`]: the seam on a real directory.
//!
//! Every path is confined to the root given at construction: an absolute path, or a `..` that
//! climbs above the root, is rejected with `InvalidInput` naming the path, never followed.
//! Errors from the kernel keep their kind and errno and gain the path in their message.

use std::borrow::Cow;
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};

use crate::{File, Fs, Lock};

/// The real disk, rooted at one directory.
#[derive(Debug, Clone)]
pub struct StdFs {
    root: PathBuf,
}

impl StdFs {
    /// A file system rooted at `root`, which is created if missing.
    pub fn new(root: impl AsRef<Path>) -> io::Result<StdFs> {
        let root = root.as_ref().to_path_buf();
        fs::create_dir_all(&root).map_err(|e| with_path(e, &root))?;
        Ok(StdFs { root })
    }

    /// The directory every path is relative to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Maps a confined relative path to the real path under the root.
    fn real(&self, path: &Path) -> io::Result<PathBuf> {
        Ok(self.root.join(confine(path)?))
    }
}

/// Normalises `path` to a relative path with no `.` or `..`, or refuses it if it is absolute or
/// climbs above the root.
pub fn confine(path: &Path) -> io::Result<PathBuf> {
    confined(path).map(Cow::into_owned)
}

/// [`confine`] without a copy when `path` is already normalised (relative, `/`-separated, no
/// empty, `.` or `..` component): the common case, checked on its bytes, so the simulator's
/// per-operation cost does not include building a `PathBuf` component by component.
pub(crate) fn confined(path: &Path) -> io::Result<Cow<'_, Path>> {
    if is_plain(path.as_os_str().as_encoded_bytes()) {
        return Ok(Cow::Borrowed(path));
    }
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => out.push(name),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return Err(escape_error(path));
                }
            }
            Component::RootDir | Component::Prefix(_) => return Err(escape_error(path)),
        }
    }
    Ok(Cow::Owned(out))
}

/// Tells whether a path's bytes are plain: not empty, and no component empty, `.` or `..`. One
/// pass over the bytes, counting each component's length and whether it holds only dots.
pub(crate) fn is_plain(bytes: &[u8]) -> bool {
    // A component is refused when it is empty or one or two dots.
    let refused = |len: usize, dots: bool| len == 0 || (dots && len <= 2);
    let mut len = 0;
    let mut dots = true;
    for &b in bytes {
        if b == b'/' {
            if refused(len, dots) {
                return false;
            }
            len = 0;
            dots = true;
        } else {
            len += 1;
            dots &= b == b'.';
        }
    }
    !refused(len, dots)
}

fn escape_error(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{}: path leaves the file system's root (absolute paths and `..` above the root are refused)",
            path.display()
        ),
    )
}

/// Adds the path to an error's message, keeping its kind and, through `source`, its errno.
pub(crate) fn with_path(err: io::Error, path: &Path) -> io::Error {
    io::Error::new(
        err.kind(),
        PathError {
            path: path.to_path_buf(),
            source: err,
        },
    )
}

/// An error from an operation on a named path.
#[derive(Debug)]
pub struct PathError {
    /// The path the operation was given.
    pub path: PathBuf,
    /// What went wrong.
    pub source: io::Error,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.source)
    }
}

impl std::error::Error for PathError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl Fs for StdFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn File>> {
        let real = self.real(path)?;
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&real)
            .map_err(|e| with_path(e, path))?;
        Ok(Box::new(StdFile {
            file,
            path: path.to_path_buf(),
        }))
    }

    /// One `open(O_CREAT | O_TRUNC)`, so no other holder can slip in between the steps.
    fn create_or_truncate(&self, path: &Path) -> io::Result<Box<dyn File>> {
        let real = self.real(path)?;
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&real)
            .map_err(|e| with_path(e, path))?;
        Ok(Box::new(StdFile {
            file,
            path: path.to_path_buf(),
        }))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn File>> {
        let real = self.real(path)?;
        if real.is_dir() {
            return Err(with_path(
                io::Error::new(io::ErrorKind::IsADirectory, "is a directory"),
                path,
            ));
        }
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&real)
            .map_err(|e| with_path(e, path))?;
        Ok(Box::new(StdFile {
            file,
            path: path.to_path_buf(),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let real_from = self.real(from)?;
        let real_to = self.real(to)?;
        fs::rename(&real_from, &real_to).map_err(|e| with_path(e, from))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let real = self.real(path)?;
        fs::remove_file(&real).map_err(|e| with_path(e, path))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let real = self.real(dir)?;
        let mut names = Vec::new();
        for entry in fs::read_dir(&real).map_err(|e| with_path(e, dir))? {
            let entry = entry.map_err(|e| with_path(e, dir))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let real = self.real(path)?;
        fs::create_dir_all(&real).map_err(|e| with_path(e, path))
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let real = self.real(dir)?;
        let handle = fs::File::open(&real).map_err(|e| with_path(e, dir))?;
        handle.sync_all().map_err(|e| with_path(e, dir))
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let real = self.real(path)?;
        real.try_exists().map_err(|e| with_path(e, path))
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn Lock>> {
        let real = self.real(path)?;
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&real)
            .map_err(|e| with_path(e, path))?;
        // std's try_lock is flock(LOCK_EX | LOCK_NB) on Linux: the lock belongs to this open file
        // description, so a second open of the same path (in this process or another) is refused,
        // and the kernel drops it when the process dies.
        match file.try_lock() {
            Ok(()) => Ok(Box::new(StdLock {
                _file: file,
                path: path.to_path_buf(),
            })),
            Err(fs::TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{}: already locked by another holder", path.display()),
            )),
            Err(fs::TryLockError::Error(e)) => Err(with_path(e, path)),
        }
    }
}

#[derive(Debug)]
struct StdFile {
    file: fs::File,
    path: PathBuf,
}

impl File for StdFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self
            .file
            .metadata()
            .map_err(|e| with_path(e, &self.path))?
            .len())
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file
            .read_exact_at(buf, offset)
            .map_err(|e| with_path(e, &self.path))
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file
            .write_all_at(data, offset)
            .map_err(|e| with_path(e, &self.path))
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len).map_err(|e| with_path(e, &self.path))
    }

    fn sync(&self) -> io::Result<()> {
        self.file.sync_all().map_err(|e| with_path(e, &self.path))
    }
}

#[derive(Debug)]
struct StdLock {
    // Closing this descriptor (on drop, or by the kernel when the process dies) releases the flock.
    _file: fs::File,
    #[allow(dead_code)] // kept so that Debug output says which lock this is
    path: PathBuf,
}

impl Lock for StdLock {}

#[cfg(test)]
mod tests {
    use super::is_plain;

    #[test]
    fn plain_paths_are_those_with_no_empty_or_dot_component() {
        let by_components = |bytes: &[u8]| {
            !bytes.is_empty()
                && bytes
                    .split(|b| *b == b'/')
                    .all(|c| !matches!(c, b"" | b"." | b".."))
        };
        let cases: [&[u8]; 20] = [
            b"",
            b"/",
            b"a",
            b"db/000001.sst",
            b"/db",
            b"db/",
            b"db//x",
            b".",
            b"..",
            b"...",
            b"./a",
            b"a/.",
            b"a/..",
            b"a/../b",
            b".a/b.",
            b"..a/a..",
            b"a/.../b",
            b"db/CURRENT.tmp",
            b"x/./y",
            b"//",
        ];
        for case in cases {
            assert_eq!(is_plain(case), by_components(case), "{case:?}");
        }
    }
}
