//! `AppendWriter`: the shim every store on the seam wrote for itself, as `std::io::Write`.

use std::io::Write;
use std::path::Path;

use faultfs::{AppendWriter, CrashPolicy, Fs, SimFs};

use crate::util::{content, durable_file};

#[test]
fn append_writer_starts_at_the_live_end_and_advances_by_every_byte_written() {
    let fs = SimFs::new();
    durable_file(&fs, "wal", b"head;");
    let mut log = AppendWriter::new(fs.open(Path::new("wal")).unwrap()).unwrap();
    assert_eq!(log.position(), 5);
    log.write_all(b"one;").unwrap();
    write!(log, "two={};", 2).unwrap();
    assert_eq!(log.position(), 5 + 4 + 6);
    assert_eq!(content(&fs, "wal").unwrap(), b"head;one;two=2;");
    assert_eq!(log.file().len().unwrap(), log.position());
}

#[test]
fn append_writer_at_overwrites_from_the_position_it_is_given() {
    // Recovery found the valid log end at 4 and garbage after it: the next record goes over it.
    let fs = SimFs::new();
    durable_file(&fs, "wal", b"rec;####");
    let mut log = AppendWriter::at(fs.open(Path::new("wal")).unwrap(), 4);
    log.write_all(b"new;").unwrap();
    assert_eq!(log.position(), 8);
    assert_eq!(content(&fs, "wal").unwrap(), b"rec;new;");
}

#[test]
fn append_writer_flush_makes_nothing_durable_and_sync_does() {
    let fs = SimFs::new();
    durable_file(&fs, "wal", b"");
    let mut log = AppendWriter::new(fs.open(Path::new("wal")).unwrap()).unwrap();
    log.write_all(b"acked").unwrap();
    log.flush().unwrap();
    let flushed_only = fs.fork();
    flushed_only.reboot(CrashPolicy::Strict, 0);
    assert_eq!(content(&flushed_only, "wal").unwrap(), b"");
    log.sync().unwrap();
    fs.reboot(CrashPolicy::Strict, 0);
    assert_eq!(content(&fs, "wal").unwrap(), b"acked");
}

#[test]
fn append_writer_bytes_are_in_the_kernel_at_once_so_a_process_kill_keeps_them() {
    // No user-space buffer: a write returned, so a kill (KeepAll) keeps it without flush or sync.
    let fs = SimFs::new();
    durable_file(&fs, "wal", b"");
    let mut log = AppendWriter::new(fs.open(Path::new("wal")).unwrap()).unwrap();
    log.write_all(b"acked").unwrap();
    fs.reboot(CrashPolicy::KeepAll, 0);
    assert_eq!(content(&fs, "wal").unwrap(), b"acked");
}

#[test]
fn append_writer_keeps_its_position_when_a_write_fails() {
    let fs = SimFs::new();
    durable_file(&fs, "wal", b"");
    fs.inject(faultfs::Fault::IoError {
        op: faultfs::IoOp::Write,
        path: faultfs::PathPattern("wal".into()),
        nth: 1,
    });
    let mut log = AppendWriter::new(fs.open(Path::new("wal")).unwrap()).unwrap();
    assert!(log.write_all(b"lost").is_err());
    assert_eq!(log.position(), 0);
    log.write_all(b"kept").unwrap();
    assert_eq!(log.position(), 4);
    let file = log.into_inner();
    assert_eq!(file.read_to_end().unwrap(), b"kept");
}

#[test]
fn append_writer_hands_no_empty_write_to_the_file() {
    let fs = SimFs::new();
    durable_file(&fs, "wal", b"");
    let mut log = AppendWriter::new(fs.open(Path::new("wal")).unwrap()).unwrap();
    let before = fs.mutating_ops();
    assert_eq!(log.write(b"").unwrap(), 0);
    assert_eq!(fs.mutating_ops(), before);
}
