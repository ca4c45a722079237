//! The only unsafe code of the crate: the C entry points SQLite calls, which turn raw pointers
//! into safe values and hand them to [`super::file`].
//!
//! # Invariants every block relies on
//!
//! 1. **The VFS object lives forever.** [`ensure_registered`] leaks one `sqlite3_vfs` (SQLite
//!    links it into its list and writes `pNext`, so it must stay put and writable) and registers
//!    it once; it is never unregistered or freed. Its name and io-methods table are statics.
//! 2. **A file slot is a [`RawFile`].** SQLite allocates `szOsFile = size_of::<RawFile>()` bytes,
//!    8-byte aligned (its allocator's guarantee, and all `RawFile` needs), for each file and
//!    passes them to `xOpen` uninitialised. `x_open` writes a whole `RawFile` before anything
//!    else, with `pMethods` null, so SQLite never calls a method on a failed open; on success it
//!    stores the boxed [`VfsFile`] and points `pMethods` at [`IO_METHODS`].
//! 3. **Methods only see open files.** SQLite calls the io methods only between a successful
//!    `xOpen` and `xClose` of that slot, and `xClose` once; `x_close` takes the box out, so it
//!    is dropped exactly once and a stray later call finds `None`.
//! 4. **No aliasing `&mut`.** Methods other than `x_close` only take `&VfsFile`; its mutable
//!    parts sit behind mutexes, so even calls from several threads at once would be sound.
//!    `x_close` takes `&mut RawFile`: SQLite closes a file after its last method returned and
//!    never concurrently with another method on it (a connection is used by one thread at a
//!    time, which rusqlite's `!Sync` connection enforces).
//! 5. **Buffers are SQLite's promise.** `xRead`/`xWrite` get `iAmt` bytes at `pBuf`,
//!    `xFullPathname` `nOut` bytes at `zOut`, `xDlError` `nByte` bytes; names are NUL-terminated
//!    and live for the call; out-parameters point to writable integers. Every block checks for
//!    null and negative lengths first, and builds no slice from a null pointer.
//! 6. **No unwinding into C.** Every callback runs its Rust body under `catch_unwind` and turns
//!    a panic into an error code.

#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::ffi;

use super::file::{self, VfsFile};

/// The VFS name as C text; equal to [`super::VFS_NAME`] (a test checks).
const NAME: &CStr = c"powercut";

/// The longest name SQLite may hand the VFS, NUL excluded.
const PATHNAME_BYTES_MAX: c_int = 1024;

/// Milliseconds from the Julian day epoch to the Unix epoch (what `xCurrentTimeInt64` adds).
const UNIX_EPOCH_JULIAN_MS: i64 = 210_866_760_000_000;

/// SQLite's file slot: its `sqlite3_file` header first, as SQLite's "subclassing" requires.
#[repr(C)]
struct RawFile {
    base: ffi::sqlite3_file,
    file: Option<Box<VfsFile>>,
}

/// Version 1: no shared memory (`xShmMap` needs version 2) and no memory mapping (version 3).
static IO_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 1,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

static REGISTERED: OnceLock<Result<(), c_int>> = OnceLock::new();

/// Registers the VFS with SQLite once per process (not as the default VFS).
pub(super) fn ensure_registered() -> Result<(), c_int> {
    *REGISTERED.get_or_init(register)
}

