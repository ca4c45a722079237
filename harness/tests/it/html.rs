//! The failure page (issue 14) drawn for real failures: a directory never synced, a torn log
//! tail, a failed fsync, a power cut inside recovery. Each test runs the failing case, renders
//! its page and checks what the page must show: a lane for every file and directory the run
//! changed, labelled with its role; the power cut where the log says it fell; what the reboot
//! kept, dropped or tore, on the file it happened to; the violation and the replay command.

use std::collections::BTreeMap;
use std::path::Path;

use faultfs::{Event, EventOp, FaultClass, FileKind};
use powercut::html::{self, Page};
use powercut::stores::{CarelessStore, EngineStore};
use powercut::{RunOutcome, Scenario, Store};

use crate::support::scenario as run_scenario;

/// The roles of the engine's and the careless store's files, as they declare them.
fn engine_role(path: &std::path::Path) -> FileKind {
    EngineStore::file_kind(path)
}
fn careless_role(path: &std::path::Path) -> FileKind {
    CarelessStore::file_kind(path)
}

/// The classifier of the store a scenario names.
fn role_function(store: Option<String>) -> faultfs::KindFn {
    match store.as_deref() {
        Some("careless") => careless_role,
        _ => engine_role,
    }
}

/// The page of a failed run, and its HTML.
fn page_of(outcome: &RunOutcome, store: Option<String>) -> (Page, String) {
    assert!(!outcome.passed(), "the case was meant to fail");
    let page = html::page_of(outcome, role_function(store)).expect("a failed run has a page");
    let text = html::render(&page);
    (page, text)
}

fn events(outcome: &RunOutcome) -> &[Event] {
    &outcome
        .trace
        .as_ref()
        .expect("a failed run keeps its log")
        .events
}

fn scenario(json: &str) -> Scenario {
    Scenario::parse(json, Path::new("inline.json")).unwrap()
}

fn repo_scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name);
    Scenario::load(path).unwrap()
}

/// Every lane the timeline draws: path -> role.
fn lanes(html: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for part in html.split("<g class=\"lane\" data-path=\"").skip(1) {
        let (path, rest) = part.split_once('"').unwrap();
        let role = rest
            .strip_prefix(" data-role=\"")
            .and_then(|r| r.split_once('"'))
            .map(|(r, _)| r)
            .unwrap();
        out.insert(path.to_string(), role.to_string());
    }
    out
}

/// The event ranges folded away in long epochs (`first..=last`).
fn folds(html: &str) -> Vec<(u64, u64)> {
    html.split("<g class=\"fold\" data-first=\"")
        .skip(1)
        .map(|part| {
            let (first, rest) = part.split_once('"').unwrap();
            let last = rest.strip_prefix(" data-last=\"").unwrap();
            (
                first.parse().unwrap(),
                last.split_once('"').unwrap().0.parse().unwrap(),
            )
        })
        .collect()
}

/// Checks that every file and directory the run changed (outside folded stretches) has a lane
/// with the role `role_of` gives it, directories as `dir`.
fn every_changed_path_has_a_lane(html: &str, events: &[Event], role_of: fn(&Path) -> FileKind) {
    let drawn = lanes(html);
    let folded = folds(html);
    for e in events {
        if folded.iter().any(|(a, b)| (*a..=*b).contains(&e.index)) {
            continue;
        }
        let (files, dir): (Vec<&str>, Option<&str>) = match &e.op {
            EventOp::Create { path }
            | EventOp::Write { path, .. }
            | EventOp::SetLen { path, .. }
            | EventOp::Sync { path }
            | EventOp::Remove { path } => (vec![path], path.rsplit_once('/').map(|(d, _)| d)),
            EventOp::Rename { from, to } => (vec![from, to], to.rsplit_once('/').map(|(d, _)| d)),
            EventOp::SyncDir { path } | EventOp::CreateDir { path } => (Vec::new(), Some(path)),
            _ => continue,
        };
        for f in files {
            let want = role_of(Path::new(f)).name();
            assert_eq!(
                drawn.get(f).map(String::as_str),
                Some(want),
                "no {want} lane for {f} ({e})"
            );
        }
        if let Some(d) = dir.filter(|d| !d.is_empty()) {
            assert_eq!(
                drawn.get(d).map(String::as_str),
                Some("dir"),
                "no lane for directory {d}"
            );
        }
    }
}

