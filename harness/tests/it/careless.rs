//! The careless store must fail: if it passes, the harness is broken (a canary).

use harness::{RunOptions, StoreKind, ViolationKind, run_seed};

fn careless() -> RunOptions {
    RunOptions {
        store: StoreKind::Careless,
        ..RunOptions::default()
    }
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
    assert!(text.contains("powercut replay --seed"), "{text}");
}

/// The README's "plugging in your own engine" recipe, run as written on a store the harness does
/// not know by name: seeded cases executed through `execute_with::<S>` must catch its bugs, and the
/// same cases must pass on the engine. If the recipe stops compiling or stops catching, the README
/// is lying to users.
#[test]
fn the_readme_recipe_catches_a_user_store_and_passes_the_engine() {
    use harness::stores::{CarelessConfig, CarelessStore, EngineConfig, EngineStore};
    use harness::{RunConfig, execute_with};

    let cases: Vec<_> = (0..40)
        .map(|seed| RunConfig::from_seed(seed, &RunOptions::default()).case())
        .collect();
    let caught = cases
        .iter()
        .filter(|case| !execute_with::<CarelessStore>(case, &CarelessConfig).passed())
        .count();
    assert!(
        caught > 0,
        "40 seeded cases never caught the careless store"
    );
    for case in &cases {
        let config = EngineConfig::simulated(&case.options, &case.bugs);
        let outcome = execute_with::<EngineStore>(case, &config);
        assert!(
            outcome.passed(),
            "{}",
            outcome.report.map(|r| r.to_string()).unwrap_or_default()
        );
    }
}
