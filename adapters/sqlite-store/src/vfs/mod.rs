//! The SQLite VFS `"powercut"`: every file SQLite opens goes through a [`faultfs::Fs`].
//!
//! # How a connection finds its file system
//!
//! SQLite keeps VFSes in one process-wide list, looked up by name, while Powercut runs many
//! simulated disks at once on several threads. So there is one VFS, registered once, and a
//! registry of *mounts*: [`VfsMount::new`] files an `Arc<dyn Fs>` (with its
//! [`DeviceAssumptions`]) under a fresh token and names database files
//! `/powercut-<token>/<path>`. SQLite derives the journal and WAL names from the database name
//! (`...-journal`, `...-wal`), so they carry the token too, and every callback that gets a name
//! (`xOpen`, `xDelete`, `xAccess`) finds its mount by parsing it. An open file keeps its mount
//! alive through an `Arc`; dropping the [`VfsMount`] removes the token, after which new opens
//! under it fail. Nothing is leaked per mount; the VFS object itself is registered once for the
//! life of the process.
//!
//! Files SQLite opens without a name (temporary files: sorter spills, statement journals when
//! `temp_store` is not MEMORY) live in process memory: they are deleted on close and never
//! expected to survive a crash, so they have nothing to say about durability.
//!
//! # What each method does
//!
//! | SQLite | here |
//! |---|---|
//! | `xOpen` | `Fs::open`, or `Fs::create` with `SQLITE_OPEN_CREATE` when the name is free (`EXCLUSIVE`: create only); `DELETEONCLOSE` removes the file at close |
//! | `xRead` | `File::read_exact_at`; past the end the rest is zero-filled and `SQLITE_IOERR_SHORT_READ` returned |
//! | `xWrite`, `xTruncate` | `File::write_at`, `File::set_len` (ENOSPC becomes `SQLITE_FULL`) |
//! | `xSync` | `File::sync`; the first sync of a journal or WAL opened with `CREATE` also syncs its directory |
//! | `xDelete` | `Fs::remove`, then `Fs::sync_dir` of the parent when SQLite asks (`syncDir`) |
//! | `xAccess` | `Fs::exists` |
//! | `xFullPathname` | the name as given (mount names are already canonical) |
//! | `xLock`, `xUnlock`, `xCheckReservedLock` | an in-memory lock table per mount (module `locks`) |
//! | `xSectorSize`, `xDeviceCharacteristics` | from [`DeviceAssumptions`] |
//! | `xShmMap` and the rest of shared memory | not provided (io methods version 1): WAL runs with `locking_mode=EXCLUSIVE` |
//! | `xFileControl` | `SQLITE_NOTFOUND` for every opcode: SQLite's defaults apply |
//!
//! Every failing file-system call stores its `io::Error` in the mount, so a caller can tell a
//! power cut from EIO or ENOSPC after SQLite has reduced it to a result code
//! ([`VfsMount::take_errors`]).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use faultfs::Fs;

use crate::{DeviceAssumptions, KvError};

mod ffi;
mod file;
mod locks;

/// The name the VFS is registered under; pass it to `Connection::open_with_flags_and_vfs`.
pub const VFS_NAME: &str = "powercut";

/// The prefix of every name the VFS hands SQLite; the token follows it.
const NAME_PREFIX: &str = "/powercut-";

/// The mounts by token.
static MOUNTS: Mutex<BTreeMap<u64, Arc<Instance>>> = Mutex::new(BTreeMap::new());
/// The next token; tokens are never reused, so a stale name never reaches another mount.
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent, so a panic elsewhere does not make it
    // unusable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The I/O errors the VFS saw since they were last taken.
#[derive(Debug, Default)]
pub struct SeenErrors {
    /// The first power-loss error, if the power went.
    pub power_loss: Option<io::Error>,
    /// The last error of any kind.
    pub last: Option<io::Error>,
}

/// What the VFS callbacks of one mount share.
#[derive(Debug)]
pub(crate) struct Instance {
    pub(crate) fs: Arc<dyn Fs>,
    pub(crate) device: DeviceAssumptions,
    /// The `VfsDropsSyncs` canary: syncs are acknowledged and not passed on.
    pub(crate) drop_syncs: bool,
    pub(crate) locks: Mutex<locks::LockTable>,
    errors: Mutex<SeenErrors>,
}

impl Instance {
    /// Remembers a failed file-system call for the caller to classify.
    pub(crate) fn record(&self, err: io::Error) {
        let mut seen = lock(&self.errors);
        if seen.power_loss.is_none() && faultfs::is_power_loss(&err) {
            seen.power_loss = Some(err);
        } else {
            seen.last = Some(err);
        }
    }

    /// `Fs::sync_dir`, unless the canary drops syncs.
    pub(crate) fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        if self.drop_syncs {
            return Ok(());
        }
        self.fs.sync_dir(dir)
    }
}

/// A file system mounted into the `"powercut"` VFS under a token; dropping it unmounts.
#[derive(Debug)]
pub struct VfsMount {
    token: u64,
    instance: Arc<Instance>,
}

