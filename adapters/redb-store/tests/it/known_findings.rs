//! What the crash sweep finds in redb 4.6, each pinned as a test that reproduces it on purpose.
//! If one of these starts failing, redb changed: re-read the finding before touching the test.

use std::sync::{Arc, Mutex, PoisonError};

use faultfs::{CrashPolicy, EventOp, SimFs};
use redb_store::RedbConfig;

use crate::support::{all, magic_intact, open_sim, pairs, put};

/// The mutating operations of one uncut run of `script`, by crash-point index.
fn mutating_ops(script: impl FnOnce(&SimFs)) -> Vec<(u64, EventOp)> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let fs = SimFs::new();
    let sink = Arc::clone(&seen);
    fs.set_mutation_hook(Some(Box::new(move |point| {
        sink.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((point.op_index, point.op.clone()));
    })));
    script(&fs);
    fs.set_mutation_hook(None);
    seen.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// redb creates a database in steps: it sizes the file (`set_len`), writes a header without
/// the magic number and fsyncs, and only then writes the magic number and fsyncs again, so that
/// a file with the magic number is always fully initialized. But nothing recognises a file that
/// got through the first step only: a non-empty file without the magic number is "Not a redb
/// database: magic number mismatch" to `open` and to `create` alike, forever. So a power cut
/// after the sized file reached the disk and before the magic number did leaves a directory that
/// no later open accepts, although no write was ever acknowledged.
///
/// The store syncs the directory only after redb's first open returns, so on a strict disk the
/// half-made file's name vanishes and the next open starts afresh; any policy that keeps unsynced
/// changes (here `KeepAll`, a process kill) keeps the half-made file. The sweep sees the same at
/// the same cuts under `Reorder` and `Torn`.
#[test]
fn a_cut_during_the_first_create_leaves_a_file_that_no_later_open_accepts() {
    let config = RedbConfig::default();
    let ops = mutating_ops(|fs| {
        let kv = open_sim(fs, &config).expect("uncut open");
        // Cut before the drop, whose clean close would add operations of its own.
        fs.power_off();
        drop(kv);
    });
    let set_len_at = ops
        .iter()
        .find(|(_, op)| matches!(op, EventOp::SetLen { .. }))
        .map(|(i, _)| *i)
        .expect("redb sizes the new file");
    let header_writes: Vec<u64> = ops
        .iter()
        .filter(|(_, op)| matches!(op, EventOp::Write { offset: 0, .. }))
        .map(|(i, _)| *i)
        .collect();
    // The first header write lacks the magic number; the second adds it.
    let magic_write_at = header_writes[1];

    for (policy, expected_refusals) in [
        (
            CrashPolicy::KeepAll,
            (set_len_at + 1..=magic_write_at).collect(),
        ),
        (CrashPolicy::Strict, Vec::new()),
    ] {
        let mut refused = Vec::new();
        for n in 0..ops.len() as u64 {
            let fs = SimFs::new();
            fs.crash_after_ops(n);
            let err = open_sim(&fs, &config).expect_err("the cut falls inside the open");
            assert!(err.is_power_loss(), "{err}");
            fs.reboot(policy, n);
            if let Err(err) = open_sim(&fs, &config) {
                assert!(err.is_damage(), "{policy:?} cut after {n}: {err}");
                assert!(
                    !magic_intact(&fs),
                    "refused for another reason than the magic"
                );
                let again = open_sim(&fs, &config).expect_err("no later open accepts it");
                assert!(again.is_damage(), "{again}");
                refused.push(n);
            }
        }
        assert_eq!(refused, expected_refusals, "{policy:?}");
    }
}

/// redb rewrites its whole 320-byte header, magic number and both commit slots, at offset 0 with
/// every durable commit, and keeps no second copy. Its design document assumes a byte is written
/// whole or not at all. A disk whose sector can come back zeroed or full of garbage when the
/// power goes mid-write (faultfs's `Torn`) breaks that assumption, and when the torn sector is
/// the header's, the magic number and both slots go at once: every committed write is lost and
/// the file is refused as "not a redb database". A disk that keeps each sector whole
/// (`Reorder { sector: 512 }`, same cut, same seeds) never loses it.
#[test]
fn a_torn_header_sector_loses_every_committed_write() {
    let config = RedbConfig::default();
    let script = |fs: &SimFs| {
        let mut kv = open_sim(fs, &config).expect("open");
        kv.write(&[put("a", "1")], true)
            .expect("first synced write");
        let _ = kv.write(&[put("b", "2")], true);
        // Cut before the drop, whose clean close would add operations of its own.
        fs.power_off();
    };
    let ops = mutating_ops(script);
    // The cut falls on the second commit's fsync: its header and pages were written, none synced.
    let (last_sync, _) = ops
        .iter()
        .rev()
        .find(|(_, op)| matches!(op, EventOp::Sync { .. }))
        .expect("a commit syncs");

    let mut torn_seeds = Vec::new();
    for policy in [
        CrashPolicy::Torn { sector: 512 },
        CrashPolicy::Reorder { sector: 512 },
    ] {
        for seed in 0..64 {
            let fs = SimFs::new();
            fs.crash_after_ops(*last_sync);
            script(&fs);
            fs.reboot(policy, seed);
            match open_sim(&fs, &config) {
                Ok(kv) => {
                    let found = all(&kv).expect("scan");
                    let first_only = pairs(&[("a", "1")]);
                    let both = pairs(&[("a", "1"), ("b", "2")]);
                    assert!(found == first_only || found == both, "{policy:?} {seed}");
                }
                Err(err) => {
                    assert!(
                        err.is_damage() && !magic_intact(&fs),
                        "{policy:?} {seed}: {err}"
                    );
                    assert!(
                        matches!(policy, CrashPolicy::Torn { .. }),
                        "{policy:?} keeps sectors whole, yet seed {seed} lost the header"
                    );
                    torn_seeds.push(seed);
                }
            }
        }
    }
    eprintln!("torn header at cut {last_sync}, seeds {torn_seeds:?} of 0..64");
    assert!(
        !torn_seeds.is_empty(),
        "no seed tore the header: redb or faultfs changed"
    );
}
