//! `powercut gate` exit codes: 0 nothing violated, 1 a violation, 2 bad usage or input.

use crate::gate_support::{gate, gate_report};

#[test]
fn the_gate_passes_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = gate_report(
        dir.path(),
        "engine",
        &["--seeds", "300", "--no-regressions"],
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["passed"], true);
    assert_eq!(report["seeds"]["run"], 300);
    assert!(report["totals"]["crash_points"].as_u64().unwrap() > 300);
}

#[test]
fn the_gate_fails_the_careless_store_within_its_budget_and_says_how_to_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = gate_report(
        dir.path(),
        "careless",
        &["--store", "careless", "--seeds", "200", "--no-regressions"],
    );
    assert_eq!(code, 1);
    assert_eq!(report["passed"], false);
    let v = &report["violations"][0];
    let replay = v["replay"].as_str().unwrap();
    assert!(
        replay.starts_with("powercut replay --store careless --seed "),
        "{replay}"
    );
    assert!(
        v["shrunk"]["steps_after"].as_u64().unwrap()
            <= v["shrunk"]["steps_before"].as_u64().unwrap()
    );
    // The sweep stops at the first failing seed: nothing after it counts.
    assert_eq!(report["seeds"]["last"], v["seed"]);
}

#[test]
fn the_replay_command_of_a_gate_failure_reproduces_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_, report) = gate_report(
        dir.path(),
        "careless",
        &[
            "--store",
            "careless",
            "--seeds",
            "200",
            "--no-regressions",
            "--shrink-runs",
            "0",
        ],
    );
    let replay = report["violations"][0]["replay"]
        .as_str()
        .unwrap()
        .to_string();
    let mut args: Vec<&str> = replay.split_whitespace().collect();
    assert_eq!(args[1], "replay");
    args.push("--json");
    assert_eq!(
        powercut::cli::shipped_main(args.iter().map(Into::into).collect()),
        1
    );
}

#[test]
fn bad_flags_exit_2() {
    for bad in [
        &["--shard", "3/2"][..],
        &["--shard", "two"],
        &["--seconds", "0"],
        &["--seconds", "-1"],
        &["--seeds", "0"],
        &["--threads", "0"],
        &["--policy", "bogus"],
        &["--fault", "cosmic_ray"],
        &["--store", "sqlite"],
        &["--frobnicate"],
        &["--seeds", "many"],
        &["--bug", "no_such_defect"],
        &["--store", "careless", "--bug", "current_in_place"],
    ] {
        assert_eq!(gate(bad), 2, "{bad:?}");
    }
}

#[test]
fn a_malformed_regression_scenario_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.json"),
        r#"{"name": "broken", "description": "d", "steps": [{"put": {"key": "a", "valu": "1"}}]}"#,
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    assert_eq!(gate(&["--seeds", "5", "--regressions", d]), 2);
}

#[test]
fn a_failing_regression_fails_the_gate_before_any_seed() {
    let dir = tempfile::tempdir().unwrap();
    // The engine-defect canary without its expect_violation: a regression that fails, while
    // every seed of the (correct) engine passes.
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios/canary-engine-bug.json"),
    )
    .unwrap()
    .replace("\"expect_violation\": \"lost_durable\",", "");
    std::fs::write(dir.path().join("lost.json"), text).unwrap();
    let d = dir.path().to_str().unwrap();
    let out = tempfile::tempdir().unwrap();
    let (code, report) = gate_report(out.path(), "r", &["--seeds", "20", "--regressions", d]);
    assert_eq!(code, 1);
    assert_eq!(report["regressions"][0]["passed"], false);
    assert_eq!(report["regressions"][0]["violation"], "lost_durable");
    assert_eq!(report["seeds"]["failed"], 0);
}

#[test]
fn saved_regressions_are_replayed_by_the_next_gate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let code = gate(&[
        "--store",
        "careless",
        "--seeds",
        "50",
        "--regressions",
        d,
        "--save-regressions",
        "--shrink-runs",
        "200",
    ]);
    assert_eq!(code, 1);
    let saved: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(saved.len(), 1, "one shrunk failure saved");
    let out = tempfile::tempdir().unwrap();
    let (code, report) = gate_report(
        out.path(),
        "again",
        &["--store", "careless", "--seeds", "10", "--regressions", d],
    );
    assert_eq!(code, 1, "the saved careless failure fails the next gate");
    assert_eq!(report["regressions"].as_array().unwrap().len(), 1);
}

#[test]
fn min_coverage_fails_a_sweep_too_short_to_reach_the_expected_cells() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = gate_report(
        dir.path(),
        "short",
        &["--seeds", "3", "--no-regressions", "--min-coverage"],
    );
    assert_eq!(code, 1);
    assert!(!report["coverage"]["missing"].as_array().unwrap().is_empty());
    assert_eq!(report["seeds"]["failed"], 0);
}

#[test]
fn the_binary_exits_with_the_gate_codes() {
    let bin = env!("CARGO_BIN_EXE_powercut");
    let run = |args: &[&str]| std::process::Command::new(bin).args(args).output().unwrap();
    let ok = run(&["gate", "--seeds", "40", "--no-regressions"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let bad = run(&[
        "gate",
        "--store",
        "careless",
        "--seeds",
        "40",
        "--no-regressions",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert!(
        stdout.contains("replay: powercut replay --store careless --seed"),
        "{stdout}"
    );
    let usage = run(&["gate", "--shard", "0/4"]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("shard"));
}
