//! The `Reboot` event's typed decisions: exact byte ranges per file, paths per namespace
//! operation, and the sector model, so a report can draw what a crash did without parsing text.

use std::path::Path;

use faultfs::{
    ChangeKind, CrashPolicy, EventOp, FilePiece, Fs, NamespaceOp, PieceFate, RebootDecision,
    RebootOutcome, SimFs,
};

use crate::util::{content, durable_file};

/// The outcome of the last reboot.
fn last_outcome(fs: &SimFs) -> RebootOutcome {
    fs.with_events(|events| {
        events
            .iter()
            .rev()
            .find_map(|e| match &e.op {
                EventOp::Reboot { outcome, .. } => Some(outcome.clone()),
                _ => None,
            })
            .unwrap()
    })
}

/// The pieces decided for `path`.
fn pieces_of(outcome: &RebootOutcome, path: &str) -> Vec<FilePiece> {
    outcome
        .decisions
        .iter()
        .find_map(|d| match d {
            RebootDecision::File {
                path: p, pieces, ..
            } if p == path => Some(pieces.clone()),
            _ => None,
        })
        .unwrap()
}

/// The fate of the last write piece covering byte `pos`, if any covers it.
fn fate_at(pieces: &[FilePiece], pos: u64) -> Option<PieceFate> {
    pieces
        .iter()
        .rev()
        .find(|p| p.change == ChangeKind::Write && (p.offset..p.offset + p.len).contains(&pos))
        .map(|p| p.fate)
}

#[test]
fn reboot_decisions_account_for_every_byte_of_a_torn_or_reordered_write() {
    // 64 durable bytes of 'o'; 40 bytes of 'n' over 12..52, across six 8-byte sectors.
    for policy in [
        CrashPolicy::Torn { sector: 8 },
        CrashPolicy::Reorder { sector: 8 },
    ] {
        let mut fates_seen = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let fs = SimFs::new();
            durable_file(&fs, "f", &[b'o'; 64]);
            fs.open(Path::new("f"))
                .unwrap()
                .write_at(12, &[b'n'; 40])
                .unwrap();
            fs.reboot(policy, seed);
            let got = content(&fs, "f").unwrap();
            let pieces = pieces_of(&last_outcome(&fs), "f");
            let covered: u64 = pieces.iter().map(|p| p.len).sum();
            assert_eq!(covered, 40, "{policy} seed {seed}: {pieces:?}");
            for (pos, byte) in got.iter().enumerate() {
                let fate = fate_at(&pieces, pos as u64);
                let expected = match fate {
                    None | Some(PieceFate::Dropped) => Some(b'o'),
                    Some(PieceFate::Kept) => Some(b'n'),
                    Some(PieceFate::TornZeros) => Some(0),
                    Some(PieceFate::TornGarbage) => None,
                };
                if let Some(expected) = expected {
                    assert_eq!(
                        *byte, expected,
                        "{policy} seed {seed} byte {pos}: {pieces:?}"
                    );
                } else {
                    assert!(
                        *byte != 0,
                        "{policy} seed {seed} byte {pos} is garbage yet zero"
                    );
                }
                fates_seen.extend(fate);
            }
        }
        assert!(fates_seen.contains(&PieceFate::Kept), "{policy}");
        assert!(fates_seen.contains(&PieceFate::Dropped), "{policy}");
    }
}

#[test]
fn reboot_decisions_record_each_namespace_operation_with_its_paths_in_order() {
    let ops = [
        NamespaceOp::Mkdir { path: "d".into() },
        NamespaceOp::Create { path: "d/a".into() },
        NamespaceOp::Rename {
            from: "d/a".into(),
            to: "d/b".into(),
        },
        NamespaceOp::Remove { path: "x".into() },
    ];
    for (policy, kept) in [(CrashPolicy::Strict, false), (CrashPolicy::KeepAll, true)] {
        let fs = SimFs::new();
        durable_file(&fs, "x", b"");
        fs.create_dir_all(Path::new("d")).unwrap();
        fs.create(Path::new("d/a")).unwrap();
        fs.rename(Path::new("d/a"), Path::new("d/b")).unwrap();
        fs.remove(Path::new("x")).unwrap();
        fs.reboot(policy, 0);
        let expected: Vec<RebootDecision> = ops
            .iter()
            .map(|op| RebootDecision::Namespace {
                op: op.clone(),
                kept,
            })
            .collect();
        assert_eq!(last_outcome(&fs).decisions, expected, "{policy}");
    }
}

