//! The VFS methods in safe Rust: each returns `Ok` or the SQLite result code to report, and
//! stores the file system's error in the mount before reducing it to a code.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::ffi;

use super::locks::{Level, Refusal};
use super::{Instance, lock, parent, resolve};

/// Lock owners: every handle gets its own id.
static NEXT_HANDLE: AtomicU64 = AtomicU64::new(1);

/// The file kinds (`SQLITE_OPEN_*` type bits) whose creation the unix VFS makes durable at their
/// first sync, and so does this one.
const NEW_JOURNAL_KINDS: i32 =
    ffi::SQLITE_OPEN_MAIN_JOURNAL | ffi::SQLITE_OPEN_SUPER_JOURNAL | ffi::SQLITE_OPEN_WAL;

/// One open file.
#[derive(Debug)]
pub(crate) struct VfsFile {
    id: u64,
    backing: Backing,
    state: Mutex<State>,
}

#[derive(Debug)]
enum Backing {
    /// A file of a mounted file system.
    Fs {
        instance: Arc<Instance>,
        file: Box<dyn faultfs::File>,
        path: PathBuf,
        delete_on_close: bool,
    },
    /// A temporary file SQLite opened without a name: it only lives until closed, so memory
    /// holds it.
    Memory(Mutex<Vec<u8>>),
}

#[derive(Debug)]
struct State {
    lock: Level,
    /// The directory entry of this newly created journal or WAL still has to be made durable.
    dir_sync_due: bool,
}

/// Reduces an I/O error to a result code after storing it for the caller: ENOSPC is
/// `SQLITE_FULL`, anything else `code`.
fn fail(instance: &Instance, err: io::Error, code: i32) -> i32 {
    let code = if faultfs::os_error_code(&err) == Some(libc::ENOSPC) {
        ffi::SQLITE_FULL
    } else {
        code
    };
    instance.record(err);
    code
}

/// `xOpen`: `name` is `None` for a temporary file.
pub(crate) fn open(name: Option<&str>, flags: i32) -> Result<VfsFile, i32> {
    let id = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
    let Some(name) = name else {
        return Ok(VfsFile {
            id,
            backing: Backing::Memory(Mutex::new(Vec::new())),
            state: Mutex::new(State {
                lock: Level::None,
                dir_sync_due: false,
            }),
        });
    };
    let (instance, path) = resolve(name).ok_or(ffi::SQLITE_CANTOPEN)?;
    let create = flags & ffi::SQLITE_OPEN_CREATE != 0;
    let fs = &instance.fs;
    let opened = if create && flags & ffi::SQLITE_OPEN_EXCLUSIVE != 0 {
        fs.create(&path)
    } else if create {
        open_or_create(&**fs, &path)
    } else {
        fs.open(&path)
    };
    let file = match opened {
        Ok(file) => file,
        // SQLite opens some files only if they exist; a missing one is an answer, not a fault.
        Err(e) if !create && e.kind() == io::ErrorKind::NotFound => {
            return Err(ffi::SQLITE_CANTOPEN);
        }
        Err(e) => return Err(fail(&instance, e, ffi::SQLITE_CANTOPEN)),
    };
    Ok(VfsFile {
        id,
        backing: Backing::Fs {
            instance,
            file,
            path,
            delete_on_close: flags & ffi::SQLITE_OPEN_DELETEONCLOSE != 0,
        },
        state: Mutex::new(State {
            lock: Level::None,
            // Like the unix VFS, whether the file was new or not: SQLite cannot tell us, and a
            // journal reopened with CREATE may be one whose name never became durable.
            dir_sync_due: create && flags & NEW_JOURNAL_KINDS != 0,
        }),
    })
}

fn open_or_create(fs: &dyn faultfs::Fs, path: &Path) -> io::Result<Box<dyn faultfs::File>> {
    match fs.open(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => match fs.create(path) {
            // Another connection of the mount created it in between.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => fs.open(path),
            other => other,
        },
        other => other,
    }
}

