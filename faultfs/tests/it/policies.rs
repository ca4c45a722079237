//! What each crash policy lets survive: Torn tears, Reorder reorders, renames stay atomic.

use std::path::Path;

use faultfs::{
    ChangeKind, CrashPolicy, EventOp, FilePiece, Fs, NamespaceOp, PieceFate, RebootDecision, SimFs,
};

use crate::util::{POLICIES, content, disk, durable_file, seeds};

/// The CURRENT-pointer update every LSM engine does: write a temp file, sync it, rename it over
/// CURRENT, sync the directory. A crash anywhere in it must leave the old or the new pointer.
fn replace_current(fs: &SimFs) -> std::io::Result<()> {
    let tmp = fs.create(Path::new("CURRENT.tmp"))?;
    tmp.write_at(0, b"MANIFEST-000002\n")?;
    tmp.sync()?;
    fs.rename(Path::new("CURRENT.tmp"), Path::new("CURRENT"))?;
    fs.sync_dir(Path::new(""))
}

#[test]
fn current_style_replace_gives_old_or_new_never_neither() {
    let old = b"MANIFEST-000001\n".to_vec();
    let new = b"MANIFEST-000002\n".to_vec();
    for policy in POLICIES {
        for cut in 0..=6u64 {
            for seed in 0..seeds(40) {
                let fs = SimFs::new();
                durable_file(&fs, "CURRENT", &old);
                fs.crash_after_ops(cut);
                let _ = replace_current(&fs);
                fs.reboot(policy, seed);
                let got = content(&fs, "CURRENT");
                assert!(
                    got.as_ref() == Some(&old) || got.as_ref() == Some(&new),
                    "{policy} cut {cut} seed {seed}: CURRENT is {got:?}"
                );
            }
        }
    }
}

#[test]
fn rename_without_synced_data_can_leave_an_empty_target_under_reorder() {
    // The bug the sync before the rename prevents: the rename reaches the disk, the data does not.
    let mut saw_empty = false;
    for seed in 0..200 {
        let fs = SimFs::new();
        durable_file(&fs, "CURRENT", b"old");
        let tmp = fs.create(Path::new("CURRENT.tmp")).unwrap();
        tmp.write_at(0, b"new").unwrap();
        fs.rename(Path::new("CURRENT.tmp"), Path::new("CURRENT"))
            .unwrap();
        fs.reboot(CrashPolicy::Reorder { sector: 512 }, seed);
        let got = content(&fs, "CURRENT").unwrap();
        assert!(got == b"old" || got == b"new" || got.is_empty(), "{got:?}");
        saw_empty |= got.is_empty();
    }
    assert!(saw_empty);
}

/// Appends `records` 8-byte records to a synced, named log and crashes without syncing them.
fn log_with_pending_appends(records: u64) -> SimFs {
    let fs = SimFs::new();
    durable_file(&fs, "wal", b"");
    let file = fs.open(Path::new("wal")).unwrap();
    for i in 0..records {
        file.write_at(i * 8, &[b'a' + i as u8; 8]).unwrap();
    }
    fs
}

#[test]
fn torn_tears_some_seed_leaves_a_partial_last_sector() {
    let mut torn = 0;
    for seed in 0..seeds(200) {
        let fs = SimFs::new();
        durable_file(&fs, "wal", b"");
        let file = fs.open(Path::new("wal")).unwrap();
        // One 32-byte write across four 8-byte sectors.
        file.write_at(0, b"AAAAAAAABBBBBBBBCCCCCCCCDDDDDDDD")
            .unwrap();
        fs.reboot(CrashPolicy::Torn { sector: 8 }, seed);
        let got = content(&fs, "wal").unwrap();
        let full = b"AAAAAAAABBBBBBBBCCCCCCCCDDDDDDDD";
        if !got.is_empty() && got.as_slice() != full {
            // A torn write: whole sectors of the prefix, then one sector of zeros or garbage
            // (or a clean cut at a sector boundary).
            assert_eq!(got.len() % 8, 0);
            let whole = got.len() / 8 - 1;
            assert_eq!(&got[..whole * 8], &full[..whole * 8]);
            torn += 1;
        }
    }
    assert!(torn > 0, "no seed tore the write");
}

