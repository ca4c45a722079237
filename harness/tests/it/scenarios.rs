//! Scenario files: every file under `scenarios/` runs as it expects, and the format's semantics
//! (expectations, crashes armed inside recovery, strict parsing) hold.

use std::path::{Path, PathBuf};

use powercut::scenario::scenario_passed;
use powercut::{RecoveryResult, Scenario, ViolationKind};

use crate::support::{cli, scenario as run_scenario};

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

#[test]
fn every_scenario_file_runs_as_it_expects() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files = Vec::new();
    json_files(&root, &mut files);
    for f in files {
        let s = Scenario::load(&f).unwrap_or_else(|e| panic!("{e}"));
        let outcome = run_scenario(&s);
        assert!(
            scenario_passed(&s, &outcome),
            "{}: {}",
            f.display(),
            outcome
                .report
                .map(|r| r.to_string())
                .unwrap_or("expected a violation".into())
        );
    }
}

fn parse(text: &str) -> Scenario {
    Scenario::parse(text, Path::new("inline.json")).unwrap()
}

#[test]
fn the_readme_example_passes() {
    let s = parse(
        r#"{"name": "wal-off-flush-only", "description": "d",
            "options": {"wal": false, "memtable_bytes": 4096},
            "steps": [{"put": {"key": "a", "value": "1"}}, {"flush": {}},
                      {"put": {"key": "b", "value": "2", "sync": true}},
                      {"crash": {"policy": {"kind": "strict"}}},
                      {"expect": {"key": "a", "value": "1"}}]}"#,
    );
    let o = run_scenario(&s);
    assert!(o.passed(), "{}", o.report.unwrap());
    assert_eq!(o.crashes.len(), 1);
}

#[test]
fn a_wrong_expectation_fails_as_an_expectation() {
    let s = parse(
        r#"{"name": "x", "description": "d",
            "steps": [{"put": {"key": "a", "value": "1", "sync": true}},
                      {"expect": {"key": "a", "value": "2"}}]}"#,
    );
    let o = run_scenario(&s);
    assert_eq!(o.violations[0].kind, ViolationKind::Expectation);
}

#[test]
fn a_second_queued_crash_falls_inside_recovery_and_the_bounds_carry_over() {
    let s = parse(
        r#"{"name": "x", "description": "d", "options": {"memtable_bytes": 1024},
            "steps": [{"put": {"key": "a", "value": "1", "sync": true}},
                      {"put": {"key": "b", "value": "2"}},
                      {"crash": {"policy": {"kind": "keep_all"}, "after_ops": 0}},
                      {"crash": {"policy": {"kind": "strict"}, "after_ops": 1}},
                      {"put": {"key": "c", "value": "3"}},
                      {"expect": {"key": "a", "value": "1"}}]}"#,
    );
    let o = run_scenario(&s);
    assert!(o.passed(), "{}", o.report.unwrap());
    assert!(o.crashes.len() >= 2, "{:?}", o.crashes);
    assert!(o.crashes[1].during_recovery);
    assert_eq!(o.crashes[0].result, RecoveryResult::CrashedAgain);
    assert_eq!(o.crashes[0].bounds, o.crashes[1].bounds);
}

#[test]
fn a_canary_scenario_expecting_a_violation_passes_only_when_it_fails() {
    let s = parse(
        r#"{"name": "careless-canary", "description": "the careless store never syncs its directory",
            "store": "careless", "expect_violation": "lost_durable",
            "steps": [{"put": {"key": "a", "value": "1", "sync": true}},
                      {"crash": {"policy": {"kind": "strict"}}}]}"#,
    );
    let o = run_scenario(&s);
    assert!(scenario_passed(&s, &o));
}

#[test]
fn bad_options_and_bad_bugs_are_rejected_naming_the_field() {
    type E = powercut::stores::EngineStore;
    let err = Scenario::parse(
        r#"{"name": "x", "description": "d", "options": {"levels": 1}, "steps": []}"#,
        Path::new("o.json"),
    )
    .unwrap()
    .to_case::<E>(Path::new("o.json"))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("o.json") && err.contains("config") && err.contains("levels"),
        "{err}"
    );
    let err = Scenario::parse(
        r#"{"name": "x", "description": "d", "bugs": ["no_such_bug"], "steps": []}"#,
        Path::new("b.json"),
    )
    .unwrap()
    .to_case::<E>(Path::new("b.json"))
    .unwrap_err()
    .to_string();
    assert!(err.contains("bugs[0]"), "{err}");
}

#[test]
fn the_scenario_command_exits_2_on_a_malformed_file_and_1_on_a_violation() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"name": "x"}"#).unwrap();
    assert_eq!(cli(["powercut", "scenario", bad.to_str().unwrap()]), 2);
    let failing = dir.path().join("failing.json");
    std::fs::write(
        &failing,
        r#"{"name": "x", "description": "d", "store": "careless",
            "steps": [{"put": {"key": "a", "value": "1", "sync": true}},
                      {"crash": {"policy": {"kind": "strict"}}}]}"#,
    )
    .unwrap();
    assert_eq!(cli(["powercut", "scenario", failing.to_str().unwrap()]), 1);
}

#[test]
fn aimed_damage_in_the_wal_is_refused_cleanly_or_recovered_within_bounds() {
    for class in ["bit_flip", "torn_sector"] {
        for pick in 0..8 {
            let s = parse(&format!(
                r#"{{"name": "x", "description": "d",
                    "steps": [{{"put": {{"key": "a", "value": "{big}", "sync": true}}}},
                              {{"put": {{"key": "b", "value": "{big}", "sync": true}}}},
                              {{"put": {{"key": "c", "value": "{big}", "sync": true}}}},
                              {{"damage": {{"class": "{class}", "file": "log", "pick": {pick}}}}},
                              {{"crash": {{"policy": {{"kind": "strict"}}}}}}]}}"#,
                big = "x".repeat(700)
            ));
            let o = run_scenario(&s);
            assert!(o.passed(), "{}", o.report.unwrap());
            assert!(
                o.counts.faults_fired > 0,
                "{class} pick {pick}: the damage was aimed somewhere"
            );
            match &o.crashes[0].result {
                RecoveryResult::Refused { file } => assert!(file.contains(".wal"), "{file}"),
                RecoveryResult::Recovered { k } => assert_eq!(*k, 3),
                other => panic!("{other:?}"),
            }
        }
    }
}
