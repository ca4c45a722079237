//! Shrinking a failing careless run to a handful of steps, and the written scenario reproduces
//! the failure without the seed.

use powercut::shrink::write_scenario;
use powercut::stores::CarelessStore;
use powercut::{RunOptions, Scenario, ShrinkOptions, run_scenario, shrink};

use crate::support::careless_seed as run_seed;

#[test]
fn a_500_step_careless_failure_shrinks_to_a_handful_of_steps_that_still_fail() {
    let opts = RunOptions {
        ops: 500,
        ..RunOptions::default()
    };
    let (seed, outcome) = (0..100)
        .map(|s| (s, run_seed(s, &opts)))
        .find(|(_, o)| !o.passed())
        .expect("the careless store fails");
    let kind = outcome.violations[0].kind;
    assert!(outcome.case.steps.len() >= 500);
    let mut small = shrink::<CarelessStore>(&outcome.case, &ShrinkOptions::default());
    assert_eq!(
        small.signature, outcome.signature,
        "shrinking kept the signature"
    );
    let steps = small.case.steps.len();
    assert!(
        steps <= 6,
        "seed {seed}: shrunk to {steps} steps: {:#?}",
        small.case.steps
    );
    assert!(small.outcome.violations.iter().any(|v| v.kind == kind));
    let report = small.outcome.report.clone().expect("report");
    assert!(
        report
            .test_snippet
            .as_deref()
            .is_some_and(|t| t.contains("#[test]"))
    );

    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(
        dir.path(),
        "careless_shrunk",
        "shrunk careless failure",
        &mut small,
    )
    .unwrap();
    let scenario = Scenario::load(&path).unwrap();
    let again = run_scenario::<CarelessStore>(&scenario).unwrap();
    assert!(
        again.violations.iter().any(|v| v.kind == kind),
        "the scenario reproduces it"
    );
    assert_eq!(again.trace_hash, small.outcome.trace_hash);
}
