//! Faults while running (section 2.3): each fires where it is aimed, with a real errno, and is
//! written into the event log.

use std::path::Path;

use faultfs::{
    CrashPolicy, EventOp, Fault, FaultClass, Fs, FsyncMode, IoOp, PathPattern, SimFs, os_error_code,
};

use crate::util::{content, durable_file, read_all};

fn pattern(p: &str) -> PathPattern {
    PathPattern(p.to_string())
}

/// The fault classes the log recorded, in order.
fn fired(fs: &SimFs) -> Vec<FaultClass> {
    fs.events().iter().filter_map(|e| e.fault).collect()
}

#[test]
fn eio_on_the_nth_write_of_matching_files_only() {
    let fs = SimFs::new();
    fs.inject(Fault::IoError {
        op: IoOp::Write,
        path: pattern("*.log"),
        nth: 2,
    });
    let log = fs.create(Path::new("000001.log")).unwrap();
    let sst = fs.create(Path::new("000002.sst")).unwrap();
    log.write_at(0, b"one").unwrap();
    sst.write_at(0, b"x").unwrap();
    sst.write_at(1, b"y").unwrap();
    let err = log.write_at(3, b"two").unwrap_err();
    assert_eq!(os_error_code(&err), Some(libc::EIO));
    assert!(err.to_string().contains("000001.log"), "{err}");
    log.write_at(3, b"three").unwrap();
    assert_eq!(read_all(&fs, "000001.log"), b"onethree");
    assert_eq!(fired(&fs), vec![FaultClass::WriteError]);
    assert_eq!(
        fs.events()
            .iter()
            .find(|e| e.fault.is_some())
            .unwrap()
            .result,
        "EIO"
    );
}

#[test]
fn eio_on_read_and_on_sync() {
    let fs = SimFs::new();
    durable_file(&fs, "MANIFEST-000001", b"edits");
    fs.inject(Fault::IoError {
        op: IoOp::Read,
        path: pattern("MANIFEST-*"),
        nth: 1,
    });
    fs.inject(Fault::IoError {
        op: IoOp::Sync,
        path: pattern("MANIFEST-*"),
        nth: 1,
    });
    let file = fs.open(Path::new("MANIFEST-000001")).unwrap();
    let mut buf = [0; 5];
    assert_eq!(
        os_error_code(&file.read_exact_at(0, &mut buf).unwrap_err()),
        Some(libc::EIO)
    );
    file.read_exact_at(0, &mut buf).unwrap();
    file.write_at(5, b"more").unwrap();
    assert_eq!(os_error_code(&file.sync().unwrap_err()), Some(libc::EIO));
    // A plain failed flush leaves the changes pending: a later sync can still make them durable.
    file.sync().unwrap();
    fs.reboot(CrashPolicy::Strict, 0);
    assert_eq!(read_all(&fs, "MANIFEST-000001"), b"editsmore");
    assert_eq!(
        fired(&fs),
        vec![FaultClass::ReadError, FaultClass::SyncError]
    );
}

#[test]
fn enospc_once_live_bytes_would_pass_the_capacity() {
    let fs = SimFs::new();
    fs.inject(Fault::NoSpace { capacity_bytes: 10 });
    let a = fs.create(Path::new("a")).unwrap();
    a.write_at(0, &[1; 6]).unwrap();
    let b = fs.create(Path::new("b")).unwrap();
    b.write_at(0, &[2; 4]).unwrap();
    let err = b.write_at(4, &[2]).unwrap_err();
    assert_eq!(os_error_code(&err), Some(libc::ENOSPC));
    assert_eq!(
        os_error_code(&a.set_len(7).unwrap_err()),
        Some(libc::ENOSPC)
    );
    // Overwriting in place needs no space; removing a file frees its bytes.
    a.write_at(0, &[3; 6]).unwrap();
    fs.remove(Path::new("a")).unwrap();
    drop(a);
    b.write_at(4, &[2; 6]).unwrap();
    assert_eq!(fired(&fs), vec![FaultClass::NoSpace, FaultClass::NoSpace]);
    fs.clear_faults();
    b.write_at(100, &[9]).unwrap();
}

#[test]
fn fsync_mark_clean_loses_the_pages_but_reads_still_show_them() {
    let fs = SimFs::new();
    durable_file(&fs, "wal", b"safe;");
    fs.inject(Fault::FsyncFailure {
        path: pattern("wal"),
        nth: 1,
        mode: FsyncMode::MarkClean,
    });
    let file = fs.open(Path::new("wal")).unwrap();
    file.write_at(5, b"lost").unwrap();
    assert_eq!(os_error_code(&file.sync().unwrap_err()), Some(libc::EIO));
    assert_eq!(read_all(&fs, "wal"), b"safe;lost");
    // The next sync succeeds: there is nothing left to write back.
    file.sync().unwrap();
    fs.reboot(CrashPolicy::KeepAll, 0);
    assert_eq!(read_all(&fs, "wal"), b"safe;");
    assert_eq!(fired(&fs), vec![FaultClass::FsyncMarkClean]);
}