/// Checks that each power cut is marked at the event the log says it fell on.
fn every_crash_is_marked(html: &str, outcome: &RunOutcome) {
    assert!(!outcome.crashes.is_empty());
    for (k, c) in outcome.crashes.iter().enumerate() {
        let mark = format!(
            "class=\"crash\" data-crash=\"{}\" data-event=\"{}\"",
            k + 1,
            c.event_index
        );
        assert!(html.contains(&mark), "no marker {mark}");
    }
}

/// Checks the violation's kind, message and differing keys are on the page, escaped.
fn the_violation_is_shown(html: &str, outcome: &RunOutcome) {
    let v = &outcome.violations[0];
    assert!(html.contains(&format!(
        "<section class=\"violation\" data-kind=\"{}\">",
        v.kind
    )));
    assert!(
        html.contains(&esc(&v.message)),
        "message missing: {}",
        v.message
    );
    for d in &v.diffs {
        assert!(
            html.contains(&format!("<td>{}</td>", esc(&d.key))),
            "key {} missing",
            d.key
        );
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The careless store syncs its log but never its directory: a strict power cut drops the log's
/// name, and every acknowledged write with it. The page must show the name change pending on
/// the directory's lane up to the cut, the reboot dropping it, and the file struck through.
#[test]
fn a_directory_never_synced_shows_its_dropped_name_on_the_file() {
    let s = repo_scenario("canary-careless-store.json");
    let outcome = run_scenario(&s);
    let (page, html) = page_of(&outcome, s.store.clone());
    assert!(folds(&html).is_empty(), "a small case is drawn whole");
    every_changed_path_has_a_lane(&html, events(&outcome), careless_role);
    assert_eq!(lanes(&html).get("db/log").map(String::as_str), Some("log"));
    every_crash_is_marked(&html, &outcome);
    the_violation_is_shown(&html, &outcome);
    // The name was pending on the directory from its creation to the reboot.
    assert!(html.contains("class=\"pending names\" data-path=\"db\""));
    // The reboot dropped the create, on the directory's lane and on the file's.
    assert!(
        html.contains("class=\"name-op dropped\" data-name-op=\"create log\""),
        "{html}"
    );
    assert!(html.contains("<path class=\"name-lost\""));
    assert!(html.contains("the file is gone"));
    // The hint names the missing directory sync.
    assert!(page.hints.iter().any(|h| h.contains("sync_dir")));
    assert!(html.contains("sync_dir) before the store last reported durability"));
    assert!(html.contains("data-step=\"1\""), "the first step has a bar");
    assert!(html.contains("class=\"flag flag-d\"") && html.contains("class=\"flag flag-n\""));
}

/// A case the careless store fails by its second bug: it trusts a torn last line. The first
/// power cut keeps everything (so the log's name is durable); the second tears the log's tail
/// into zeros, which the store reads back as a value never written.
const TORN_TAIL: &str = r#"{"name": "careless-torn-tail", "description": "a torn log tail read back as data", "store": "careless",
  "steps": [
    {"put": {"key": "a", "value": "1", "sync": true}},
    {"crash": {"policy": {"kind": "keep_all"}, "seed": 0}},
    {"put": {"key": "b", "value": "2-abcdefghijklmnopqrstuvwxyz", "sync": false}},
    {"put": {"key": "c", "value": "3-abcdefghijklmnopqrstuvwxyz", "sync": false}},
    {"crash": {"policy": {"kind": "torn", "sector": 16}, "seed": 14}}
  ]}"#;

/// The pieces of a file the reboot decided with `fate`, as `start..end` ranges, read straight
/// off the event's typed decisions.
fn ranges_in_reboot(events: &[Event], path: &str, fate: faultfs::PieceFate) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.op {
            EventOp::Reboot { outcome, .. } => Some(&outcome.decisions),
            _ => None,
        })
        .flatten()
        .filter_map(|d| match d {
            faultfs::RebootDecision::File {
                path: p, pieces, ..
            } if p == path => Some(pieces),
            _ => None,
        })
        .flatten()
        .filter(|p| p.fate == fate && p.change == faultfs::ChangeKind::Write)
        .map(|p| format!("{}..{}", p.offset, p.offset + p.len))
        .collect()
}

