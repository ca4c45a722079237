//! The ordered-metadata disk model: a crash keeps a prefix, in issue order, of the pending
//! namespace operations and `set_len`s, and a canary per claim showing that the default disk
//! (which orders nothing) breaks it.
//!
//! The story these guard: SQLite in rollback-journal mode commits a shrinking transaction by
//! deleting its journal, then truncates the database with no sync between. On a disk that keeps
//! the truncation and loses the deletion, the hot journal cannot restore the pages the truncation
//! dropped. ext4 and XFS journal metadata in order and never show that disk; POSIX allows it.

use std::path::Path;

use faultfs::{CrashPolicy, DiskImage, Event, EventOp, Fs, SimFs};

use crate::util::{durable_file, seeds};

const POLICIES: [CrashPolicy; 2] = [
    CrashPolicy::Torn { sector: 512 },
    CrashPolicy::Reorder { sector: 512 },
];

/// A durable database and hot journal; then the journal is deleted (the commit) and the
/// database cut to a quarter, nothing synced.
fn commit_then_truncate(ordered: bool, atomic: bool) -> SimFs {
    let fs = SimFs::new();
    fs.set_ordered_metadata(ordered);
    fs.set_atomic_sectors(atomic);
    fs.create_dir_all(Path::new("d")).unwrap();
    fs.sync_dir(Path::new("")).unwrap();
    durable_file(&fs, "d/db", &[7; 4096]);
    durable_file(&fs, "d/journal", &[1; 512]);
    fs.remove(Path::new("d/journal")).unwrap();
    fs.open(Path::new("d/db")).unwrap().set_len(1024).unwrap();
    fs
}

/// (journal still there, truncation kept) on a disk image.
fn shape(image: &DiskImage) -> (bool, bool) {
    let journal = image.file("d/journal").is_some();
    let cut = image.file("d/db").map(<[u8]>::len) == Some(1024);
    (journal, cut)
}

/// (journal still there, truncation kept) after a sampled reboot.
fn shape_after_reboot(fs: &SimFs) -> (bool, bool) {
    let journal = fs.exists(Path::new("d/journal")).unwrap();
    let cut = fs.open(Path::new("d/db")).unwrap().len().unwrap() == 1024;
    (journal, cut)
}

#[test]
fn ordered_metadata_never_keeps_the_truncation_without_the_earlier_deletion() {
    for atomic in [false, true] {
        for policy in POLICIES {
            for seed in 0..seeds(200) {
                let fs = commit_then_truncate(true, atomic);
                fs.reboot(policy, seed);
                assert_ne!(
                    shape_after_reboot(&fs),
                    (true, true),
                    "{policy:?} seed {seed} atomic {atomic}"
                );
            }
            let images = commit_then_truncate(true, atomic).crash_images(policy, 64);
            let shapes: Vec<_> = images.iter().map(shape).collect();
            assert!(!shapes.contains(&(true, true)), "{policy:?}: {shapes:?}");
            // Every prefix is still a disk the crash can leave: nothing, the deletion, both.
            for prefix in [(true, false), (false, false), (false, true)] {
                assert!(shapes.contains(&prefix), "{policy:?} lacks {prefix:?}");
            }
        }
    }
}

#[test]
fn unordered_metadata_can_keep_the_truncation_and_lose_the_deletion() {
    for policy in POLICIES {
        let sampled = (0..seeds(200)).any(|seed| {
            let fs = commit_then_truncate(false, false);
            fs.reboot(policy, seed);
            shape_after_reboot(&fs) == (true, true)
        });
        assert!(
            sampled,
            "{policy:?}: no seed kept the cut without the deletion"
        );
        let images = commit_then_truncate(false, false).crash_images(policy, 64);
        assert!(
            images.iter().any(|i| shape(i) == (true, true)),
            "{policy:?}"
        );
    }
}

/// Order holds across files: a later file's `set_len` never survives an earlier one's loss.
#[test]
fn ordered_metadata_orders_set_lens_across_files() {
    let build = || {
        let fs = SimFs::new();
        fs.set_ordered_metadata(true);
        durable_file(&fs, "a", &[1; 1024]);
        durable_file(&fs, "b", &[2; 1024]);
        fs.open(Path::new("a")).unwrap().set_len(100).unwrap();
        fs.open(Path::new("b")).unwrap().set_len(200).unwrap();
        fs
    };
    let lens = |image: &DiskImage| {
        let a = image.file("a").map(<[u8]>::len);
        let b = image.file("b").map(<[u8]>::len);
        (a == Some(100), b == Some(200))
    };
    for policy in POLICIES {
        let shapes: Vec<_> = build().crash_images(policy, 64).iter().map(lens).collect();
        assert!(!shapes.contains(&(false, true)), "{policy:?}: {shapes:?}");
        assert!(shapes.contains(&(true, false)), "{policy:?}: {shapes:?}");
        for seed in 0..seeds(100) {
            let fs = build();
            fs.reboot(policy, seed);
            assert_ne!(
                lens(&fs.durable_image()),
                (false, true),
                "{policy:?} {seed}"
            );
        }
    }
}

/// Under Torn a file keeps a prefix of its changes: when ordering drops its `set_len`, the
/// write it issued after the `set_len` goes too.
#[test]
fn ordered_metadata_under_torn_drops_a_files_later_writes_with_its_set_len() {
    let fs = SimFs::new();
    fs.set_ordered_metadata(true);
    durable_file(&fs, "old", b"o");
    durable_file(&fs, "f", &[3; 1024]);
    fs.remove(Path::new("old")).unwrap();
    let f = fs.open(Path::new("f")).unwrap();
    f.set_len(512).unwrap();
    f.write_at(0, &[9; 16]).unwrap();
    for image in fs.crash_images(CrashPolicy::Torn { sector: 512 }, 64) {
        let removed = image.file("old").is_none();
        let bytes = image.file("f").unwrap();
        if !removed {
            assert_eq!(
                bytes,
                &[3; 1024][..],
                "the set_len and the later write are lost"
            );
        }
    }
}

#[test]
fn ordered_metadata_is_off_by_default_recorded_in_the_reboot_and_kept_by_fork() {
    let fs = SimFs::new();
    assert!(!fs.ordered_metadata());
    fs.set_ordered_metadata(true);
    fs.reboot(CrashPolicy::Strict, 0);
    assert!(fs.ordered_metadata());
    assert!(fs.fork().ordered_metadata());
    let recorded =
        |e: &Event| matches!(&e.op, EventOp::Reboot { outcome, .. } if outcome.ordered_metadata);
    assert!(fs.events().iter().any(recorded));
    let plain = SimFs::new();
    plain.reboot(CrashPolicy::Strict, 0);
    assert!(!plain.events().iter().any(recorded));
}
