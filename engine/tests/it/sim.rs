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
/// `policy`, and checks the recovered state. Returns whether the cut fell inside the workload.
fn crash_run(options: &Options, crash_at: u64, policy: CrashPolicy, seed: u64) -> bool {
    let (fs, dynfs) = sim(seed);
    fs.crash_after_ops(crash_at);
    let mut history = vec![BTreeMap::new()];
    let mut durable = 0;
    let mut cut = false;
    match Db::open(Arc::clone(&dynfs), DB, options.clone()) {
        Ok(db) => {
            let mut model = BTreeMap::new();
            for i in 0..120 {
                let before = model.clone();
                match workload_step(&db, i, &mut model) {
                    Ok(made_durable) => {
                        history.push(model.clone());
                        if made_durable && (options.wal || i % 11 == 9) {
                            durable = history.len() - 1;
                        }
                    }
                    Err(e) => {
                        assert!(
                            e.is_power_loss() || matches!(e, Error::Poisoned { .. }),
                            "{e}"
                        );
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
            assert!(e.is_power_loss(), "{e}");
            cut = true;
        }
    }
    fs.power_off();
    fs.reboot(policy, seed);
    let db = Db::open(dynfs, DB, options.clone()).unwrap_or_else(|e| {
        panic!("cut at {crash_at}, {policy:?}, seed {seed}: reopen failed: {e}")
    });
    db.check_invariants()
        .unwrap_or_else(|e| panic!("cut at {crash_at}, {policy:?}, seed {seed}: {e}"));
    let got: BTreeMap<_, _> = all(&db).into_iter().collect();
    assert!(
        history[durable..].contains(&got),
        "cut at {crash_at}, {policy:?}, seed {seed}: recovered state is not a prefix at or after write {durable}"
    );
    cut
}

#[test]
fn power_cut_after_every_mutating_call_recovers_a_durable_prefix() {
    let seeds: u64 = std::env::var("POWERCUT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    for wal in [true, false] {
        let options = Options {
            wal,
            ..small_options()
        };
        for policy in policies() {
            for seed in 0..seeds {
                let mut crash_at = 0;
                while crash_run(&options, crash_at, policy, crash_at * 31 + seed) {
                    crash_at += 1;
                }
                assert!(
                    crash_at > 50,
                    "the workload makes only {crash_at} mutating calls"
                );
            }
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
