//! The careless store must fail: if it passes, the harness is broken (a canary).

use powercut::{RunOptions, ViolationKind};

use crate::support::{careless_seed as run_seed, engine_case};

fn careless() -> RunOptions {
    RunOptions::default()
}

#[test]
fn the_careless_store_fails_within_a_few_seeds() {
    let failing: Vec<u64> = (0..50)
        .filter(|s| !run_seed(*s, &careless()).passed())
        .collect();
    assert!(
        !failing.is_empty(),
        "50 seeds of the careless store passed: the harness is broken"
    );
}

#[test]
fn the_careless_store_loses_synced_writes_when_its_log_name_was_never_synced() {
    let opts = RunOptions {
        policy: Some(faultfs::CrashPolicy::Strict),
        ..careless()
    };
    let outcome = (0..100)
        .map(|s| run_seed(s, &opts))
        .find(|o| {
            o.violations
                .iter()
                .any(|v| v.kind == ViolationKind::LostDurable)
        })
        .expect("a strict crash loses the unsynced log name");
    let report = outcome.report.expect("a failing run has a report");
    let text = report.to_string();
    assert!(!report.violation.diffs.is_empty(), "{text}");
    assert!(
        text.contains("sync_dir"),
        "the report names the missing sync:\n{text}"
    );
    assert!(text.contains("replay --seed"), "{text}");
}

/// Seeded cases run through `execute::<S>` catch a store with crash bugs, and the same cases,
/// with the engine's configuration, pass on the engine: one core, two stores.
#[test]
fn the_same_seeds_catch_the_careless_store_and_pass_the_engine() {
    use powercut::stores::{CarelessStore, EngineStore};
    use powercut::{RunConfig, execute};

    let caught = (0..40)
        .map(|seed| RunConfig::from_seed::<CarelessStore>(seed, &RunOptions::default()).unwrap())
        .filter(|c| !execute::<CarelessStore>(&c.case()).unwrap().passed())
        .count();
    assert!(
        caught > 0,
        "40 seeded cases never caught the careless store"
    );
    for seed in 0..40 {
        let case = RunConfig::from_seed::<EngineStore>(seed, &RunOptions::default())
            .unwrap()
            .case();
        let outcome = engine_case(&case);
        assert!(
            outcome.passed(),
            "{}",
            outcome.report.map(|r| r.to_string()).unwrap_or_default()
        );
    }
}