fn register() -> Result<(), c_int> {
    let vfs = Box::into_raw(Box::new(ffi::sqlite3_vfs {
        iVersion: 2,
        szOsFile: size_of::<RawFile>() as c_int,
        mxPathname: PATHNAME_BYTES_MAX,
        pNext: ptr::null_mut(),
        zName: NAME.as_ptr(),
        pAppData: ptr::null_mut(),
        xOpen: Some(x_open),
        xDelete: Some(x_delete),
        xAccess: Some(x_access),
        xFullPathname: Some(x_full_pathname),
        xDlOpen: Some(x_dl_open),
        xDlError: Some(x_dl_error),
        xDlSym: Some(x_dl_sym),
        xDlClose: Some(x_dl_close),
        xRandomness: Some(x_randomness),
        xSleep: Some(x_sleep),
        xCurrentTime: Some(x_current_time),
        xGetLastError: Some(x_get_last_error),
        xCurrentTimeInt64: Some(x_current_time_int64),
        xSetSystemCall: None,
        xGetSystemCall: None,
        xNextSystemCall: None,
    }));
    // SAFETY: `vfs` is a valid, fully initialised sqlite3_vfs that is never freed once registered
    // (invariant 1), and its name and method pointers are 'static. sqlite3_vfs_register
    // initialises SQLite if needed and serialises on SQLite's own mutex.
    let rc = unsafe { ffi::sqlite3_vfs_register(vfs, 0) };
    if rc != ffi::SQLITE_OK {
        // SAFETY: registration failed, so SQLite holds no pointer to `vfs`; it came from
        // Box::into_raw above and is freed once here.
        drop(unsafe { Box::from_raw(vfs) });
        return Err(rc);
    }
    Ok(())
}

/// Runs a callback body, turning a panic into `on_panic` (invariant 6).
fn guard(on_panic: c_int, body: impl FnOnce() -> c_int) -> c_int {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(on_panic)
}

fn code(result: Result<(), c_int>) -> c_int {
    match result {
        Ok(()) => ffi::SQLITE_OK,
        Err(rc) => rc,
    }
}

/// The open file behind a slot SQLite passed to an io method.
///
/// # Safety
/// `p` must be a slot that SQLite passes to a method of [`IO_METHODS`], i.e. one `x_open`
/// initialised (invariants 2 and 3); the reference must not outlive the call.
unsafe fn open_file<'a>(p: *mut ffi::sqlite3_file) -> Option<&'a VfsFile> {
    // SAFETY: by the contract, `p` is null or points to an initialised RawFile that stays valid
    // and is not closed during the call; only shared access is taken (invariant 4).
    unsafe { p.cast::<RawFile>().as_ref()?.file.as_deref() }
}

/// A name SQLite passed in, if present and UTF-8.
///
/// # Safety
/// `name` must be null or a NUL-terminated string valid for the call (invariant 5).
unsafe fn name_arg<'a>(name: *const c_char) -> Option<&'a str> {
    if name.is_null() {
        return None;
    }
    // SAFETY: non-null, NUL-terminated and valid for the call by the contract.
    unsafe { CStr::from_ptr(name) }.to_str().ok()
}

unsafe extern "C" fn x_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    p: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    if p.is_null() {
        return ffi::SQLITE_CANTOPEN;
    }
    let slot = p.cast::<RawFile>();
    // SAFETY: `p` points to szOsFile = size_of::<RawFile>() writable, suitably aligned bytes
    // owned by SQLite and used by no one else during xOpen (invariant 2). `write` does not read
    // or drop the uninitialised old contents.
    unsafe {
        slot.write(RawFile {
            base: ffi::sqlite3_file {
                pMethods: ptr::null(),
            },
            file: None,
        })
    };
    guard(ffi::SQLITE_CANTOPEN, || {
        // SAFETY: zName is null (a temporary file) or a NUL-terminated name valid for the call.
        let name_text = unsafe { name_arg(name) };
        if !name.is_null() && name_text.is_none() {
            return ffi::SQLITE_CANTOPEN;
        }
        match file::open(name_text, flags) {
            Ok(opened) => {
                // SAFETY: `slot` holds the RawFile written above and this call still has it to
                // itself; assigning `file` drops the `None` there, which owns nothing.
                unsafe {
                    (*slot).file = Some(Box::new(opened));
                    (*slot).base.pMethods = &IO_METHODS;
                }
                if !out_flags.is_null() {
                    // SAFETY: a non-null pOutFlags points to an int SQLite reads after the call.
                    unsafe { *out_flags = flags };
                }
                ffi::SQLITE_OK
            }
            Err(rc) => rc,
        }
    })
}

