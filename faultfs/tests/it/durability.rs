//! The durability model of section 2.1: what survives a crash and what does not.

use std::path::Path;

use faultfs::{CrashPolicy, Fs, SimFs};

use crate::util::{content, durable_file, read_all};

#[test]
fn synced_file_lost_without_dir_sync() {
    let fs = SimFs::new();
    let file = fs.create(Path::new("data")).unwrap();
    file.write_at(0, b"hello").unwrap();
    file.sync().unwrap();
    fs.reboot(CrashPolicy::Strict, 1);
    assert!(!fs.exists(Path::new("data")).unwrap());
}

#[test]
fn synced_file_and_dir_survive_strict() {
    let fs = SimFs::new();
    durable_file(&fs, "data", b"hello");
    fs.reboot(CrashPolicy::Strict, 1);
    assert_eq!(read_all(&fs, "data"), b"hello");
}

#[test]
fn strict_drops_unsynced_bytes_and_keep_all_keeps_them() {
    let fs = SimFs::new();
    durable_file(&fs, "log", b"durable;");
    let file = fs.open(Path::new("log")).unwrap();
    file.write_at(8, b"volatile").unwrap();
    let kept = fs.fork();
    fs.reboot(CrashPolicy::Strict, 1);
    assert_eq!(read_all(&fs, "log"), b"durable;");
    kept.reboot(CrashPolicy::KeepAll, 1);
    assert_eq!(read_all(&kept, "log"), b"durable;volatile");
}

#[test]
fn removed_file_comes_back_with_its_durable_bytes() {
    let fs = SimFs::new();
    durable_file(&fs, "old.sst", b"synced");
    let file = fs.open(Path::new("old.sst")).unwrap();
    file.write_at(0, b"XXXXXX").unwrap();
    fs.remove(Path::new("old.sst")).unwrap();
    assert!(!fs.exists(Path::new("old.sst")).unwrap());
    fs.reboot(CrashPolicy::Strict, 1);
    assert_eq!(read_all(&fs, "old.sst"), b"synced");
}

#[test]
fn removal_made_durable_stays_removed() {
    let fs = SimFs::new();
    durable_file(&fs, "old.sst", b"synced");
    fs.remove(Path::new("old.sst")).unwrap();
    fs.sync_dir(Path::new("")).unwrap();
    fs.reboot(CrashPolicy::KeepAll, 1);
    assert!(!fs.exists(Path::new("old.sst")).unwrap());
}

#[test]
fn sync_of_a_removed_but_open_file_updates_what_comes_back() {
    let fs = SimFs::new();
    durable_file(&fs, "f", b"one");
    let file = fs.open(Path::new("f")).unwrap();
    fs.remove(Path::new("f")).unwrap();
    file.write_at(0, b"two").unwrap();
    file.sync().unwrap();
    fs.reboot(CrashPolicy::Strict, 1);
    assert_eq!(read_all(&fs, "f"), b"two");
}

#[test]
fn unsynced_rename_is_undone_by_strict() {
    let fs = SimFs::new();
    durable_file(&fs, "a", b"A");
    fs.rename(Path::new("a"), Path::new("b")).unwrap();
    fs.reboot(CrashPolicy::Strict, 1);
    assert_eq!(content(&fs, "a").as_deref(), Some(&b"A"[..]));
    assert_eq!(content(&fs, "b"), None);
}

#[test]
fn new_directory_lost_without_sync_of_its_parent() {
    let fs = SimFs::new();
    fs.create_dir_all(Path::new("db/wal")).unwrap();
    durable_file(&fs, "db/wal/000001.log", b"x");
    fs.sync_dir(Path::new("db")).unwrap();
    fs.reboot(CrashPolicy::Strict, 1);
    // "db" itself was never made durable in the root, so nothing under it survives.
    assert!(!fs.exists(Path::new("db")).unwrap());
}

#[test]
fn directories_synced_top_down_survive() {
    let fs = SimFs::new();
    fs.create_dir_all(Path::new("db/wal")).unwrap();
    fs.sync_dir(Path::new("")).unwrap();
    fs.sync_dir(Path::new("db")).unwrap();
    durable_file(&fs, "db/wal/000001.log", b"x");
    fs.reboot(CrashPolicy::Strict, 1);
    assert_eq!(read_all(&fs, "db/wal/000001.log"), b"x");
    assert_eq!(fs.list(Path::new("db")).unwrap(), vec!["wal".to_string()]);
}

#[test]
fn set_len_is_durable_only_after_sync() {
    let fs = SimFs::new();
    durable_file(&fs, "f", b"0123456789");
    let file = fs.open(Path::new("f")).unwrap();
    file.set_len(4).unwrap();
    assert_eq!(file.len().unwrap(), 4);
    let synced = fs.fork();
    fs.reboot(CrashPolicy::Strict, 1);
    assert_eq!(read_all(&fs, "f"), b"0123456789");
    let file = synced.open(Path::new("f")).unwrap();
    file.sync().unwrap();
    synced.reboot(CrashPolicy::Strict, 1);
    assert_eq!(read_all(&synced, "f"), b"0123");
}

#[test]
fn rename_across_directories_commits_with_either_dir_sync() {
    let fs = SimFs::new();
    fs.create_dir_all(Path::new("a")).unwrap();
    fs.create_dir_all(Path::new("b")).unwrap();
    fs.sync_dir(Path::new("")).unwrap();
    durable_file(&fs, "a/x", b"x");
    fs.rename(Path::new("a/x"), Path::new("b/y")).unwrap();
    fs.sync_dir(Path::new("b")).unwrap();
    fs.reboot(CrashPolicy::Strict, 1);
    assert!(!fs.exists(Path::new("a/x")).unwrap());
    assert_eq!(read_all(&fs, "b/y"), b"x");
}