#[test]
fn fsync_report_later_fails_the_next_sync() {
    let fs = SimFs::new();
    durable_file(&fs, "wal", b"");
    fs.inject(Fault::FsyncFailure {
        path: pattern("wal"),
        nth: 1,
        mode: FsyncMode::ReportLater,
    });
    let file = fs.open(Path::new("wal")).unwrap();
    file.write_at(0, b"first;").unwrap();
    file.sync().unwrap();
    file.write_at(6, b"second").unwrap();
    assert_eq!(os_error_code(&file.sync().unwrap_err()), Some(libc::EIO));
    assert_eq!(fired(&fs), vec![FaultClass::FsyncReportLater]);
    file.sync().unwrap();
    fs.reboot(CrashPolicy::KeepAll, 0);
    assert_eq!(read_all(&fs, "wal"), b"first;");
}

#[test]
fn fsync_revert_puts_the_live_bytes_back_to_the_durable_ones() {
    let fs = SimFs::new();
    durable_file(&fs, "wal", b"durable");
    fs.inject(Fault::FsyncFailure {
        path: pattern("wal"),
        nth: 1,
        mode: FsyncMode::Revert,
    });
    let file = fs.open(Path::new("wal")).unwrap();
    file.write_at(7, b"+volatile").unwrap();
    assert_eq!(os_error_code(&file.sync().unwrap_err()), Some(libc::EIO));
    assert_eq!(read_all(&fs, "wal"), b"durable");
    assert_eq!(fired(&fs), vec![FaultClass::FsyncRevert]);
}

#[test]
fn bit_flip_changes_exactly_one_bit_at_the_next_reboot() {
    for offset in [Some(3), None] {
        let fs = SimFs::new();
        durable_file(&fs, "000005.sst", &[0u8; 64]);
        durable_file(&fs, "000006.log", &[0u8; 64]);
        fs.inject(Fault::BitFlip {
            path: pattern("*.sst"),
            offset,
        });
        assert_eq!(read_all(&fs, "000005.sst"), [0u8; 64]);
        fs.reboot(CrashPolicy::Strict, 11);
        let bytes = read_all(&fs, "000005.sst");
        let ones: u32 = bytes.iter().map(|b| b.count_ones()).sum();
        assert_eq!(ones, 1);
        if let Some(at) = offset {
            assert_ne!(bytes[at as usize], 0);
        }
        assert_eq!(read_all(&fs, "000006.log"), [0u8; 64]);
        let damage: Vec<_> = fs
            .events()
            .into_iter()
            .filter(|e| matches!(e.op, EventOp::Damage { .. }))
            .collect();
        assert_eq!(damage.len(), 1);
        assert_eq!(damage[0].fault, Some(FaultClass::BitFlip));
        // Fired once: the next reboot leaves the file alone.
        fs.reboot(CrashPolicy::Strict, 12);
        assert_eq!(read_all(&fs, "000005.sst"), bytes);
    }
}

#[test]
fn torn_sector_replaces_one_durable_sector() {
    let fs = SimFs::new();
    durable_file(&fs, "f", &[7u8; 2048]);
    fs.inject(Fault::TornSector {
        path: pattern("f"),
        offset: Some(600),
        sector: 512,
    });
    fs.reboot(CrashPolicy::Strict, 3);
    let bytes = read_all(&fs, "f");
    assert_eq!(bytes.len(), 2048);
    assert!(bytes[..512].iter().all(|b| *b == 7));
    assert!(bytes[512..1024].iter().filter(|b| **b != 7).count() > 256);
    assert!(bytes[1024..].iter().all(|b| *b == 7));
    assert_eq!(fired(&fs), vec![FaultClass::TornSector]);
}

#[test]
fn misdirected_write_lands_elsewhere_but_reads_look_right_until_the_crash() {
    let fs = SimFs::with_seed(5);
    durable_file(&fs, "f", &[0u8; 4096]);
    fs.inject(Fault::MisdirectedWrite {
        path: pattern("f"),
        nth: 1,
    });
    let file = fs.open(Path::new("f")).unwrap();
    file.write_at(0, &[9u8; 512]).unwrap();
    assert_eq!(&read_all(&fs, "f")[..512], &[9u8; 512]);
    file.sync().unwrap();
    fs.reboot(CrashPolicy::Strict, 0);
    let bytes = read_all(&fs, "f");
    assert_eq!(
        &bytes[..512],
        &[0u8; 512],
        "the intended place kept its old bytes"
    );
    assert_eq!(
        bytes.iter().filter(|b| **b == 9).count(),
        512,
        "the data landed somewhere else"
    );
    let event = fs.events().into_iter().find(|e| e.fault.is_some()).unwrap();
    assert_eq!(event.fault, Some(FaultClass::MisdirectedWrite));
    assert!(
        event.result.starts_with("ok (landed at offset"),
        "{}",
        event.result
    );
}