unsafe extern "C" fn x_delete(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    guard(ffi::SQLITE_IOERR_DELETE, || {
        // SAFETY: SQLite passes a NUL-terminated name valid for the call.
        match unsafe { name_arg(name) } {
            Some(name) => code(file::delete(name, sync_dir != 0)),
            None => ffi::SQLITE_IOERR_DELETE,
        }
    })
}

unsafe extern "C" fn x_access(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    _flags: c_int,
    out: *mut c_int,
) -> c_int {
    guard(ffi::SQLITE_IOERR_ACCESS, || {
        // SAFETY: SQLite passes a NUL-terminated name valid for the call.
        let Some(name) = (unsafe { name_arg(name) }) else {
            return ffi::SQLITE_IOERR_ACCESS;
        };
        if out.is_null() {
            return ffi::SQLITE_IOERR_ACCESS;
        }
        match file::access(name) {
            Ok(exists) => {
                // SAFETY: pResOut is non-null and points to an int SQLite reads after the call.
                unsafe { *out = c_int::from(exists) };
                ffi::SQLITE_OK
            }
            Err(rc) => rc,
        }
    })
}

unsafe extern "C" fn x_full_pathname(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    n_out: c_int,
    out: *mut c_char,
) -> c_int {
    guard(ffi::SQLITE_CANTOPEN, || {
        if name.is_null() || out.is_null() {
            return ffi::SQLITE_CANTOPEN;
        }
        // SAFETY: SQLite passes a NUL-terminated name valid for the call.
        let name = unsafe { CStr::from_ptr(name) };
        let canonical = name.to_str().is_ok_and(file::is_canonical);
        let bytes = name.to_bytes_with_nul();
        let fits = usize::try_from(n_out).is_ok_and(|cap| bytes.len() <= cap);
        if !canonical || !fits {
            return ffi::SQLITE_CANTOPEN;
        }
        // SAFETY: `out` has n_out writable bytes and bytes.len() <= n_out; `copy` allows the
        // two buffers to overlap, should SQLite ever pass the same one.
        unsafe { ptr::copy(bytes.as_ptr().cast::<c_char>(), out, bytes.len()) };
        ffi::SQLITE_OK
    })
}

unsafe extern "C" fn x_dl_open(_vfs: *mut ffi::sqlite3_vfs, _name: *const c_char) -> *mut c_void {
    // Loading extensions through a simulated disk makes no sense; SQLite reports the failure.
    ptr::null_mut()
}

unsafe extern "C" fn x_dl_error(_vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) {
    const MESSAGE: &CStr = c"the powercut VFS does not load extensions";
    let Ok(cap) = usize::try_from(n) else {
        return;
    };
    if out.is_null() || cap == 0 {
        return;
    }
    let bytes = MESSAGE.to_bytes();
    let len = bytes.len().min(cap - 1);
    // SAFETY: `out` has n = cap writable bytes; len + 1 <= cap bytes are written.
    unsafe {
        ptr::copy_nonoverlapping(bytes.as_ptr().cast::<c_char>(), out, len);
        *out.add(len) = 0;
    }
}

unsafe extern "C" fn x_dl_sym(
    _vfs: *mut ffi::sqlite3_vfs,
    _handle: *mut c_void,
    _symbol: *const c_char,
) -> Option<unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char)> {
    None
}

unsafe extern "C" fn x_dl_close(_vfs: *mut ffi::sqlite3_vfs, _handle: *mut c_void) {}

unsafe extern "C" fn x_randomness(
    _vfs: *mut ffi::sqlite3_vfs,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    // SQLite seeds its generator from the default VFS, never from this one; should anything ask
    // here, answer with fixed bytes so runs stay reproducible.
    let Ok(len) = usize::try_from(n) else {
        return 0;
    };
    if out.is_null() {
        return 0;
    }
    // SAFETY: `out` has n = len writable bytes.
    unsafe { ptr::write_bytes(out, 0x5a, len) };
    n
}

unsafe extern "C" fn x_sleep(_vfs: *mut ffi::sqlite3_vfs, micros: c_int) -> c_int {
    std::thread::sleep(Duration::from_micros(u64::try_from(micros).unwrap_or(0)));
    micros
}