#[test]
fn torn_keeps_a_prefix_of_each_files_writes() {
    for seed in 0..seeds(200) {
        let fs = log_with_pending_appends(6);
        fs.reboot(CrashPolicy::Torn { sector: 8 }, seed);
        let got = content(&fs, "wal").unwrap();
        // Every record is one sector: it survives whole, not at all, or as a zero/garbage sector
        // at the very end.
        let records = got.len() / 8;
        for i in 0..records.saturating_sub(1) {
            assert_eq!(&got[i * 8..i * 8 + 8], &[b'a' + i as u8; 8], "seed {seed}");
        }
    }
}

#[test]
fn reorder_reorders_some_seed_keeps_a_later_sector_and_loses_an_earlier_one() {
    let mut reordered = false;
    for seed in 0..seeds(200) {
        let fs = log_with_pending_appends(4);
        fs.reboot(CrashPolicy::Reorder { sector: 8 }, seed);
        let got = content(&fs, "wal").unwrap();
        if got.len() == 32 {
            let first_lost = got[..8] == [0; 8];
            let last_kept = got[24..] == [b'd'; 8];
            reordered |= first_lost && last_kept;
        }
    }
    assert!(
        reordered,
        "no seed kept a later sector while losing an earlier one"
    );
}

#[test]
fn torn_keeps_a_prefix_of_each_directorys_operations() {
    for seed in 0..seeds(200) {
        let fs = SimFs::new();
        for name in ["1", "2", "3", "4"] {
            fs.create(Path::new(name)).unwrap();
        }
        fs.reboot(CrashPolicy::Torn { sector: 512 }, seed);
        let names = fs.list(Path::new("")).unwrap();
        let expected: Vec<String> = ["1", "2", "3", "4"][..names.len()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(names, expected, "seed {seed}");
    }
}

#[test]
fn reboot_event_says_what_was_kept_and_dropped() {
    let fs = log_with_pending_appends(2);
    fs.create(Path::new("new-file")).unwrap();
    fs.reboot(CrashPolicy::Strict, 7);
    let events = fs.events();
    let EventOp::Reboot {
        policy,
        seed,
        outcome,
    } = &events.last().unwrap().op
    else {
        panic!("last event is not a reboot");
    };
    assert_eq!((*policy, *seed), (CrashPolicy::Strict, 7));
    assert!(
        outcome.decisions.contains(&RebootDecision::File {
            path: "wal".into(),
            changes: 2,
            pieces: vec![FilePiece {
                offset: 0,
                len: 16,
                change: ChangeKind::Write,
                fate: PieceFate::Dropped,
            }],
        }),
        "{outcome:?}"
    );
    assert!(
        outcome.decisions.contains(&RebootDecision::Namespace {
            op: NamespaceOp::Create {
                path: "new-file".into()
            },
            kept: false,
        }),
        "{outcome:?}"
    );
    let line = outcome.to_string();
    assert!(line.contains("file wal: dropped all 2"), "{line}");
    assert!(line.contains("dropped create new-file"), "{line}");
}

#[test]
fn torn_outcome_names_the_torn_offset() {
    let mut saw = false;
    for seed in 0..100 {
        let fs = SimFs::new();
        durable_file(&fs, "wal", b"");
        let file = fs.open(Path::new("wal")).unwrap();
        file.write_at(0, &[1; 32]).unwrap();
        fs.reboot(CrashPolicy::Torn { sector: 8 }, seed);
        let events = fs.events();
        if let EventOp::Reboot { outcome, .. } = &events.last().unwrap().op {
            let line = outcome.to_string();
            saw |= line.contains("torn (zeros)") || line.contains("torn (garbage)");
        }
    }
    assert!(saw);
}

#[test]
fn keep_all_equals_the_live_state() {
    let fs = log_with_pending_appends(5);
    fs.create_dir_all(Path::new("d/e")).unwrap();
    fs.rename(Path::new("wal"), Path::new("d/e/wal")).unwrap();
    let live = content(&fs, "d/e/wal");
    fs.reboot(CrashPolicy::KeepAll, 0);
    assert_eq!(content(&fs, "d/e/wal"), live);
    assert_eq!(disk(&fs).paths().count(), 1);
}
