//! Readers during writes, flushes and compactions always see one consistent snapshot: a writer
//! moves units between two accounts in atomic batches, so every read must see the same total.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use engine::{Background, Options, WriteBatch};

use crate::common::*;

const ACCOUNTS: u32 = 40;
const TOTAL: i64 = ACCOUNTS as i64 * 100;

fn balance(v: &[u8]) -> i64 {
    std::str::from_utf8(v).unwrap().trim().parse().unwrap()
}

fn encode(n: i64) -> Vec<u8> {
    // Padded so values are big enough to fill memtables quickly.
    format!("{n:>12}{}", " ".repeat(100)).into_bytes()
}

#[test]
fn readers_see_consistent_snapshots_during_writes_and_compactions() {
    let t = TestDir::new();
    let options = Options {
        background: Background::Threads,
        memtable_bytes: 8 << 10,
        ..small_options()
    };
    let db = Arc::new(t.open(options).unwrap());
    let mut init = WriteBatch::new();
    for a in 0..ACCOUNTS {
        init.put(key(a), encode(100));
    }
    db.write(&init, NOSYNC).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut checks = 0u64;
                while !stop.load(Ordering::Relaxed) || checks < 10 {
                    let rows = db.scan(Bound::Unbounded, Bound::Unbounded).unwrap();
                    assert_eq!(rows.len(), ACCOUNTS as usize);
                    let sum: i64 = rows.iter().map(|(_, v)| balance(v)).sum();
                    assert_eq!(sum, TOTAL, "scan saw a torn batch");
                    checks += 1;
                }
                checks
            })
        })
        .collect();
    let mut state: Vec<i64> = vec![100; ACCOUNTS as usize];
    for i in 0..4000u32 {
        let (from, to) = ((i * 7) % ACCOUNTS, (i * 13 + 1) % ACCOUNTS);
        if from == to {
            continue;
        }
        state[from as usize] -= 3;
        state[to as usize] += 3;
        let mut b = WriteBatch::new();
        b.put(key(from), encode(state[from as usize]));
        b.put(key(to), encode(state[to as usize]));
        db.write(&b, NOSYNC).unwrap();
        if i % 1000 == 999 {
            db.force_compact().unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() >= 10);
    }
    db.close().unwrap();
}