#[test]
fn a_torn_log_tail_is_drawn_piece_by_piece_on_the_log() {
    let s = scenario(TORN_TAIL);
    let outcome = run_scenario(&s);
    assert_eq!(outcome.violations[0].kind, powercut::ViolationKind::Phantom);
    let (_, html) = page_of(&outcome, s.store.clone());
    let log = events(&outcome);
    every_changed_path_has_a_lane(&html, log, careless_role);
    every_crash_is_marked(&html, &outcome);
    the_violation_is_shown(&html, &outcome);
    let torn = ranges_in_reboot(log, "db/log", faultfs::PieceFate::TornZeros);
    let kept = ranges_in_reboot(log, "db/log", faultfs::PieceFate::Kept);
    assert!(
        !torn.is_empty() && !kept.is_empty(),
        "the reboot tore the log: {log:?}"
    );
    for (fill, ranges) in [("torn-zeros", &torn), ("kept", &kept)] {
        for r in ranges {
            let piece = format!("data-path=\"db/log\" data-fill=\"{fill}\" data-range=\"{r}\"");
            assert!(html.contains(&piece), "no {fill} piece {r} on the log");
        }
    }
    // The log was written after its last sync: pending until the tearing reboot.
    assert!(html.contains("class=\"pending data\" data-path=\"db/log\""));
    assert!(html.contains("torn "), "the caption says it in words");
}

/// The engine's fsync_retried defect retries a WAL fsync that failed the ext4 way (the pages
/// marked clean and lost) and trusts the retry: the harness stops the run right there, at the
/// acknowledged write whose fsync failed (swallowed_fsync_error), before any crash.
const FSYNC_RETRIED: &str = r#"{"name": "fsync-retried", "description": "a failed fsync retried and trusted", "bugs": ["fsync_retried"],
  "options": {"memtable_bytes": 100000},
  "steps": [
    {"put": {"key": "a", "value": "1", "sync": true}},
    {"fault": {"kind": "fsync_failure", "path": "*.wal", "nth": 1, "mode": "mark_clean"}},
    {"put": {"key": "b", "value": "2", "sync": false}},
    {"put": {"key": "c", "value": "3", "sync": true}},
    {"crash": {"policy": {"kind": "strict"}, "seed": 0}}
  ]}"#;

#[test]
fn a_failed_fsync_is_drawn_on_the_log_with_its_fault() {
    let s = scenario(FSYNC_RETRIED);
    let outcome = run_scenario(&s);
    let (page, html) = page_of(&outcome, s.store.clone());
    let log = events(&outcome);
    assert_eq!(
        outcome.violations[0].kind,
        powercut::ViolationKind::SwallowedFsyncError
    );
    every_changed_path_has_a_lane(&html, log, engine_role);
    the_violation_is_shown(&html, &outcome);
    let failed = log
        .iter()
        .find(|e| e.fault == Some(FaultClass::FsyncMarkClean))
        .expect("the fault fired");
    assert!(matches!(&failed.op, EventOp::Sync { path } if path.ends_with(".wal")));
    let glyph = format!("<g class=\"ev op-sync\" data-event=\"{}\">", failed.index);
    let at = html.find(&glyph).expect("the failed sync is drawn");
    let drawn = &html[at..at + html[at..].find("</g>").unwrap()];
    assert!(
        drawn.contains("g-sync failed") && drawn.contains("g-fault"),
        "{drawn}"
    );
    assert!(
        drawn.contains("EIO"),
        "the tooltip gives the result: {drawn}"
    );
    // The retry is the next sync of the WAL, and it succeeded.
    let retry = log[failed.index as usize + 1..]
        .iter()
        .find(|e| matches!(&e.op, EventOp::Sync { path } if path.ends_with(".wal")))
        .unwrap();
    assert_eq!(retry.result, "ok");
    assert!(html.contains(&format!(
        "<g class=\"ev op-sync\" data-event=\"{}\">",
        retry.index
    )));
    assert!(page.faults.iter().any(|f| f.contains("FsyncMarkClean")));
    assert!(html.contains("<section class=\"faults\">"));
}

