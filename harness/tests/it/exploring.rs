//! Exploration visits every crash point of a 1,000-step workload with flushes, compactions and a
//! MANIFEST rollover, and finds the careless store's bugs.

use faultfs::Phase;
use powercut::explore::{ExploreOptions, standard_case};
use powercut::stores::CarelessStore;
use powercut::{Case, ViolationKind};

use crate::support::explore_engine as explore;

#[test]
fn explore_covers_every_crash_point_of_a_1000_step_engine_workload() {
    let out = explore(&standard_case(1000, 1), &ExploreOptions::default());
    assert_eq!(
        out.points, out.mutating_ops,
        "every mutating op is a visited crash point"
    );
    for phase in [
        Phase::Write,
        Phase::Flush,
        Phase::Compaction,
        Phase::Rollover,
    ] {
        assert!(
            out.points_by_phase
                .iter()
                .any(|(p, n)| *p == phase && *n > 0),
            "no crash point in phase {phase}: {:?}",
            out.points_by_phase
        );
    }
    assert!(out.disks_skipped > 0, "duplicate disks are skipped");
    assert!(out.violations.is_empty(), "{:#?}", out.violations.first());
}

#[test]
fn explore_finds_the_careless_store_losing_synced_writes() {
    let case = Case {
        sim_seed: 2,
        ..Case::new::<CarelessStore>(standard_case(200, 2).steps)
    };
    let out = powercut::explore::<CarelessStore>(&case, &ExploreOptions::default()).unwrap();
    assert_eq!(out.points, out.mutating_ops);
    assert!(
        out.violations
            .iter()
            .any(|v| v.violation.kind == ViolationKind::LostDurable),
        "{:?}",
        out.violations
    );
}

#[test]
fn explore_with_recovery_crashes_finds_a_defect_a_second_crash_exposes() {
    // replay_flushed_wal: recovery replays a WAL the MANIFEST says was flushed. A single crash
    // leaves that WAL already deleted or harmless; a crash inside the recovery that rewrote the
    // state brings the stale log back to be replayed over newer data.
    let mut case = standard_case(300, 1);
    case.bugs = vec!["replay_flushed_wal".to_string()];
    let opts = ExploreOptions {
        policies: vec![
            faultfs::CrashPolicy::Torn { sector: 512 },
            faultfs::CrashPolicy::Reorder { sector: 512 },
        ],
        recovery_crashes: true,
        ..ExploreOptions::default()
    };
    let out = explore(&case, &opts);
    assert!(out.recovery_points > 0);
    assert!(!out.violations.is_empty(), "the defect was not found");
    assert!(out.violations[0].violation.message.contains("second crash"));
}

#[test]
fn the_explore_command_exits_1_on_a_violation_and_2_on_bad_input() {
    let run = |args: &[&str]| {
        let all: Vec<std::ffi::OsString> = ["powercut", "explore"]
            .iter()
            .chain(args)
            .map(Into::into)
            .collect();
        powercut::cli::shipped_main(all)
    };
    assert_eq!(
        run(&["--seed", "3", "--ops", "60", "--store", "careless"]),
        1
    );
    assert_eq!(run(&["--seed", "3", "--ops", "60"]), 0);
    assert_eq!(run(&["--scenario", "/nonexistent/x.json"]), 2);
    assert_eq!(run(&["--seed", "3", "--policy", "sideways"]), 2);
    assert_eq!(run(&["--seed", "3", "--config", "[1]"]), 2);
}

/// A store whose range scans leave out the last key while its point reads are right.
#[derive(Debug)]
struct ScanDropsLast(CarelessStore);

impl powercut::Store for ScanDropsLast {
    type Config = powercut::stores::CarelessConfig;
    fn name() -> &'static str {
        "scan-drops-last"
    }
    fn file_kind(path: &std::path::Path) -> powercut::FileKind {
        CarelessStore::file_kind(path)
    }
    fn durability(_: &Self::Config) -> powercut::Durability {
        powercut::Durability::NONE
    }
    fn open(env: &powercut::Env, config: &Self::Config) -> Result<Self, powercut::StoreError> {
        CarelessStore::open(env, config).map(ScanDropsLast)
    }
    fn write(
        &mut self,
        batch: &[powercut::Mutation],
        sync: bool,
    ) -> Result<(), powercut::StoreError> {
        self.0.write(batch, sync)
    }
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, powercut::StoreError> {
        self.0.get(key)
    }
    fn scan(
        &mut self,
        lower: std::ops::Bound<&[u8]>,
        upper: std::ops::Bound<&[u8]>,
    ) -> Result<powercut::Pairs, powercut::StoreError> {
        let mut pairs = self.0.scan(lower, upper)?;
        pairs.pop();
        Ok(pairs)
    }
    fn sync(&mut self) -> Result<(), powercut::StoreError> {
        self.0.sync()
    }
    fn close(&mut self) -> Result<(), powercut::StoreError> {
        self.0.close()
    }
}

/// Exploration drives the workload through the seeded runs' interpreter: a scan that does not
/// match the writes is the same read-your-writes violation in both (exploration used to run
/// scans and ignore what they returned).
#[test]
fn explore_and_a_seeded_run_judge_a_wrong_scan_alike() {
    use powercut::Step;
    let put = |k: &str| Step::Put {
        key: k.into(),
        value: "v".into(),
        sync: false,
    };
    let case = Case::new::<ScanDropsLast>(vec![
        put("a"),
        put("b"),
        Step::Scan {
            start: None,
            end: None,
        },
        put("c"),
    ]);
    let run = powercut::execute::<ScanDropsLast>(&case).unwrap();
    assert_eq!(run.violations[0].kind, ViolationKind::ReadYourWrites);
    let out = powercut::explore::<ScanDropsLast>(&case, &ExploreOptions::default()).unwrap();
    let v = out.run_violation.expect("exploration sees the wrong scan");
    assert_eq!(v.kind, ViolationKind::ReadYourWrites, "{}", v.message);
    assert_eq!(v.message, run.violations[0].message);
}

#[test]
fn the_outcome_is_the_same_whatever_the_thread_count() {
    // Recoveries run on worker threads and come back in any order; the tally puts them back in
    // crash-point order. A store with one defect found at many points, and limits of one and of
    // several violations, exercise the cut-off a worker must not apply too early.
    let mut buggy = standard_case(300, 3);
    buggy.bugs = vec!["sync_write_without_wal_sync".to_string()];
    let careless = Case {
        sim_seed: 2,
        ..Case::new::<CarelessStore>(standard_case(200, 2).steps)
    };
    for max_violations in [1, 4] {
        let with = |threads| ExploreOptions {
            threads,
            max_violations,
            ..ExploreOptions::default()
        };
        let sequential = explore(&buggy, &with(1));
        assert!(
            !sequential.violations.is_empty(),
            "the defect was not found"
        );
        for threads in [2, 3] {
            assert_eq!(
                explore(&buggy, &with(threads)),
                sequential,
                "{threads} threads"
            );
        }
        let sequential = powercut::explore::<CarelessStore>(&careless, &with(1)).unwrap();
        assert!(!sequential.violations.is_empty());
        let parallel = powercut::explore::<CarelessStore>(&careless, &with(3)).unwrap();
        assert_eq!(parallel, sequential);
    }
    let clean = standard_case(300, 4);
    let with = |threads| ExploreOptions {
        threads,
        ..ExploreOptions::default()
    };
    let sequential = explore(&clean, &with(1));
    assert!(sequential.violations.is_empty() && sequential.disks_tried > 0);
    assert_eq!(explore(&clean, &with(2)), sequential);
}
