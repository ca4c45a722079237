//! The provided methods stores lean on: `File::read_to_end` and `Fs::create_or_truncate`, with
//! the durability each promises and no more.

use std::io::ErrorKind;
use std::path::Path;

use faultfs::{CrashPolicy, Fs, SimFs, StdFs};

use crate::util::{content, durable_file};

#[test]
fn read_to_end_returns_the_live_bytes_durable_or_not() {
    let fs = SimFs::new();
    durable_file(&fs, "f", b"durable;");
    let file = fs.open(Path::new("f")).unwrap();
    file.write_at(8, b"pending").unwrap();
    assert_eq!(file.read_to_end().unwrap(), b"durable;pending");
    file.set_len(3).unwrap();
    assert_eq!(file.read_to_end().unwrap(), b"dur");
}

#[test]
fn read_to_end_of_an_empty_file_is_empty() {
    let fs = SimFs::new();
    let file = fs.create(Path::new("f")).unwrap();
    assert_eq!(file.read_to_end().unwrap(), b"");
}

/// Both implementations: a missing name is created, a taken one is emptied, `create` still
/// refuses a taken name.
fn creates_missing_and_empties_existing(fs: &dyn Fs) {
    let fresh = fs.create_or_truncate(Path::new("new")).unwrap();
    assert_eq!(fresh.read_to_end().unwrap(), b"");
    fresh.write_at(0, b"first").unwrap();
    durable_file(fs, "old", b"old bytes");
    let again = fs.create_or_truncate(Path::new("old")).unwrap();
    assert_eq!(again.len().unwrap(), 0);
    again.write_at(0, b"new").unwrap();
    assert_eq!(
        fs.open(Path::new("old")).unwrap().read_to_end().unwrap(),
        b"new"
    );
    assert_eq!(
        fs.create(Path::new("old")).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
}

#[test]
fn create_or_truncate_creates_a_missing_file_and_empties_a_taken_one_on_sim() {
    creates_missing_and_empties_existing(&SimFs::new());
}

#[test]
fn create_or_truncate_creates_a_missing_file_and_empties_a_taken_one_on_std() {
    let dir = tempfile::tempdir().unwrap();
    creates_missing_and_empties_existing(&StdFs::new(dir.path()).unwrap());
}

#[test]
fn create_or_truncate_refuses_a_directory_on_both() {
    let dir = tempfile::tempdir().unwrap();
    let std_fs = StdFs::new(dir.path()).unwrap();
    let sim = SimFs::new();
    for fs in [&std_fs as &dyn Fs, &sim] {
        fs.create_dir_all(Path::new("d")).unwrap();
        assert!(fs.create_or_truncate(Path::new("d")).is_err());
    }
}

#[test]
fn a_crash_before_sync_brings_back_what_create_or_truncate_cut() {
    let fs = SimFs::new();
    durable_file(&fs, "state", b"old state");
    let file = fs.create_or_truncate(Path::new("state")).unwrap();
    file.write_at(0, b"new").unwrap();
    let unsynced = fs.fork();
    unsynced.reboot(CrashPolicy::Strict, 0);
    assert_eq!(content(&unsynced, "state").unwrap(), b"old state");
    file.sync().unwrap();
    fs.reboot(CrashPolicy::Strict, 0);
    assert_eq!(content(&fs, "state").unwrap(), b"new");
}

#[test]
fn a_file_create_or_truncate_made_is_lost_without_sync_dir() {
    let fs = SimFs::new();
    let file = fs.create_or_truncate(Path::new("fresh")).unwrap();
    file.write_at(0, b"data").unwrap();
    file.sync().unwrap();
    let no_dir_sync = fs.fork();
    no_dir_sync.reboot(CrashPolicy::Strict, 0);
    assert_eq!(content(&no_dir_sync, "fresh"), None);
    fs.sync_dir(Path::new("")).unwrap();
    fs.reboot(CrashPolicy::Strict, 0);
    assert_eq!(content(&fs, "fresh").unwrap(), b"data");
}

#[test]
fn create_or_truncate_of_an_existing_file_on_sim_is_no_failed_mutating_operation() {
    // Opening first keeps a plain rewrite from spending a crash point on a create that fails.
    let fs = SimFs::new();
    durable_file(&fs, "f", b"x");
    fs.create_or_truncate(Path::new("f")).unwrap();
    let events = fs.events();
    let tail: Vec<String> = events[events.len() - 2..]
        .iter()
        .map(|e| format!("{} -> {}", e.op, e.result))
        .collect();
    assert_eq!(tail, vec!["open f -> ok", "set_len f 0 -> ok"]);
}