fn now_julian_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    UNIX_EPOCH_JULIAN_MS + i64::try_from(since_epoch.as_millis()).unwrap_or(0)
}

unsafe extern "C" fn x_current_time(_vfs: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    if out.is_null() {
        return ffi::SQLITE_ERROR;
    }
    // SAFETY: non-null and pointing to a double SQLite reads after the call.
    unsafe { *out = now_julian_ms() as f64 / 86_400_000.0 };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_current_time_int64(
    _vfs: *mut ffi::sqlite3_vfs,
    out: *mut ffi::sqlite3_int64,
) -> c_int {
    if out.is_null() {
        return ffi::SQLITE_ERROR;
    }
    // SAFETY: non-null and pointing to an int64 SQLite reads after the call.
    unsafe { *out = now_julian_ms() };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_get_last_error(
    _vfs: *mut ffi::sqlite3_vfs,
    _n: c_int,
    _out: *mut c_char,
) -> c_int {
    // The errors live in the mount (VfsMount::take_errors), where they keep their io::Error.
    0
}

unsafe extern "C" fn x_close(p: *mut ffi::sqlite3_file) -> c_int {
    guard(ffi::SQLITE_IOERR_CLOSE, || {
        // SAFETY: SQLite calls xClose once on an opened slot, after every other method on it
        // returned and with none running (invariants 3 and 4).
        let Some(raw) = (unsafe { p.cast::<RawFile>().as_mut() }) else {
            return ffi::SQLITE_IOERR_CLOSE;
        };
        match raw.file.take() {
            Some(open) => code(open.close()),
            None => ffi::SQLITE_OK,
        }
    })
}

unsafe extern "C" fn x_read(
    p: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amt: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    guard(ffi::SQLITE_IOERR_READ, || {
        // SAFETY: SQLite calls xRead on an opened slot (invariant 3).
        let Some(f) = (unsafe { open_file(p) }) else {
            return ffi::SQLITE_IOERR_READ;
        };
        let (Ok(len), Ok(offset)) = (usize::try_from(amt), u64::try_from(offset)) else {
            return ffi::SQLITE_IOERR_READ;
        };
        if len == 0 {
            return ffi::SQLITE_OK;
        }
        if buf.is_null() {
            return ffi::SQLITE_IOERR_READ;
        }
        // SAFETY: `buf` is non-null with iAmt = len writable bytes that SQLite does not touch
        // during the call (invariant 5).
        let buf = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
        code(f.read(buf, offset))
    })
}

unsafe extern "C" fn x_write(
    p: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amt: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    guard(ffi::SQLITE_IOERR_WRITE, || {
        // SAFETY: SQLite calls xWrite on an opened slot (invariant 3).
        let Some(f) = (unsafe { open_file(p) }) else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let (Ok(len), Ok(offset)) = (usize::try_from(amt), u64::try_from(offset)) else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        if len == 0 {
            return ffi::SQLITE_OK;
        }
        if buf.is_null() {
            return ffi::SQLITE_IOERR_WRITE;
        }
        // SAFETY: `buf` is non-null with iAmt = len readable bytes, unchanged during the call
        // (invariant 5).
        let data = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) };
        code(f.write(data, offset))
    })
}

unsafe extern "C" fn x_truncate(p: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    guard(ffi::SQLITE_IOERR_TRUNCATE, || {
        // SAFETY: SQLite calls xTruncate on an opened slot (invariant 3).
        let Some(f) = (unsafe { open_file(p) }) else {
            return ffi::SQLITE_IOERR_TRUNCATE;
        };
        match u64::try_from(size) {
            Ok(size) => code(f.truncate(size)),
            Err(_) => ffi::SQLITE_IOERR_TRUNCATE,
        }
    })
}

