//! The engine on SimFs: the model test without crashes, crash smoke tests, and a sweep that cuts
//! the power after every mutating call under every crash policy and checks that recovery yields
//! a prefix of the history no shorter than the last durable point (DESIGN section 4).

use std::collections::BTreeMap;
use std::sync::Arc;

use engine::{Db, Error, Options};
use faultfs::{CrashPolicy, Fault, Fs, FsyncMode, IoOp, PathPattern, SimFs};
use proptest::prelude::*;

use crate::common::*;
use crate::failures::{workload_step, workload_step_model_only};
use crate::model::{cases, op, options_strategy, run_against_model};

fn sim(seed: u64) -> (SimFs, Arc<dyn Fs>) {
    let fs = SimFs::with_seed(seed);
    let dynfs: Arc<dyn Fs> = Arc::new(fs.clone());
    (fs, dynfs)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_a_btreemap_on_simfs(
        options in options_strategy(),
        ops in prop::collection::vec(op(), 1..300),
    ) {
        let (_, fs) = sim(1);
        run_against_model(fs, options, &ops);
    }
}

#[test]
fn synced_writes_survive_a_strict_power_cut() {
    let (fs, dynfs) = sim(7);
    let db = Db::open(Arc::clone(&dynfs), DB, small_options()).unwrap();
    for i in 0..100 {
        db.put(&key(i), &value(i, 0), SYNC).unwrap();
    }
    db.put(b"unsynced", b"maybe", NOSYNC).unwrap();
    fs.power_off();
    let err = db.put(b"after", b"cut", SYNC).unwrap_err();
    assert!(err.is_power_loss(), "{err}");
    let later = db.put(b"later", b"still cut", NOSYNC).unwrap_err();
    assert!(matches!(later, Error::Poisoned { .. }), "{later}");
    assert!(
        later.is_power_loss(),
        "a refusal caused by the power cut says so"
    );
    drop(db);
    fs.reboot(CrashPolicy::Strict, 1);
    let db = Db::open(dynfs, DB, small_options()).unwrap();
    db.check_invariants().unwrap();
    for i in 0..100 {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 0)));
    }
    assert_eq!(
        db.get(b"unsynced").unwrap(),
        None,
        "Strict keeps nothing unsynced"
    );
}

#[test]
fn unsynced_writes_survive_once_sync_returns() {
    let (fs, dynfs) = sim(8);
    let db = Db::open(Arc::clone(&dynfs), DB, small_options()).unwrap();
    for i in 0..300 {
        db.put(&key(i), &value(i, 0), NOSYNC).unwrap();
    }
    db.sync().unwrap();
    fs.power_off();
    drop(db);
    fs.reboot(CrashPolicy::Strict, 2);
    let db = Db::open(dynfs, DB, small_options()).unwrap();
    assert_eq!(all(&db).len(), 300);
}

#[test]
fn failed_fsync_poisons_and_is_never_retried() {
    for mode in [
        FsyncMode::MarkClean,
        FsyncMode::ReportLater,
        FsyncMode::Revert,
    ] {
        let (fs, dynfs) = sim(9);
        let db = Db::open(Arc::clone(&dynfs), DB, small_options()).unwrap();
        db.put(b"before", b"1", SYNC).unwrap();
        fs.inject(Fault::FsyncFailure {
            path: PathPattern("*.wal".into()),
            nth: 1,
            mode,
        });
        let mut acked = Vec::new();
        let mut failed = false;
        for i in 0..20 {
            match db.put(&key(i), &value(i, 0), SYNC) {
                Ok(()) if !failed => acked.push(i),
                Ok(()) => panic!("{mode:?}: a write was acknowledged after a failed fsync"),
                Err(e) => {
                    failed = true;
                    assert!(
                        matches!(e, Error::Io { .. } | Error::Poisoned { .. }),
                        "{e}"
                    );
                }
            }
        }
        assert!(failed, "{mode:?}: the fsync failure never surfaced");
        fs.power_off();
        drop(db);
        fs.reboot(CrashPolicy::Strict, 3);
        let db = Db::open(dynfs, DB, small_options()).unwrap();
        assert_eq!(db.get(b"before").unwrap(), Some(b"1".to_vec()));
        for i in acked {
            assert_eq!(
                db.get(&key(i)).unwrap(),
                Some(value(i, 0)),
                "{mode:?}: acked key {i} lost"
            );
        }
    }
}