/// `xDelete`: removes the name; with `sync_dir`, makes the removal durable before returning.
pub(crate) fn delete(name: &str, sync_dir: bool) -> Result<(), i32> {
    let (instance, path) = resolve(name).ok_or(ffi::SQLITE_IOERR_DELETE)?;
    match instance.fs.remove(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ffi::SQLITE_IOERR_DELETE_NOENT);
        }
        Err(e) => return Err(fail(&instance, e, ffi::SQLITE_IOERR_DELETE)),
    }
    if sync_dir {
        // PRAGMA synchronous=EXTRA deletes the rollback journal this way to commit: until the
        // directory is synced a power cut can bring the journal back, and SQLite would then roll
        // the committed transaction back.
        instance
            .sync_dir(parent(&path))
            .map_err(|e| fail(&instance, e, ffi::SQLITE_IOERR_DIR_FSYNC))?;
    }
    Ok(())
}

/// `xAccess`: whether the name exists (SQLite asks for existence and read/write access; every
/// file of a mount is readable and writable).
pub(crate) fn access(name: &str) -> Result<bool, i32> {
    let (instance, path) = resolve(name).ok_or(ffi::SQLITE_IOERR_ACCESS)?;
    instance
        .fs
        .exists(&path)
        .map_err(|e| fail(&instance, e, ffi::SQLITE_IOERR_ACCESS))
}

/// `xFullPathname`: a name is canonical if it resolves to a mount.
pub(crate) fn is_canonical(name: &str) -> bool {
    resolve(name).is_some()
}

impl VfsFile {
    /// `xRead`: fills `buf` from `offset`; past the end of the file the rest is zeroed and the
    /// read reports `SQLITE_IOERR_SHORT_READ`, as SQLite requires (it relies on the zeros).
    pub(crate) fn read(&self, buf: &mut [u8], offset: u64) -> Result<(), i32> {
        let available = match &self.backing {
            Backing::Fs { instance, file, .. } => {
                let len = file
                    .len()
                    .map_err(|e| fail(instance, e, ffi::SQLITE_IOERR_READ))?;
                let n = available(len, offset, buf.len());
                if n > 0 {
                    file.read_exact_at(offset, &mut buf[..n])
                        .map_err(|e| fail(instance, e, ffi::SQLITE_IOERR_READ))?;
                }
                n
            }
            Backing::Memory(bytes) => {
                let bytes = lock(bytes);
                let n = available(bytes.len() as u64, offset, buf.len());
                if n > 0 {
                    let start = offset as usize;
                    buf[..n].copy_from_slice(&bytes[start..start + n]);
                }
                n
            }
        };
        if available < buf.len() {
            buf[available..].fill(0);
            return Err(ffi::SQLITE_IOERR_SHORT_READ);
        }
        Ok(())
    }

    /// `xWrite`.
    pub(crate) fn write(&self, data: &[u8], offset: u64) -> Result<(), i32> {
        match &self.backing {
            Backing::Fs { instance, file, .. } => file
                .write_at(offset, data)
                .map_err(|e| fail(instance, e, ffi::SQLITE_IOERR_WRITE)),
            Backing::Memory(bytes) => {
                let mut bytes = lock(bytes);
                let start = usize::try_from(offset).map_err(|_| ffi::SQLITE_IOERR_WRITE)?;
                let end = start + data.len();
                if bytes.len() < end {
                    bytes.resize(end, 0);
                }
                bytes[start..end].copy_from_slice(data);
                Ok(())
            }
        }
    }

    /// `xTruncate` (SQLite also grows files through it).
    pub(crate) fn truncate(&self, len: u64) -> Result<(), i32> {
        match &self.backing {
            Backing::Fs { instance, file, .. } => file
                .set_len(len)
                .map_err(|e| fail(instance, e, ffi::SQLITE_IOERR_TRUNCATE)),
            Backing::Memory(bytes) => {
                let len = usize::try_from(len).map_err(|_| ffi::SQLITE_IOERR_TRUNCATE)?;
                lock(bytes).resize(len, 0);
                Ok(())
            }
        }
    }

