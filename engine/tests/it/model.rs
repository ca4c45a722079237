//! The engine against a BTreeMap model over random puts, deletes, batches, scans, flushes,
//! compactions and clean reopens. Every read must match the model exactly.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use engine::{CompactionStyle, Db, Options, WriteBatch};
use faultfs::Fs;
use proptest::prelude::*;

use crate::common::*;

#[derive(Clone, Debug)]
pub enum Op {
    Put(u8, u16),
    Delete(u8),
    Batch(Vec<(u8, Option<u16>)>),
    Get(u8),
    Scan(u8, u8),
    Flush,
    Compact,
    Sync,
    Reopen,
}

pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::Put(k, v)),
        8 => any::<u8>().prop_map(Op::Delete),
        6 => prop::collection::vec((any::<u8>(), prop::option::of(any::<u16>())), 1..6).prop_map(Op::Batch),
        8 => any::<u8>().prop_map(Op::Get),
        4 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::Scan(a.min(b), a.max(b))),
        2 => Just(Op::Flush),
        1 => Just(Op::Compact),
        2 => Just(Op::Sync),
        1 => Just(Op::Reopen),
    ]
}

fn k(i: u8) -> Vec<u8> {
    format!("k{:03}", i % 97).into_bytes()
}

fn v(x: u16) -> Vec<u8> {
    format!("v{x}{}", "-".repeat((x % 40) as usize)).into_bytes()
}

/// Runs `ops` on a fresh database on `fs` and checks every read against the model.
pub fn run_against_model(fs: Arc<dyn Fs>, options: Options, ops: &[Op]) {
    let mut db = Db::open(Arc::clone(&fs), DB, options.clone()).unwrap();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for op in ops {
        match op {
            Op::Put(key, val) => {
                db.put(&k(*key), &v(*val), NOSYNC).unwrap();
                model.insert(k(*key), v(*val));
            }
            Op::Delete(key) => {
                db.delete(&k(*key), NOSYNC).unwrap();
                model.remove(&k(*key));
            }
            Op::Batch(items) => {
                let mut b = WriteBatch::new();
                for (key, val) in items {
                    match val {
                        Some(x) => {
                            b.put(k(*key), v(*x));
                            model.insert(k(*key), v(*x));
                        }
                        None => {
                            b.delete(k(*key));
                            model.remove(&k(*key));
                        }
                    }
                }
                db.write(&b, SYNC).unwrap();
            }
            Op::Get(key) => assert_eq!(db.get(&k(*key)).unwrap(), model.get(&k(*key)).cloned()),
            Op::Scan(a, b) => {
                let (lo, hi) = (k(*a).min(k(*b)), k(*a).max(k(*b)));
                let got = db.scan(Bound::Included(&lo), Bound::Excluded(&hi)).unwrap();
                let want: Vec<_> = model
                    .range::<Vec<u8>, _>((Bound::Included(&lo), Bound::Excluded(&hi)))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(got, want);
            }
            Op::Flush => db.flush().unwrap(),
            Op::Compact => db.force_compact().unwrap(),
            Op::Sync => db.sync().unwrap(),
            Op::Reopen => {
                db.close().unwrap();
                drop(db);
                db = Db::open(Arc::clone(&fs), DB, options.clone()).unwrap();
                db.check_invariants().unwrap();
            }
        }
    }
    let got: BTreeMap<_, _> = all(&db).into_iter().collect();
    assert_eq!(got, model);
    db.close().unwrap();
    let db = Db::open(fs, DB, options).unwrap();
    db.check_invariants().unwrap();
    let got: BTreeMap<_, _> = all(&db).into_iter().collect();
    assert_eq!(got, model);
}

pub fn cases() -> u32 {
    std::env::var("POWERCUT_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16)
}

pub fn options_strategy() -> impl Strategy<Value = Options> {
    (
        any::<bool>(),
        any::<bool>(),
        1usize..4,
        any::<bool>(),
        prop::sample::select(vec![600usize, 2048]),
    )
        .prop_map(|(tiered, wal, trigger, threads, memtable_bytes)| Options {
            compaction: if tiered {
                CompactionStyle::Tiered
            } else {
                CompactionStyle::Leveled
            },
            wal,
            l0_compaction_trigger: trigger,
            memtable_bytes,
            background: if threads {
                engine::Background::Threads
            } else {
                engine::Background::Inline
            },
            ..small_options()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_a_btreemap_on_a_real_directory(
        options in options_strategy(),
        ops in prop::collection::vec(op(), 1..300),
    ) {
        let t = TestDir::new();
        run_against_model(Arc::clone(&t.fs), options, &ops);
    }
}
