//! Every failure lands in its class: power loss, damage, poisoning, other I/O, other.

use std::path::Path;

use faultfs::{CrashPolicy, Fault, Fs, IoOp, PathPattern, SimFs};
use redb::StorageBackend;
use redb_store::{BackendFailure, BackendOp, ErrorClass, FaultfsBackend, KvError, RedbConfig};

use crate::support::{DIR, data_file, find_in_file, open_sim, put};

fn assert_damage_names_the_file(err: &KvError) {
    match err {
        KvError::Damaged { file, .. } => assert_eq!(file, &data_file(), "{err}"),
        other => panic!("expected damage, got {other:?}"),
    }
}

#[test]
fn the_backend_keeps_the_file_systems_power_loss_error_as_its_source() {
    let fs = SimFs::new();
    let file = fs.create(Path::new("f")).expect("create");
    let backend = FaultfsBackend::new(file, "f");
    backend.write(0, b"abc").expect("write with power on");
    fs.power_off();
    let err = backend.write(0, b"def").expect_err("write after the cut");
    assert!(faultfs::is_power_loss(&err), "{err}");
    let failure = BackendFailure::find(&err).expect("a backend failure");
    assert_eq!(
        (failure.op, failure.offset, failure.len),
        (BackendOp::Write, 0, 3)
    );
    assert_eq!(
        backend.latch().first(),
        Some(redb_store::FirstFailure::PowerLoss)
    );
}

#[test]
fn a_power_cut_during_a_write_is_power_loss_and_so_is_every_call_redb_refuses_after_it() {
    let fs = SimFs::new();
    let mut kv = open_sim(&fs, &RedbConfig::default()).expect("open");
    fs.crash_after_ops(0);
    let first = kv
        .write(&[put("a", "1")], true)
        .expect_err("cut during commit");
    assert!(first.is_power_loss(), "{first}");
    // redb latched the failure and now answers PreviousIo without touching the file; the
    // backend's latch still says it was a power cut.
    let second = kv.write(&[put("b", "2")], true).expect_err("after the cut");
    assert!(second.is_power_loss(), "{second}");
    if let KvError::PowerLoss { source, .. } = &second {
        assert!(faultfs::is_power_loss(source));
    }
}

/// A harness that carries store errors inside an `io::Error` must still see the power cut:
/// `KvError` keeps the backend's error as its source, and the backend keeps the file system's.
#[test]
fn a_power_loss_stays_recognisable_through_every_wrapper() {
    let fs = SimFs::new();
    let mut kv = open_sim(&fs, &RedbConfig::default()).expect("open");
    fs.power_off();
    let err = kv.write(&[put("a", "1")], true).expect_err("cut");
    assert!(err.is_power_loss(), "{err}");
    let wrapped = std::io::Error::other(err);
    assert!(faultfs::is_power_loss(&wrapped), "{wrapped}");
}

#[test]
fn an_eio_on_sync_is_an_io_error_and_later_calls_are_poisoned() {
    let fs = SimFs::new();
    let mut kv = open_sim(&fs, &RedbConfig::default()).expect("open");
    fs.inject(Fault::IoError {
        op: IoOp::Sync,
        path: PathPattern(redb_store::DATA_FILE.to_string()),
        nth: 1,
    });
    let err = kv.write(&[put("a", "1")], true).expect_err("sync fails");
    assert_eq!(err.class(), ErrorClass::Io, "{err}");
    if let KvError::Io { source, .. } = &err {
        assert_eq!(
            faultfs::os_error_code(source),
            Some(5),
            "EIO kept: {source}"
        );
    }
    let later = kv
        .write(&[put("b", "2")], true)
        .expect_err("refused after EIO");
    assert_eq!(later.class(), ErrorClass::Poisoned, "{later}");
}

#[test]
fn a_file_without_the_magic_number_is_refused_as_damage_naming_the_file() {
    let fs = SimFs::new();
    fs.create_dir_all(Path::new(DIR)).expect("mkdir");
    let file = fs.create(&data_file()).expect("create");
    file.write_at(0, &[0u8; 4096]).expect("zeros");
    drop(file);
    let err = open_sim(&fs, &RedbConfig::default()).expect_err("not a database");
    assert_damage_names_the_file(&err);
}

/// The store publishes a database file only once redb initialized it, so an empty one lost its
/// bytes; redb itself would initialize it afresh and report an empty database.
#[test]
fn an_empty_database_file_is_refused_as_damage_not_initialized_afresh() {
    let fs = SimFs::new();
    let mut kv = open_sim(&fs, &RedbConfig::default()).expect("open");
    kv.write(&[put("a", "1")], true).expect("write");
    kv.close().expect("close");
    let file = fs.open(&data_file()).expect("open file");
    file.set_len(0).expect("empty it");
    file.sync().expect("sync");
    drop(file);
    let err = open_sim(&fs, &RedbConfig::default()).expect_err("an empty file");
    assert_damage_names_the_file(&err);
}

#[test]
fn a_file_cut_short_is_refused_as_damage_naming_the_file() {
    for check_integrity_on_open in [false, true] {
        let config = RedbConfig {
            check_integrity_on_open,
            ..RedbConfig::default()
        };
        let fs = SimFs::new();
        let mut kv = open_sim(&fs, &config).expect("open");
        kv.write(&[put("a", "1")], true).expect("write");
        kv.close().expect("close");
        let file = fs.open(&data_file()).expect("open file");
        file.set_len(4096).expect("cut");
        file.sync().expect("sync");
        drop(file);
        fs.reboot(CrashPolicy::Strict, 0);
        let err = open_sim(&fs, &config).expect_err("cut short");
        assert_damage_names_the_file(&err);
    }
}

#[test]
fn a_flipped_byte_in_a_committed_page_is_refused_as_damage_when_checked() {
    let config = RedbConfig {
        check_integrity_on_open: true,
        ..RedbConfig::default()
    };
    let fs = SimFs::new();
    let mut kv = open_sim(&fs, &config).expect("open");
    kv.write(&[put("key", "a-value-to-find")], true)
        .expect("write");
    kv.close().expect("close");
    let at = find_in_file(&fs, b"a-value-to-find");
    fs.inject(Fault::BitFlip {
        path: PathPattern(redb_store::DATA_FILE.to_string()),
        offset: Some(at),
    });
    fs.reboot(CrashPolicy::Strict, 0);
    let err = open_sim(&fs, &config).expect_err("checksum mismatch");
    assert_damage_names_the_file(&err);
}

#[test]
fn a_flipped_byte_is_caught_by_an_explicit_integrity_check_too() {
    let config = RedbConfig::default();
    let fs = SimFs::new();
    let mut kv = open_sim(&fs, &config).expect("open");
    kv.write(&[put("key", "a-value-to-find")], true)
        .expect("write");
    assert!(kv.check_integrity().expect("check a sound file"));
    kv.close().expect("close");
    let at = find_in_file(&fs, b"a-value-to-find");
    fs.inject(Fault::BitFlip {
        path: PathPattern(redb_store::DATA_FILE.to_string()),
        offset: Some(at),
    });
    fs.reboot(CrashPolicy::Strict, 0);
    // A file that was shut down cleanly is trusted on open (redb checks only after a crash or
    // when asked); the explicit check finds the damage.
    let mut kv = open_sim(&fs, &config).expect("a clean shutdown is trusted");
    let err = kv.check_integrity().expect_err("checksum mismatch");
    assert_damage_names_the_file(&err);
}