#[test]
fn write_error_on_an_sst_poisons_the_engine() {
    let (fs, dynfs) = sim(10);
    let db = Db::open(dynfs, DB, small_options()).unwrap();
    fs.inject(Fault::IoError {
        op: IoOp::Write,
        path: PathPattern("*.sst".into()),
        nth: 1,
    });
    let mut saw = None;
    for i in 0..500 {
        if let Err(e) = db.put(&key(i), &value(i, 0), NOSYNC) {
            saw = Some(e);
            break;
        }
    }
    assert!(matches!(saw, Some(Error::Io { .. })), "{saw:?}");
    assert!(matches!(
        db.put(b"x", b"y", NOSYNC),
        Err(Error::Poisoned { .. })
    ));
}

fn policies() -> [CrashPolicy; 4] {
    [
        CrashPolicy::Strict,
        CrashPolicy::KeepAll,
        CrashPolicy::Torn { sector: 512 },
        CrashPolicy::Reorder { sector: 512 },
    ]
}

/// Runs the workload with the power cut after `crash_at` mutating calls, reboots under
/// `policy`, and checks the recovered state. Ok(whether the cut fell inside the workload), or
/// the violation found.
pub fn crash_run(
    options: &Options,
    crash_at: u64,
    policy: CrashPolicy,
    seed: u64,
) -> Result<bool, String> {
    let (fs, dynfs) = sim(seed);
    fs.crash_after_ops(crash_at);
    let mut history = vec![BTreeMap::new()];
    let mut durable = 0;
    let mut cut = false;
    let at = format!("cut at {crash_at}, {policy:?}, seed {seed}");
    match Db::open(Arc::clone(&dynfs), DB, options.clone()) {
        Ok(db) => {
            let mut model = BTreeMap::new();
            for i in 0..120 {
                let before = model.clone();
                match workload_step(&db, i, &mut model) {
                    Ok(made_durable) => {
                        // Read-your-writes while running.
                        let key = key(i % 37);
                        let read = db
                            .get(&key)
                            .map_err(|e| format!("{at}: read failed: {e}"))?;
                        if read.as_ref() != model.get(&key) {
                            return Err(format!("{at}: read of {key:?} disagrees with the model"));
                        }
                        history.push(model.clone());
                        if made_durable && (options.wal || i % 11 == 9) {
                            durable = history.len() - 1;
                        }
                    }
                    Err(e) => {
                        if !(e.is_power_loss() || matches!(e, Error::Poisoned { .. })) {
                            return Err(format!("{at}: unexpected error {e}"));
                        }
                        let mut maybe = before;
                        workload_step_model_only(i, &mut maybe);
                        history.push(maybe);
                        cut = true;
                        break;
                    }
                }
            }
        }
        Err(e) => {
            if !e.is_power_loss() {
                return Err(format!("{at}: open failed: {e}"));
            }
            cut = true;
        }
    }
    fs.power_off();
    fs.reboot(policy, seed);
    let db =
        Db::open(dynfs, DB, options.clone()).map_err(|e| format!("{at}: reopen failed: {e}"))?;
    db.check_invariants().map_err(|e| format!("{at}: {e}"))?;
    let got: BTreeMap<_, _> = db
        .scan(std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)
        .map_err(|e| format!("{at}: scan failed: {e}"))?
        .into_iter()
        .collect();
    if !history[durable..].contains(&got) {
        return Err(format!(
            "{at}: recovered state is not a prefix at or after write {durable}"
        ));
    }
    Ok(cut)
}

/// Sweeps every crash point of the workload; the first violation, if any.
pub fn sweep(options: &Options, policy: CrashPolicy, seeds: u64) -> Result<u64, String> {
    let mut points = 0;
    for seed in 0..seeds {
        let mut crash_at = 0;
        while crash_run(options, crash_at, policy, crash_at * 31 + seed)? {
            crash_at += 1;
        }
        points += crash_at;
    }
    Ok(points)
}

#[test]
fn power_cut_after_every_mutating_call_recovers_a_durable_prefix() {
    let seeds: u64 = std::env::var("POWERCUT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let variants = [
        small_options(),
        Options {
            wal: false,
            ..small_options()
        },
        // Memtables that fill between flushes: WALs switch on their own and tails get torn.
        Options {
            memtable_bytes: 600,
            ..small_options()
        },
        Options {
            compaction: engine::CompactionStyle::Tiered,
            memtable_bytes: 600,
            ..small_options()
        },
    ];
    for options in variants {
        for policy in policies() {
            let points = sweep(&options, policy, seeds).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                points > 50 * seeds,
                "the workload makes only {points} mutating calls"
            );
        }
    }
}