impl VfsMount {
    /// Registers the VFS with SQLite if no mount did yet, and mounts `fs` with `device`.
    pub fn new(fs: Arc<dyn Fs>, device: DeviceAssumptions) -> Result<VfsMount, KvError> {
        VfsMount::build(fs, device, false)
    }

    /// A mount whose syncs are acknowledged and never reach `fs`: the `VfsDropsSyncs` canary,
    /// which a crash sweep must catch losing committed writes.
    pub fn new_dropping_syncs(
        fs: Arc<dyn Fs>,
        device: DeviceAssumptions,
    ) -> Result<VfsMount, KvError> {
        VfsMount::build(fs, device, true)
    }

    fn build(
        fs: Arc<dyn Fs>,
        device: DeviceAssumptions,
        drop_syncs: bool,
    ) -> Result<VfsMount, KvError> {
        device.validate()?;
        ffi::ensure_registered().map_err(|rc| {
            KvError::Other(format!("registering the SQLite VFS failed with code {rc}"))
        })?;
        let instance = Arc::new(Instance {
            fs,
            device,
            drop_syncs,
            locks: Mutex::new(locks::LockTable::default()),
            errors: Mutex::new(SeenErrors::default()),
        });
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        lock(&MOUNTS).insert(token, Arc::clone(&instance));
        Ok(VfsMount { token, instance })
    }

    /// This mount's token (part of every name it hands SQLite).
    pub fn token(&self) -> u64 {
        self.token
    }

    /// The name to open `path` (relative to the file system's root) by in SQLite, with
    /// [`VFS_NAME`] as the VFS. Refuses paths that are not UTF-8 or leave the root.
    pub fn sqlite_name(&self, path: &Path) -> Result<String, KvError> {
        let rel = faultfs::confine(path).map_err(|e| KvError::Other(e.to_string()))?;
        let text = rel
            .to_str()
            .ok_or_else(|| KvError::Other(format!("{}: path is not UTF-8", path.display())))?;
        Ok(format!("{NAME_PREFIX}{}/{text}", self.token))
    }

    /// Takes the I/O errors the VFS saw since the last take (SQLite keeps only a result code).
    pub fn take_errors(&self) -> SeenErrors {
        std::mem::take(&mut *lock(&self.instance.errors))
    }

    /// `Fs::sync_dir` through the mount, so the `VfsDropsSyncs` canary drops it too.
    pub fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.instance.sync_dir(dir)
    }

    /// Tells whether a token is mounted (for leak checks).
    pub fn is_mounted(token: u64) -> bool {
        lock(&MOUNTS).contains_key(&token)
    }
}

impl Drop for VfsMount {
    fn drop(&mut self) {
        lock(&MOUNTS).remove(&self.token);
    }
}

/// Splits a name the VFS handed out into its mount and its path under the mount's root.
pub(crate) fn resolve(name: &str) -> Option<(Arc<Instance>, PathBuf)> {
    let (token, rel) = parse_name(name)?;
    let instance = lock(&MOUNTS).get(&token).cloned()?;
    Some((instance, rel))
}

fn parse_name(name: &str) -> Option<(u64, PathBuf)> {
    let rest = name.strip_prefix(NAME_PREFIX)?;
    let (token, rel) = rest.split_once('/')?;
    let token = token.parse().ok()?;
    let rel = faultfs::confine(Path::new(rel)).ok()?;
    Some((token, rel))
}

/// The directory holding `path` (the root for a top-level name).
pub(crate) fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_token_and_the_confined_path() {
        let mount = VfsMount::new(
            Arc::new(faultfs::SimFs::new()),
            DeviceAssumptions::default(),
        )
        .expect("mount");
        let name = mount
            .sqlite_name(Path::new("a/./b/data.sqlite"))
            .expect("name");
        assert_eq!(name, format!("/powercut-{}/a/b/data.sqlite", mount.token()));
        let (token, rel) = parse_name(&format!("{name}-journal")).expect("parse");
        assert_eq!(token, mount.token());
        assert_eq!(rel, Path::new("a/b/data.sqlite-journal"));
    }

    #[test]
    fn names_that_escape_or_lack_a_token_are_refused() {
        assert!(parse_name("/powercut-1/../x").is_none());
        assert!(parse_name("/powercut-x/data.sqlite").is_none());
        assert!(parse_name("/tmp/data.sqlite").is_none());
    }

    #[test]
    fn dropping_a_mount_unmounts_it() {
        let mount = VfsMount::new(
            Arc::new(faultfs::SimFs::new()),
            DeviceAssumptions::default(),
        )
        .expect("mount");
        let token = mount.token();
        let name = mount.sqlite_name(Path::new("data.sqlite")).expect("name");
        assert!(VfsMount::is_mounted(token));
        assert!(resolve(&name).is_some());
        drop(mount);
        assert!(!VfsMount::is_mounted(token));
        assert!(resolve(&name).is_none());
    }
}
