//! StdFs on a real directory: confinement, locks, errno.

use std::io::ErrorKind;
use std::path::Path;

use faultfs::{Fs, StdFs, os_error_code};

use crate::util::{durable_file, read_all};

#[test]
fn paths_leaving_the_root_are_refused_with_the_path_named() {
    let dir = tempfile::tempdir().unwrap();
    let fs = StdFs::new(dir.path()).unwrap();
    for bad in ["../escape", "/etc/passwd", "a/../../b"] {
        let err = fs.create(Path::new(bad)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}");
        assert!(err.to_string().contains(bad), "{err}");
    }
    // `..` that stays inside the root is fine.
    fs.create_dir_all(Path::new("a")).unwrap();
    durable_file(&fs, "a/../inside", b"ok");
    assert_eq!(read_all(&fs, "inside"), b"ok");
}

#[test]
fn second_lock_fails_and_drop_releases_it() {
    let dir = tempfile::tempdir().unwrap();
    let fs = StdFs::new(dir.path()).unwrap();
    let guard = fs.lock(Path::new("LOCK")).unwrap();
    let err = fs.lock(Path::new("LOCK")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    assert!(err.to_string().contains("LOCK"), "{err}");
    drop(guard);
    fs.lock(Path::new("LOCK")).unwrap();
}

#[test]
fn kernel_errors_keep_their_errno_and_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let fs = StdFs::new(dir.path()).unwrap();
    let err = fs.open(Path::new("missing")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(os_error_code(&err), Some(libc::ENOENT));
    assert!(err.to_string().contains("missing"), "{err}");
    durable_file(&fs, "f", b"abc");
    let file = fs.open(Path::new("f")).unwrap();
    let mut buf = [0; 4];
    assert_eq!(
        file.read_exact_at(0, &mut buf).unwrap_err().kind(),
        ErrorKind::UnexpectedEof
    );
    assert_eq!(
        fs.create(Path::new("f")).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
}

#[test]
fn sim_errors_name_the_path_like_std_errors() {
    let fs = faultfs::SimFs::new();
    let err = fs.open(Path::new("missing")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("missing"));
    let err = fs.create(Path::new("../x")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("../x"));
    durable_file(&fs, "f", b"abc");
    let file = fs.open(Path::new("f")).unwrap();
    let mut buf = [0; 4];
    let err = file.read_exact_at(0, &mut buf).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    assert!(err.to_string().contains('f'));
}