#[test]
fn reboot_decisions_show_a_set_len_as_a_piece_at_the_length_it_sets() {
    let fs = SimFs::new();
    durable_file(&fs, "f", &[b'o'; 16]);
    let file = fs.open(Path::new("f")).unwrap();
    file.write_at(0, b"abcd").unwrap();
    file.set_len(10).unwrap();
    file.write_at(4, b"efgh").unwrap();
    fs.reboot(CrashPolicy::KeepAll, 0);
    let write = |offset, len| FilePiece {
        offset,
        len,
        change: ChangeKind::Write,
        fate: PieceFate::Kept,
    };
    let set_len = FilePiece {
        offset: 10,
        len: 0,
        change: ChangeKind::SetLen,
        fate: PieceFate::Kept,
    };
    // The set_len between them keeps the two writes apart although their ranges touch.
    assert_eq!(
        pieces_of(&last_outcome(&fs), "f"),
        vec![write(0, 4), set_len, write(4, 4)]
    );
}

#[test]
fn reboot_decisions_merge_neighbouring_pieces_with_the_same_fate() {
    let fs = SimFs::new();
    durable_file(&fs, "wal", b"");
    let file = fs.open(Path::new("wal")).unwrap();
    for i in 0..4u64 {
        file.write_at(i * 512, &[1; 512]).unwrap();
    }
    fs.reboot(CrashPolicy::Reorder { sector: 512 }, 0);
    let pieces = pieces_of(&last_outcome(&fs), "wal");
    assert!(
        pieces.windows(2).all(|w| w[0].fate != w[1].fate),
        "{pieces:?}"
    );
    assert_eq!(pieces.iter().map(|p| p.len).sum::<u64>(), 2048);
}

#[test]
fn reboot_event_records_whether_sectors_were_atomic() {
    let run = |atomic: bool| {
        let fs = SimFs::new();
        fs.set_atomic_sectors(atomic);
        durable_file(&fs, "f", b"x");
        fs.reboot(CrashPolicy::Strict, 0);
        fs
    };
    let (tearing, atomic) = (run(false), run(true));
    assert!(!last_outcome(&tearing).atomic_sectors);
    assert!(last_outcome(&atomic).atomic_sectors);
    assert!(last_outcome(&atomic).to_string().contains("sectors atomic"));
    assert!(
        !last_outcome(&tearing)
            .to_string()
            .contains("sectors atomic")
    );
    // The same operations and seed: only the sector model tells the traces apart.
    assert_ne!(tearing.trace_hash(), atomic.trace_hash());
}

#[test]
fn reboot_decisions_never_show_a_torn_piece_under_atomic_sectors() {
    for seed in 0..200 {
        let fs = SimFs::new();
        fs.set_atomic_sectors(true);
        durable_file(&fs, "f", &[b'o'; 64]);
        fs.open(Path::new("f"))
            .unwrap()
            .write_at(12, &[b'n'; 40])
            .unwrap();
        fs.reboot(CrashPolicy::Torn { sector: 8 }, seed);
        let pieces = pieces_of(&last_outcome(&fs), "f");
        assert!(
            pieces
                .iter()
                .all(|p| matches!(p.fate, PieceFate::Kept | PieceFate::Dropped)),
            "seed {seed}: {pieces:?}"
        );
    }
}

#[test]
fn a_reboot_with_nothing_pending_says_so() {
    let fs = SimFs::new();
    durable_file(&fs, "f", b"x");
    fs.reboot(CrashPolicy::Torn { sector: 512 }, 3);
    let outcome = last_outcome(&fs);
    assert!(outcome.decisions.is_empty());
    assert_eq!(
        outcome.to_string(),
        "nothing pending: the disk is exactly its durable state"
    );
}