#[test]
fn truncation_cuts_a_named_file_at_the_given_or_a_seeded_offset() {
    let fs = SimFs::new();
    durable_file(&fs, "MANIFEST-000001", &[1u8; 100]);
    fs.inject(Fault::Truncate {
        path: pattern("MANIFEST-*"),
        offset: Some(40),
    });
    fs.reboot(CrashPolicy::Strict, 0);
    assert_eq!(read_all(&fs, "MANIFEST-000001").len(), 40);
    fs.inject(Fault::Truncate {
        path: pattern("MANIFEST-*"),
        offset: None,
    });
    fs.reboot(CrashPolicy::Strict, 0);
    assert!(read_all(&fs, "MANIFEST-000001").len() < 40);
    assert_eq!(fired(&fs), vec![FaultClass::Truncate, FaultClass::Truncate]);
}

#[test]
fn path_patterns_match_names_or_whole_paths() {
    let p = |s: &str| PathPattern(s.to_string());
    assert!(p("*.sst").matches(Path::new("db/000001.sst")));
    assert!(!p("*.sst").matches(Path::new("db/000001.log")));
    assert!(p("CURRENT").matches(Path::new("db/CURRENT")));
    assert!(!p("CURRENT").matches(Path::new("db/CURRENT.tmp")));
    assert!(p("db/*.log").matches(Path::new("db/wal/000003.log")));
    assert!(!p("db/*.log").matches(Path::new("other/000003.log")));
    assert!(p("MANIFEST-00000?").matches(Path::new("MANIFEST-000007")));
    assert!(!p("MANIFEST-00000?").matches(Path::new("MANIFEST-0000007")));
    assert!(p("*").matches(Path::new("anything")));
}

#[test]
fn clear_faults_disarms_what_has_not_fired() {
    let fs = SimFs::new();
    fs.inject(Fault::IoError {
        op: IoOp::Write,
        path: pattern("*"),
        nth: 1,
    });
    fs.clear_faults();
    let file = fs.create(Path::new("f")).unwrap();
    file.write_at(0, b"x").unwrap();
    assert_eq!(content(&fs, "f").unwrap(), b"x");
    assert!(fired(&fs).is_empty());
}

#[test]
fn huge_offsets_are_refused_with_efbig_not_allocated() {
    let fs = SimFs::new();
    let file = fs.create(Path::new("f")).unwrap();
    let err = file.write_at(1 << 40, b"x").unwrap_err();
    assert_eq!(os_error_code(&err), Some(libc::EFBIG));
    assert!(err.to_string().contains('f'));
    assert_eq!(
        os_error_code(&file.set_len(u64::MAX).unwrap_err()),
        Some(libc::EFBIG)
    );
    assert_eq!(file.len().unwrap(), 0);
}

/// A store whose journal is `data.jnl` and whose pages live in `data.db`.
fn journal_kinds(path: &Path) -> faultfs::FileKind {
    match path.extension().and_then(|e| e.to_str()) {
        Some("jnl") => faultfs::FileKind::Log,
        Some("db") => faultfs::FileKind::Data,
        _ => faultfs::FileKind::Other,
    }
}

#[test]
fn role_patterns_aim_at_the_files_the_store_names_and_at_nothing_without_a_classifier() {
    let fs = SimFs::new();
    fs.inject(Fault::IoError {
        op: IoOp::Write,
        path: pattern("role:log"),
        nth: 1,
    });
    let db = fs.create(Path::new("data.db")).unwrap();
    db.write_at(0, b"page").unwrap();
    let jnl = fs.create(Path::new("data.jnl")).unwrap();
    // No classifier yet: the role pattern matches nothing.
    jnl.write_at(0, b"rec").unwrap();
    fs.set_file_kinds(Some(journal_kinds));
    db.write_at(4, b"more").unwrap();
    let err = jnl.write_at(3, b"rec2").unwrap_err();
    assert_eq!(os_error_code(&err), Some(libc::EIO));
    assert_eq!(fired(&fs), vec![FaultClass::WriteError]);

    // Damage aimed by role survives the reboot's classifier too.
    jnl.sync().unwrap();
    db.sync().unwrap();
    fs.sync_dir(Path::new("")).unwrap();
    fs.inject(Fault::Truncate {
        path: pattern("role:data"),
        offset: Some(2),
    });
    fs.reboot(CrashPolicy::Strict, 0);
    assert_eq!(read_all(&fs, "data.db"), b"pa");
    assert_eq!(read_all(&fs, "data.jnl"), b"rec");
}
