//! Operations through an open handle are named by the file's current name.
//!
//! The bug these guard: a store writes `data.redb.tmp`, renames it to `data.redb` and keeps
//! writing through the same handle. The log still said `data.redb.tmp` for those writes (the
//! handle kept the path it was opened by), so a report blamed a file that no longer existed, and
//! a fault aimed at `data.redb` never hit them.

use std::path::Path;

use faultfs::{
    CrashPolicy, EventOp, Fault, FileKind, Fs, IoOp, PathPattern, RebootDecision, SimFs,
    os_error_code,
};

/// The path of every write, sync and read in the log, in order, with the operation's name.
fn file_ops(fs: &SimFs) -> Vec<(&'static str, String)> {
    fs.events()
        .into_iter()
        .filter_map(|e| match e.op {
            EventOp::Write { path, .. } => Some(("write", path)),
            EventOp::Sync { path } => Some(("sync", path)),
            EventOp::Read { path, .. } => Some(("read", path)),
            EventOp::SetLen { path, .. } => Some(("set_len", path)),
            _ => None,
        })
        .map(|(op, path)| (op, String::from(path)))
        .collect()
}

#[test]
fn write_through_a_handle_after_rename_shows_the_new_name_in_the_log() {
    let fs = SimFs::new();
    let file = fs.create(Path::new("data.redb.tmp")).unwrap();
    file.write_at(0, b"before").unwrap();
    fs.rename(Path::new("data.redb.tmp"), Path::new("data.redb"))
        .unwrap();
    file.write_at(6, b"after").unwrap();
    file.set_len(11).unwrap();
    file.sync().unwrap();
    file.read_exact_at(0, &mut [0; 4]).unwrap();
    let expected: Vec<(&str, String)> = vec![
        ("write", "data.redb.tmp".into()),
        ("write", "data.redb".into()),
        ("set_len", "data.redb".into()),
        ("sync", "data.redb".into()),
        ("read", "data.redb".into()),
    ];
    assert_eq!(file_ops(&fs), expected);
}

#[test]
fn a_fault_aimed_at_the_new_name_hits_writes_through_a_handle_opened_by_the_old_one() {
    let fs = SimFs::new();
    fs.inject(Fault::IoError {
        op: IoOp::Write,
        path: PathPattern("data.redb".into()),
        nth: 1,
    });
    let file = fs.create(Path::new("data.redb.tmp")).unwrap();
    // Not yet called data.redb: the fault lets it through.
    file.write_at(0, b"header").unwrap();
    fs.rename(Path::new("data.redb.tmp"), Path::new("data.redb"))
        .unwrap();
    let err = file.write_at(6, b"page").unwrap_err();
    assert_eq!(os_error_code(&err), Some(libc::EIO));
    assert!(err.to_string().contains("data.redb"), "{err}");
    assert!(!err.to_string().contains(".tmp"), "{err}");
}

#[test]
fn a_fault_aimed_at_the_old_name_no_longer_hits_the_handle_after_rename() {
    let fs = SimFs::new();
    fs.inject(Fault::IoError {
        op: IoOp::Sync,
        path: PathPattern("*.tmp".into()),
        nth: 1,
    });
    let file = fs.create(Path::new("CURRENT.tmp")).unwrap();
    file.write_at(0, b"MANIFEST-2\n").unwrap();
    fs.rename(Path::new("CURRENT.tmp"), Path::new("CURRENT"))
        .unwrap();
    file.sync().unwrap();
}

fn kinds(path: &Path) -> FileKind {
    if path.extension().is_some_and(|e| e == "tmp") {
        FileKind::Other
    } else {
        FileKind::Data
    }
}

#[test]
fn a_role_fault_follows_the_role_of_the_current_name() {
    let fs = SimFs::new();
    fs.set_file_kinds(Some(kinds));
    fs.inject(Fault::IoError {
        op: IoOp::Write,
        path: PathPattern(FileKind::Data.pattern()),
        nth: 1,
    });
    let file = fs.create(Path::new("table.tmp")).unwrap();
    file.write_at(0, b"scratch").unwrap();
    fs.rename(Path::new("table.tmp"), Path::new("table"))
        .unwrap();
    assert!(file.write_at(7, b"data").is_err());
}

#[test]
fn a_removed_files_handle_keeps_the_last_name_it_had_in_log_and_reboot_decisions() {
    let fs = SimFs::new();
    let file = fs.create(Path::new("a.tmp")).unwrap();
    fs.rename(Path::new("a.tmp"), Path::new("a")).unwrap();
    fs.remove(Path::new("a")).unwrap();
    file.write_at(0, b"orphan").unwrap();
    assert_eq!(file_ops(&fs), vec![("write", "a".to_string())]);
    fs.reboot(CrashPolicy::KeepAll, 0);
    let named: Vec<String> = fs.with_events(|events| match &events.last().unwrap().op {
        EventOp::Reboot { outcome, .. } => outcome
            .decisions
            .iter()
            .filter_map(|d| match d {
                RebootDecision::File { path, .. } => Some(path.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    });
    assert_eq!(named, vec!["a".to_string()]);
}

#[test]
fn a_handle_from_before_a_reboot_is_named_by_the_path_it_was_opened_by() {
    let fs = SimFs::new();
    let file = fs.create(Path::new("old")).unwrap();
    fs.reboot(CrashPolicy::KeepAll, 0);
    fs.create(Path::new("new")).unwrap();
    assert!(faultfs::is_power_loss(&file.write_at(0, b"x").unwrap_err()));
    assert_eq!(file_ops(&fs), vec![("write", "old".to_string())]);
}

/// Paths that confining rewrites (`./`, `..` inside the root) or that are not UTF-8 name the same
/// files as their plain forms, and the log shows them as the caller gave them (lossy if needed).
#[test]
fn unnormalised_and_non_utf8_paths_name_the_same_files() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    let fs = SimFs::new();
    fs.create_dir_all(Path::new("d")).unwrap();
    let file = fs.create(Path::new("./d/../d/a")).unwrap();
    file.write_at(0, b"x").unwrap();
    assert!(fs.exists(Path::new("d/a")).unwrap());
    fs.rename(Path::new("d/./a"), Path::new("d/b")).unwrap();
    file.sync().unwrap();
    let odd = Path::new(OsStr::from_bytes(b"d/c\xff"));
    fs.create(odd).unwrap();
    assert!(fs.exists(odd).unwrap());
    fs.sync_dir(Path::new("./d")).unwrap();
    fs.sync_dir(Path::new(".")).unwrap();
    assert_eq!(
        fs.list(Path::new("d")).unwrap(),
        vec!["b".to_string(), "c\u{fffd}".to_string()]
    );
    fs.reboot(CrashPolicy::Strict, 0);
    assert!(fs.exists(Path::new("d/b")).unwrap());
    assert!(fs.exists(odd).unwrap());
    let created: Vec<String> = fs
        .events()
        .into_iter()
        .filter_map(|e| match e.op {
            EventOp::Create { path } => Some(String::from(path)),
            _ => None,
        })
        .collect();
    assert_eq!(created, vec!["./d/../d/a", "d/c\u{fffd}"]);
    assert_eq!(
        file_ops(&fs),
        vec![("write", "d/a".into()), ("sync", "d/b".into())]
    );
}