unsafe extern "C" fn x_sync(p: *mut ffi::sqlite3_file, _flags: c_int) -> c_int {
    // The flags choose between fsync and fdatasync, or ask for F_FULLFSYNC; File::sync makes
    // data and length durable in every case, which covers them all.
    guard(ffi::SQLITE_IOERR_FSYNC, || {
        // SAFETY: SQLite calls xSync on an opened slot (invariant 3).
        match unsafe { open_file(p) } {
            Some(f) => code(f.sync()),
            None => ffi::SQLITE_IOERR_FSYNC,
        }
    })
}

unsafe extern "C" fn x_file_size(p: *mut ffi::sqlite3_file, out: *mut ffi::sqlite3_int64) -> c_int {
    guard(ffi::SQLITE_IOERR_FSTAT, || {
        // SAFETY: SQLite calls xFileSize on an opened slot (invariant 3).
        let Some(f) = (unsafe { open_file(p) }) else {
            return ffi::SQLITE_IOERR_FSTAT;
        };
        if out.is_null() {
            return ffi::SQLITE_IOERR_FSTAT;
        }
        match f.size().map(i64::try_from) {
            Ok(Ok(size)) => {
                // SAFETY: non-null and pointing to an int64 SQLite reads after the call.
                unsafe { *out = size };
                ffi::SQLITE_OK
            }
            Ok(Err(_)) => ffi::SQLITE_IOERR_FSTAT,
            Err(rc) => rc,
        }
    })
}

unsafe extern "C" fn x_lock(p: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    guard(ffi::SQLITE_IOERR_LOCK, || {
        // SAFETY: SQLite calls xLock on an opened slot (invariant 3).
        match unsafe { open_file(p) } {
            Some(f) => code(f.set_lock(level, true)),
            None => ffi::SQLITE_IOERR_LOCK,
        }
    })
}

unsafe extern "C" fn x_unlock(p: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    guard(ffi::SQLITE_IOERR_UNLOCK, || {
        // SAFETY: SQLite calls xUnlock on an opened slot (invariant 3).
        match unsafe { open_file(p) } {
            Some(f) => code(f.set_lock(level, false)),
            None => ffi::SQLITE_IOERR_UNLOCK,
        }
    })
}

unsafe extern "C" fn x_check_reserved_lock(p: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    guard(ffi::SQLITE_IOERR_CHECKRESERVEDLOCK, || {
        // SAFETY: SQLite calls xCheckReservedLock on an opened slot (invariant 3).
        let Some(f) = (unsafe { open_file(p) }) else {
            return ffi::SQLITE_IOERR_CHECKRESERVEDLOCK;
        };
        if out.is_null() {
            return ffi::SQLITE_IOERR_CHECKRESERVEDLOCK;
        }
        // SAFETY: non-null and pointing to an int SQLite reads after the call.
        unsafe { *out = c_int::from(f.reserved()) };
        ffi::SQLITE_OK
    })
}

unsafe extern "C" fn x_file_control(
    _p: *mut ffi::sqlite3_file,
    _op: c_int,
    _arg: *mut c_void,
) -> c_int {
    // No opcode is handled: SQLITE_NOTFOUND tells SQLite to use its defaults (pragmas, size
    // hints, persistent-WAL and powersafe-overwrite switches, "has moved" checks).
    ffi::SQLITE_NOTFOUND
}

unsafe extern "C" fn x_sector_size(p: *mut ffi::sqlite3_file) -> c_int {
    guard(512, || {
        // SAFETY: SQLite calls xSectorSize on an opened slot (invariant 3).
        unsafe { open_file(p) }.map_or(512, VfsFile::sector_size)
    })
}

unsafe extern "C" fn x_device_characteristics(p: *mut ffi::sqlite3_file) -> c_int {
    guard(0, || {
        // SAFETY: SQLite calls xDeviceCharacteristics on an opened slot (invariant 3).
        unsafe { open_file(p) }.map_or(0, VfsFile::characteristics)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_name_matches_the_public_name() {
        assert_eq!(NAME.to_str(), Ok(super::super::VFS_NAME));
    }

    #[test]
    fn registration_is_idempotent() {
        assert_eq!(ensure_registered(), Ok(()));
        assert_eq!(ensure_registered(), Ok(()));
    }
}