#[test]
fn a_second_power_cut_during_recovery_keeps_the_same_bounds() {
    let (fs, dynfs) = sim(11);
    let db = Db::open(Arc::clone(&dynfs), DB, small_options()).unwrap();
    for i in 0..200 {
        db.put(&key(i), &value(i, 0), NOSYNC).unwrap();
    }
    db.sync().unwrap();
    fs.power_off();
    drop(db);
    for cut in 0..30 {
        fs.reboot(CrashPolicy::Torn { sector: 512 }, cut);
        fs.crash_after_ops(cut);
        match Db::open(Arc::clone(&dynfs), DB, small_options()) {
            Ok(db) => drop(db),
            Err(e) => assert!(e.is_power_loss(), "cut {cut}: {e}"),
        }
        fs.power_off();
    }
    fs.reboot(CrashPolicy::Reorder { sector: 512 }, 99);
    let db = Db::open(dynfs, DB, small_options()).unwrap();
    db.check_invariants().unwrap();
    assert_eq!(all(&db).len(), 200);
}

#[test]
fn simulated_runs_replay_to_the_same_trace() {
    let trace = || {
        let (fs, dynfs) = sim(12);
        let db = Db::open(dynfs, DB, small_options()).unwrap();
        for i in 0..400 {
            db.put(
                &key(i % 150),
                &value(i, 1),
                if i % 9 == 0 { SYNC } else { NOSYNC },
            )
            .unwrap();
        }
        db.force_compact().unwrap();
        db.close().unwrap();
        fs.trace_hash()
    };
    assert_eq!(trace(), trace());
}

/// Damage (a flipped bit in a WAL, MANIFEST, SST or CURRENT) gives a clean refusal naming a
/// file, or the data of a prefix at least as long as the last durable point; never a value that
/// was not written, never silently missing durable data (the commit frame after every sync is
/// what tells a damaged last record from a torn tail).
#[test]
fn damage_is_refused_or_explained_never_wrong_data() {
    let seeds: u64 = std::env::var("POWERCUT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2)
        * 5;
    let (mut refused, mut intact, mut tail_lost) = (0, 0, 0);
    for seed in 0..seeds {
        for pattern in ["*.wal", "MANIFEST-*", "*.sst", "CURRENT"] {
            let (fs, dynfs) = sim(seed);
            let options = Options {
                memtable_bytes: 600,
                ..small_options()
            };
            let db = Db::open(Arc::clone(&dynfs), DB, options.clone()).unwrap();
            let mut history = vec![BTreeMap::new()];
            let mut durable = 0;
            let mut model = BTreeMap::new();
            for i in 0..(40 + seed as u32 * 7) {
                if workload_step(&db, i, &mut model).unwrap() {
                    durable = history.len();
                }
                history.push(model.clone());
            }
            fs.power_off();
            drop(db);
            fs.inject(Fault::BitFlip {
                path: PathPattern(pattern.into()),
                offset: None,
            });
            fs.reboot(CrashPolicy::Strict, seed);
            let got = Db::open(dynfs, DB, options)
                .and_then(|db| db.scan(std::ops::Bound::Unbounded, std::ops::Bound::Unbounded));
            match got {
                Err(Error::Corruption { .. } | Error::MissingFile { .. }) => refused += 1,
                Err(e) => panic!("{pattern}, seed {seed}: not a clean refusal: {e}"),
                Ok(rows) => {
                    let state: BTreeMap<_, _> = rows.into_iter().collect();
                    if history[durable..].contains(&state) {
                        intact += 1;
                    } else if history.contains(&state) {
                        eprintln!("{pattern}, seed {seed}: lost durable data silently");
                        tail_lost += 1;
                    } else {
                        panic!(
                            "{pattern}, seed {seed}: recovered data no prefix of the history explains"
                        );
                    }
                }
            }
        }
    }
    eprintln!(
        "damage: {refused} refused, {intact} intact, {tail_lost} lost an unproven durable tail"
    );
    assert_eq!(tail_lost, 0, "durable data went missing without a refusal");
    assert!(refused > 0);
}