/// The engine's current_before_manifest_durable defect points CURRENT at a MANIFEST that is not
/// durable yet. The repository's crash-during-recovery scenario cuts the power again and again
/// while the engine recovers; one cut lands in recovery, after CURRENT names the new MANIFEST
/// and before it is synced, and the next recovery refuses.
#[test]
fn a_power_cut_inside_recovery_is_marked_in_the_recovery_phase() {
    let mut s = repo_scenario("crash-during-recovery.json");
    s.bugs = vec!["current_before_manifest_durable".to_string()];
    s.expect_violation = None;
    let outcome = run_scenario(&s);
    let (page, html) = page_of(&outcome, s.store.clone());
    let log = events(&outcome);
    every_changed_path_has_a_lane(&html, log, engine_role);
    every_crash_is_marked(&html, &outcome);
    the_violation_is_shown(&html, &outcome);
    let last = outcome.crashes.last().unwrap();
    assert!(last.during_recovery && last.phase == faultfs::Phase::Recovery);
    assert!(html.contains(&format!(
        "power cut {} · recovery · in recovery",
        outcome.crashes.len()
    )));
    assert!(html.contains("class=\"phase phase-recovery\""));
    // One collapsible part per power-on, each reboot with what it decided.
    let reboots = log
        .iter()
        .filter(|e| matches!(e.op, EventOp::Reboot { .. }))
        .count();
    assert_eq!(
        html.matches("<details class=\"epoch\"").count(),
        reboots + 1
    );
    assert_eq!(
        html.matches("<g class=\"reboot-survivors\"").count(),
        reboots
    );
    for role in ["log", "data", "manifest", "pointer"] {
        assert!(lanes(&html).values().any(|r| r == role), "no {role} lane");
    }
    assert_eq!(page.crashes.len(), outcome.crashes.len());
    assert!(html.contains("<pre class=\"replay-command\">"));
}

/// A run of a few hundred steps must stay readable: runs of writes to one file share a column,
/// the middle of a long epoch folds into one gap, and epochs far from the failure start closed.
#[test]
fn a_long_run_merges_writes_folds_long_epochs_and_closes_early_ones() {
    let opts = powercut::RunOptions {
        bugs: vec!["sync_write_without_wal_sync".to_string()],
        policy: Some(faultfs::CrashPolicy::Strict),
        ops: 400,
        crashes_max: 6,
        ..powercut::RunOptions::default()
    };
    let outcome = (0..40)
        .map(|seed| crate::support::engine_seed(seed, &opts))
        .find(|o| !o.passed() && o.crashes.len() >= 3)
        .expect("a long failing run with several power cuts");
    let (_, html) = page_of(&outcome, None);
    every_changed_path_has_a_lane(&html, events(&outcome), engine_role);
    every_crash_is_marked(&html, &outcome);
    let drawn = html.matches("<g class=\"ev ").count();
    let total = events(&outcome).len();
    assert!(drawn < total / 2, "{drawn} of {total} events drawn");
    assert!(!folds(&html).is_empty(), "no long epoch was folded");
    assert!(
        html.contains("<text class=\"count\""),
        "no merged run of writes"
    );
    let parts = html.matches("<details class=\"epoch\"").count();
    let open = html.matches("\" open>\n<summary>Power-on").count();
    assert!(parts >= 3, "{parts} parts");
    assert!(open >= 1 && open < parts, "{open} of {parts} parts open");
}

