//! The scenario folder: it covers the required bug classes, each file says what it guards, its
//! canaries fail, and a malformed file is rejected with its path and the field that is wrong
//! (`scenarios.rs` runs every file and checks it ends as it says).

use std::path::{Path, PathBuf};

use powercut::Scenario;

use crate::support::{cli, scenario as run_scenario};

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn all_scenarios() -> Vec<(PathBuf, Scenario)> {
    let dir = scenario_dir();
    json_files(&dir)
        .into_iter()
        .chain(json_files(&dir.join("regressions")))
        .map(|p| {
            let s = Scenario::load(&p).unwrap_or_else(|e| panic!("{e}"));
            (p, s)
        })
        .collect()
}

#[test]
fn the_scenario_folder_covers_the_required_bug_classes() {
    let scenarios = all_scenarios();
    assert!(scenarios.len() >= 15, "{} scenarios", scenarios.len());
    let names: Vec<&str> = scenarios.iter().map(|(_, s)| s.name.as_str()).collect();
    for required in [
        "manifest-torn-tail",
        "manifest-zero-filled-tail",
        "manifest-truncated",
        "wal-torn-tail",
        "wal-zero-filled-tail",
        "sst-synced-manifest-not-appended",
        "crash-inside-compaction",
        "manifest-rollover-current-swap",
        "crash-during-recovery",
        "wal-fsync-failure-mark-clean",
        "wal-fsync-failure-report-later",
        "wal-fsync-failure-revert",
        "enospc-during-flush",
        "sst-bit-flip",
        "wal-misdirected-write",
        "obsolete-sst-comes-back",
        "removed-wal-comes-back",
        "wal-off-flush-only",
        "canary-careless-store",
    ] {
        assert!(names.contains(&required), "no scenario {required}");
    }
    for (path, s) in &scenarios {
        assert!(
            s.description.len() > 60,
            "{}: the description must say which bug class it guards",
            path.display()
        );
    }
}

#[test]
fn a_canary_scenario_must_fail() {
    let canaries: Vec<_> = all_scenarios()
        .into_iter()
        .filter(|(_, s)| s.expect_violation.is_some())
        .collect();
    assert!(!canaries.is_empty(), "no canary scenario");
    for (path, s) in canaries {
        let outcome = run_scenario(&s);
        assert!(
            !outcome.passed(),
            "{}: the canary passed: the harness is broken",
            path.display()
        );
    }
}

fn malformed(dir: &Path) -> PathBuf {
    let path = dir.join("bad.json");
    std::fs::write(
        &path,
        r#"{"name": "bad", "description": "d",
            "steps": [{"put": {"key": "a", "value": "1"}},
                      {"crash": {"policy": {"kind": "torn", "sector": 100}}}]}"#,
    )
    .unwrap();
    path
}

#[test]
fn a_malformed_scenario_is_rejected_naming_path_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = malformed(dir.path());
    let err = Scenario::load(&path).unwrap_err().to_string();
    assert!(err.contains("bad.json"), "{err}");
    assert!(err.contains("steps[1].crash.policy.sector"), "{err}");
}

#[test]
fn a_malformed_scenario_exits_2_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let path = malformed(dir.path());
    let code = cli(["powercut", "scenario", path.to_str().unwrap()]);
    assert_eq!(code, 2);
}

/// The crash records (phase, file kind, during recovery) of a scenario's run.
fn crashes_of(name: &str) -> Vec<(faultfs::Phase, powercut::FileKind, bool)> {
    let path = scenario_dir().join(format!("{name}.json"));
    let s = Scenario::load(&path).unwrap();
    let outcome = run_scenario(&s);
    assert!(
        outcome.passed(),
        "{name}: {:?}",
        outcome.report.map(|r| r.to_string())
    );
    outcome
        .crashes
        .iter()
        .map(|c| {
            (
                c.phase,
                <powercut::stores::EngineStore as powercut::Store>::file_kind(
                    std::path::Path::new(&c.path),
                ),
                c.during_recovery,
            )
        })
        .collect()
}

/// The targeted scenarios aim their crashes with op counts; an engine change could make them
/// land elsewhere and pass without testing what they say. This checks they still hit home.
#[test]
fn targeted_scenarios_still_crash_where_their_descriptions_say() {
    use faultfs::Phase;
    use powercut::FileKind;
    for name in ["manifest-torn-tail", "manifest-zero-filled-tail"] {
        let c = crashes_of(name);
        assert!(c.len() >= 5, "{name}: {c:?}");
        assert!(
            c.iter()
                .all(|(p, f, _)| *p == Phase::Flush && *f == FileKind::Manifest),
            "{name}: {c:?}"
        );
    }
    for name in ["wal-torn-tail", "wal-zero-filled-tail"] {
        let c = crashes_of(name);
        assert!(c.len() >= 5, "{name}: {c:?}");
        assert!(
            c.iter()
                .all(|(p, f, _)| *p == Phase::Write && *f == FileKind::Log),
            "{name}: {c:?}"
        );
    }
    let c = crashes_of("sst-synced-manifest-not-appended");
    assert!(c.iter().all(|(p, _, _)| *p == Phase::Flush), "{c:?}");
    assert!(c.iter().any(|(_, f, _)| *f == FileKind::Manifest), "{c:?}");
    let c = crashes_of("crash-inside-compaction");
    assert!(c.iter().all(|(p, _, _)| *p == Phase::Compaction), "{c:?}");
    for kind in [FileKind::Data, FileKind::Manifest, FileKind::Other] {
        assert!(c.iter().any(|(_, f, _)| *f == kind), "{kind:?}: {c:?}");
    }
    let c = crashes_of("manifest-rollover-current-swap");
    for kind in [FileKind::Manifest, FileKind::Pointer, FileKind::Other] {
        assert!(
            c.iter()
                .any(|(p, f, _)| *p == Phase::Rollover && *f == kind),
            "{kind:?}: {c:?}"
        );
    }
    let c = crashes_of("crash-during-recovery");
    assert!(c.iter().filter(|(_, _, r)| *r).count() >= 4, "{c:?}");
}