    /// `xSync`: the file's bytes, then (once) the directory entry of a new journal or WAL.
    pub(crate) fn sync(&self) -> Result<(), i32> {
        let Backing::Fs {
            instance,
            file,
            path,
            ..
        } = &self.backing
        else {
            return Ok(());
        };
        if !instance.drop_syncs {
            file.sync()
                .map_err(|e| fail(instance, e, ffi::SQLITE_IOERR_FSYNC))?;
        }
        let mut state = lock(&self.state);
        if state.dir_sync_due {
            // SQLite counts on a synced journal being found after a power cut: a hot rollback
            // journal whose name was lost would leave a half-written database un-rolled-back,
            // and a WAL whose name was lost would take every commit it holds with it. The file's
            // own sync does not make its name durable, so sync the directory once, as the unix
            // VFS does. This also makes the main database's earlier creation durable when it
            // shares the directory.
            instance
                .sync_dir(parent(path))
                .map_err(|e| fail(instance, e, ffi::SQLITE_IOERR_DIR_FSYNC))?;
            state.dir_sync_due = false;
        }
        Ok(())
    }

    /// `xFileSize`.
    pub(crate) fn size(&self) -> Result<u64, i32> {
        match &self.backing {
            Backing::Fs { instance, file, .. } => file
                .len()
                .map_err(|e| fail(instance, e, ffi::SQLITE_IOERR_FSTAT)),
            Backing::Memory(bytes) => Ok(lock(bytes).len() as u64),
        }
    }

    /// `xLock` and `xUnlock` (`up` tells which); temporary files need no locks.
    pub(crate) fn set_lock(&self, raw: i32, up: bool) -> Result<(), i32> {
        let code = if up {
            ffi::SQLITE_IOERR_LOCK
        } else {
            ffi::SQLITE_IOERR_UNLOCK
        };
        let want = Level::from_raw(raw).ok_or(code)?;
        let Backing::Fs { instance, path, .. } = &self.backing else {
            return Ok(());
        };
        let mut state = lock(&self.state);
        let mut table = lock(&instance.locks);
        let result = if up {
            table.lock(path, self.id, state.lock, want)
        } else {
            table.unlock(path, self.id, state.lock, want)
        };
        match result {
            Ok(level) => {
                state.lock = level;
                Ok(())
            }
            Err(Refusal::Busy(level)) => {
                state.lock = level;
                Err(ffi::SQLITE_BUSY)
            }
            Err(Refusal::Misuse) => Err(code),
        }
    }

    /// `xCheckReservedLock`.
    pub(crate) fn reserved(&self) -> bool {
        match &self.backing {
            Backing::Fs { instance, path, .. } => lock(&instance.locks).reserved(path),
            Backing::Memory(_) => false,
        }
    }

    /// `xSectorSize`.
    pub(crate) fn sector_size(&self) -> i32 {
        match &self.backing {
            Backing::Fs { instance, .. } => instance.device.sector_size as i32,
            Backing::Memory(_) => 512,
        }
    }

    /// `xDeviceCharacteristics`.
    pub(crate) fn characteristics(&self) -> i32 {
        match &self.backing {
            Backing::Fs { instance, .. } => instance.device.characteristics(),
            Backing::Memory(_) => 0,
        }
    }

    /// `xClose`: releases locks, and removes a `DELETEONCLOSE` file (without a directory sync: if
    /// a power cut brings it back, SQLite ignores such leftovers).
    pub(crate) fn close(self) -> Result<(), i32> {
        let result = self.set_lock(0, false);
        if let Backing::Fs {
            instance,
            file,
            path,
            delete_on_close: true,
        } = self.backing
        {
            drop(file);
            match instance.fs.remove(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(fail(&instance, e, ffi::SQLITE_IOERR_DELETE)),
            }
        }
        result
    }
}