/// The page is one file that needs nothing else: no script, no stylesheet or font to fetch, no
/// link out; and a store the harness does not know gets lanes named by the roles it gives.
#[test]
fn a_page_of_any_store_needs_no_network_and_no_script() {
    use faultfs::{CrashPolicy, Phase};
    let ev = |index: u64, op: EventOp| Event {
        index,
        phase: Phase::Write,
        op,
        result: "ok".into(),
        fault: None,
    };
    let page = Page {
        title: "lost_durable: a b-tree".into(),
        store: "btree".into(),
        seed: None,
        policy: Some(CrashPolicy::Strict),
        replay: "btree-check --case 7".into(),
        notes: vec!["<not markup>".into()],
        faults: Vec::new(),
        events: vec![
            ev(
                0,
                EventOp::Create {
                    path: "d/journal".into(),
                },
            ),
            ev(
                1,
                EventOp::Write {
                    path: "d/journal".into(),
                    offset: 0,
                    len: 100,
                },
            ),
            ev(
                2,
                EventOp::Create {
                    path: "d/pages.db".into(),
                },
            ),
            ev(3, EventOp::PowerOff),
            ev(
                4,
                EventOp::Reboot {
                    policy: CrashPolicy::Strict,
                    seed: 0,
                    outcome: faultfs::RebootOutcome {
                        atomic_sectors: false,
                        ordered_metadata: false,
                        decisions: vec![
                            faultfs::RebootDecision::File {
                                path: "d/journal".into(),
                                changes: 1,
                                pieces: vec![faultfs::FilePiece {
                                    offset: 0,
                                    len: 8,
                                    change: faultfs::ChangeKind::Write,
                                    fate: faultfs::PieceFate::Dropped,
                                }],
                            },
                            faultfs::RebootDecision::Namespace {
                                op: faultfs::NamespaceOp::Create {
                                    path: "d/journal".into(),
                                },
                                kept: false,
                            },
                            faultfs::RebootDecision::Namespace {
                                op: faultfs::NamespaceOp::Create {
                                    path: "d/pages.db".into(),
                                },
                                kept: false,
                            },
                        ],
                    },
                },
            ),
        ],
        roles: BTreeMap::from([
            ("d/journal".to_string(), FileKind::Log),
            ("d/pages.db".to_string(), FileKind::Data),
            ("d".to_string(), FileKind::Other),
        ]),
        steps: vec![html::StepSpan {
            label: "put k=v".into(),
            kind: html::StepKind::Write,
            first_event: 0,
            end_event: 3,
            acked: true,
            made_durable: false,
        }],
        crashes: vec![html::CrashMark {
            event_index: 3,
            phase: Phase::Write,
            during_recovery: false,
            bounds: (0, 1),
            policy: CrashPolicy::Strict,
            result: "recovered the model after 0 writes".into(),
        }],
        violation: None,
        hints: Vec::new(),
        trace_hash: 7,
    };
    let text = html::render(&page);
    assert!(text.starts_with("<!DOCTYPE html>"));
    for banned in [
        "<script", "<link", "src=", "href=", "@import", "url(", "https://",
    ] {
        assert!(!text.contains(banned), "the page contains {banned}");
    }
    // The only address is the SVG namespace, which is a name, not a fetch.
    assert_eq!(
        text.matches("http://").count(),
        text.matches("http://www.w3.org/2000/svg").count()
    );
    let drawn = lanes(&text);
    assert_eq!(drawn["d/journal"], "log");
    assert_eq!(drawn["d/pages.db"], "data");
    assert_eq!(drawn["d"], "dir");
    assert!(text.contains("data-path=\"d/journal\" data-fill=\"dropped\" data-range=\"0..100\""));
    assert!(text.contains("&lt;not markup&gt;"));
}

/// `gate --html DIR` writes a page per failure, names it in the JSON report, and the page is the
/// failure the report describes.
#[test]
fn the_gate_writes_a_page_per_failure_and_lists_it_in_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("pages");
    let pages_arg = pages.to_str().unwrap().to_string();
    let args = [
        "--store",
        "careless",
        "--seeds",
        "40",
        "--threads",
        "1",
        "--max-violations",
        "2",
        "--no-regressions",
        "--shrink-runs",
        "50",
        "--html",
        &pages_arg,
    ];
    let (code, report) = crate::gate_support::gate_report(dir.path(), "gate", &args);
    assert_eq!(code, 1);
    let violations = report["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 2);
    for v in violations {
        let path = v["html"].as_str().expect("each violation names its page");
        assert!(Path::new(path).starts_with(&pages), "{path}");
        let text = std::fs::read_to_string(path).unwrap();
        let kind = v["kind"].as_str().unwrap();
        assert!(text.contains(&format!("data-kind=\"{kind}\"")));
        assert!(text.contains(&esc(v["report"]["replay"].as_str().unwrap())));
    }
}

/// `replay --html FILE` writes the page of the run it replays (shrunk: the page says so and
/// still gives the seed's command).
#[test]
fn replay_writes_the_page_of_the_failure_it_replays() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fail.html");
    let f = file.to_str().unwrap();
    let code = crate::support::cli([
        "powercut", "replay", "--seed", "0", "--store", "careless", "--policy", "strict", "--html",
        f,
    ]);
    assert_eq!(code, 1);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("powercut replay --store careless --seed 0 --policy strict"));
    assert!(text.contains("Shrunk from"));
    assert!(text.contains("data-path=\"db/log\" data-role=\"log\""));
}
