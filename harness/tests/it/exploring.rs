//! Exploration visits every crash point of a 1,000-step workload with flushes, compactions and a
//! MANIFEST rollover, and finds the careless store's bugs.

use faultfs::Phase;
use harness::explore::{ExploreOptions, explore, standard_case};
use harness::{StoreKind, ViolationKind};

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
    let mut case = standard_case(200, 2);
    case.store = StoreKind::Careless;
    let out = explore(&case, &ExploreOptions::default());
    assert_eq!(out.points, out.mutating_ops);
    assert!(
        out.violations
            .iter()
            .any(|v| v.violation.kind == ViolationKind::LostDurable),
        "{:?}",
        out.violations
    );
}