/// How many of `want` bytes from `offset` lie inside a file of `len` bytes.
fn available(len: u64, offset: u64, want: usize) -> usize {
    let n = len.saturating_sub(offset).min(want as u64);
    n as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeviceAssumptions, VfsMount};
    use faultfs::{Fs, SimFs};

    fn mounted() -> (SimFs, VfsMount) {
        let fs = SimFs::new();
        let mount =
            VfsMount::new(Arc::new(fs.clone()), DeviceAssumptions::default()).expect("mount");
        (fs, mount)
    }

    const CREATE: i32 = ffi::SQLITE_OPEN_CREATE | ffi::SQLITE_OPEN_READWRITE;

    #[test]
    fn read_past_the_end_zero_fills_and_reports_a_short_read() {
        let (_fs, mount) = mounted();
        let name = mount.sqlite_name(Path::new("f")).expect("name");
        let f = open(Some(&name), CREATE | ffi::SQLITE_OPEN_MAIN_DB).expect("open");
        f.write(b"abc", 0).expect("write");
        let mut buf = [0xAA; 5];
        assert_eq!(f.read(&mut buf, 1), Err(ffi::SQLITE_IOERR_SHORT_READ));
        assert_eq!(&buf, b"bc\0\0\0");
        let mut whole = [0xAA; 3];
        assert_eq!(f.read(&mut whole, 10), Err(ffi::SQLITE_IOERR_SHORT_READ));
        assert_eq!(whole, [0; 3]);
        f.close().expect("close");
    }

    #[test]
    fn a_new_journal_syncs_its_directory_on_first_sync_only() {
        let (fs, mount) = mounted();
        fs.create_dir_all(Path::new("d")).expect("mkdir");
        let name = mount.sqlite_name(Path::new("d/x-journal")).expect("name");
        let f = open(Some(&name), CREATE | ffi::SQLITE_OPEN_MAIN_JOURNAL).expect("open");
        f.write(b"j", 0).expect("write");
        let before = fs.event_count();
        f.sync().expect("sync");
        f.sync().expect("sync again");
        let dir_syncs = fs
            .events_since(before)
            .iter()
            .filter(|e| matches!(&e.op, faultfs::EventOp::SyncDir { path } if path == "d"))
            .count();
        assert_eq!(dir_syncs, 1);
        f.close().expect("close");
    }

    #[test]
    fn delete_on_close_removes_the_file() {
        let (fs, mount) = mounted();
        let name = mount.sqlite_name(Path::new("t")).expect("name");
        let flags = CREATE | ffi::SQLITE_OPEN_DELETEONCLOSE | ffi::SQLITE_OPEN_TEMP_JOURNAL;
        let f = open(Some(&name), flags).expect("open");
        assert!(fs.exists(Path::new("t")).expect("exists"));
        f.close().expect("close");
        assert!(!fs.exists(Path::new("t")).expect("exists"));
    }

    #[test]
    fn opening_a_missing_file_without_create_is_cantopen_and_not_an_io_error() {
        let (_fs, mount) = mounted();
        let name = mount.sqlite_name(Path::new("missing")).expect("name");
        let err = open(Some(&name), ffi::SQLITE_OPEN_READWRITE).expect_err("missing");
        assert_eq!(err, ffi::SQLITE_CANTOPEN);
        assert!(mount.take_errors().last.is_none());
    }

    #[test]
    fn full_disk_is_sqlite_full_and_keeps_the_errno() {
        let (fs, mount) = mounted();
        fs.inject(faultfs::Fault::NoSpace { capacity_bytes: 4 });
        let name = mount.sqlite_name(Path::new("f")).expect("name");
        let f = open(Some(&name), CREATE | ffi::SQLITE_OPEN_MAIN_DB).expect("open");
        assert_eq!(f.write(&[1; 8], 0), Err(ffi::SQLITE_FULL));
        let seen = mount.take_errors().last.expect("error kept");
        assert_eq!(faultfs::os_error_code(&seen), Some(libc::ENOSPC));
        f.close().expect("close");
    }

    #[test]
    fn power_loss_is_kept_apart_from_later_errors() {
        let (fs, mount) = mounted();
        let name = mount.sqlite_name(Path::new("f")).expect("name");
        let f = open(Some(&name), CREATE | ffi::SQLITE_OPEN_MAIN_DB).expect("open");
        fs.power_off();
        assert_eq!(f.write(b"x", 0), Err(ffi::SQLITE_IOERR_WRITE));
        assert_eq!(f.sync(), Err(ffi::SQLITE_IOERR_FSYNC));
        let seen = mount.take_errors();
        assert!(seen.power_loss.as_ref().is_some_and(faultfs::is_power_loss));
    }
}
