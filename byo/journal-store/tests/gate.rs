//! The durability gate, run the way a user runs it: through the built binaries, reading exit
//! codes, printed lines and the JSON report (`--report`).
//!
//! Seed budgets (`--seeds N`) rather than time budgets keep every run here deterministic: the
//! report of a seed-budgeted gate depends only on the seeds, not on the machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const STORE: &str = env!("CARGO_BIN_EXE_journal-store");
const NODIRSYNC: &str = env!("CARGO_BIN_EXE_journal-store-nodirsync");

/// Enough seeds that every swept fault class fires (the least frequent, read_error, fires in
/// about one seed in four of those that draw it; 1200 seeds give it ~24).
const SEEDS: &str = "1200";

/// Every fault class but truncate, plus crash-only runs.
const ALL_BUT_TRUNCATE: [&str; 11] = [
    "none",
    "read_error",
    "write_error",
    "sync_error",
    "no_space",
    "fsync_mark_clean",
    "fsync_report_later",
    "fsync_revert",
    "bit_flip",
    "torn_sector",
    "misdirected_write",
];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(bin: &str, args: &[&str]) -> Run {
    let out = Command::new(bin)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn report_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.json"))
}

fn read_report(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
    serde_json::from_str(&text).expect("the report is JSON")
}

/// Runs a gate with a JSON report and returns (run, report).
fn gate(bin: &str, name: &str, args: &[&str]) -> (Run, Value) {
    let path = report_path(name);
    let _ = std::fs::remove_file(&path);
    let path_str = path.to_str().expect("utf-8 path").to_owned();
    let mut all = vec!["gate", "--quiet", "--report", path_str.as_str()];
    all.extend_from_slice(args);
    let r = run(bin, &all);
    let report = read_report(&path);
    (r, report)
}

fn with_faults<'a>(mut args: Vec<&'a str>, faults: &[&'a str]) -> Vec<&'a str> {
    for f in faults {
        args.push("--fault");
        args.push(f);
    }
    args
}

/// Every fault class the report lists fired at least once, or is declared unreachable.
fn assert_every_class_fired(report: &Value, expect_classes: usize) {
    let classes = report["fault_classes"]
        .as_array()
        .expect("fault_classes is an array");
    assert_eq!(
        classes.len(),
        expect_classes,
        "fault classes in the report: {classes:#?}"
    );
    for c in classes {
        let fired = c["fired"].as_u64().expect("fired is a count");
        assert!(
            fired > 0 || !c["unreachable"].is_null(),
            "class {} was armed {} times and never fired",
            c["class"],
            c["armed"]
        );
    }
}

fn summary(r: &Run) -> String {
    let tail: Vec<&str> = r.stdout.lines().rev().take(40).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!(
        "exit {}\n--- stdout (tail) ---\n{}\n--- stderr ---\n{}",
        r.code,
        tail.join("\n"),
        r.stderr
    )
}

/// Splits a printed command line into words (plain words and single-quoted ones, which is all
/// powercut prints, e.g. `--config '{"a":1}'`).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for ch in line.chars() {
        match ch {
            '\'' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quote in {line:?}");
    if in_word {
        words.push(cur);
    }
    words
}

/// The value of the last line starting with `prefix`.
fn last_line_value<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix(prefix))
        .map(str::trim)
}

fn trace_hashes(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("trace-hash:"))
        .map(str::trim)
        .collect()
}

/// Runs a printed `replay:` command with `bin` in place of the program name it starts with.
fn run_replay_line(bin: &str, line: &str) -> Run {
    let words = shell_words(line);
    let (program, args) = words.split_first().expect("an empty replay command");
    assert!(
        bin.ends_with(program.as_str()),
        "the replay line names {program}, not the binary {bin}"
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(bin, &args)
}

#[test]
fn correct_store_passes_the_gate_on_every_class_but_truncate() {
    let args = with_faults(vec!["--seeds", SEEDS, "--min-coverage"], &ALL_BUT_TRUNCATE);
    let (r, report) = gate(STORE, "correct-all-but-truncate", &args);
    assert_eq!(r.code, 0, "{}", summary(&r));
    assert_eq!(report["passed"], Value::Bool(true));
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["seeds"]["run"], 1200);
    assert_eq!(report["seeds"]["failed"], 0);
    assert_every_class_fired(&report, ALL_BUT_TRUNCATE.len() - 1);
}

/// With `checkpoint_on_open` the journal never holds batches from before the last open, and
/// the whole gate, truncate included, passes with every class fired.
#[test]
fn correct_store_with_checkpoint_on_open_passes_the_whole_gate() {
    let (r, report) = gate(
        STORE,
        "correct-checkpoint-on-open",
        &[
            "--seeds",
            SEEDS,
            "--min-coverage",
            "--config",
            r#"{"checkpoint_on_open":true}"#,
        ],
    );
    assert_eq!(r.code, 0, "{}", summary(&r));
    assert_eq!(report["passed"], Value::Bool(true));
    assert_every_class_fired(&report, 11);
}

/// Every value `key` is ever given by a put in the case's steps (batches included).
fn values_written(steps: &Value, key: &str) -> Vec<String> {
    fn walk(v: &Value, key: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if let Some(put) = map.get("put")
                    && put["key"] == key
                    && let Some(value) = put["value"].as_str()
                {
                    out.push(value.to_owned());
                }
                for child in map.values() {
                    walk(child, key, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, key, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(steps, key, &mut out);
    out
}

/// Truncation fires, and the only verdicts it draws are the ones recorded in
/// `byo/FINDINGS.md`: after a truncation the store recovers an older state than the last open
/// had, which powercut rejects although it is a prefix of the acknowledged writes. Each such
/// verdict is checked to be that and nothing else: damage bounds (lower bound 0), a value the
/// workload really wrote for every key reported as "phantom", and the same seed passing once
/// the store checkpoints at open. Zero violations (a fixed powercut) passes too.
#[test]
fn truncation_only_draws_the_verdict_about_pre_open_state() {
    let (r, report) = gate(
        STORE,
        "correct-truncate",
        &[
            "--seeds",
            "600",
            "--fault",
            "truncate",
            "--max-violations",
            "600",
            "--shrink-runs",
            "0",
        ],
    );
    assert!(r.code == 0 || r.code == 1, "{}", summary(&r));
    assert_every_class_fired(&report, 1);
    let violations = report["violations"].as_array().expect("violations");
    for v in violations {
        let replay = v["replay"].as_str().expect("replay");
        let kind = v["kind"].as_str().expect("kind");
        assert!(
            kind == "phantom" || kind == "not_a_prefix",
            "{replay}: unexpected {kind}: {}",
            v["message"]
        );
        let rep = &v["report"];
        assert_eq!(
            rep["violation"]["bounds"][0], 0,
            "{replay}: not judged as damage"
        );
        for diff in rep["violation"]["diffs"].as_array().expect("diffs") {
            if let Some(recovered) = diff["recovered"].as_str() {
                let key = diff["key"].as_str().expect("key");
                assert!(
                    values_written(&rep["workload"], key)
                        .iter()
                        .any(|w| w == recovered),
                    "{replay}: {key} recovered {recovered:?}, which no put wrote"
                );
            }
        }
        let mut words = shell_words(replay);
        words.extend(["--config".into(), r#"{"checkpoint_on_open":true}"#.into()]);
        let line = words
            .iter()
            .map(|w| {
                if w.contains(['{', '"', ' ']) {
                    format!("'{w}'")
                } else {
                    w.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        let again = run_replay_line(STORE, &line);
        assert_eq!(
            again.code,
            0,
            "{line}: still fails with checkpoint_on_open\n{}",
            summary(&again)
        );
    }
}

/// What the whole 20-second gate asks, on a seed budget: every fault class, truncation
/// included (the checker judges a recovery against the whole history since creation, so a
/// truncated journal may roll back past a clean reopen; see byo/FINDINGS.md).
#[test]
fn correct_store_passes_the_whole_gate() {
    let (r, report) = gate(
        STORE,
        "correct-whole",
        &["--seeds", SEEDS, "--min-coverage"],
    );
    assert_eq!(r.code, 0, "{}", summary(&r));
    assert_every_class_fired(&report, 11);
}

#[test]
fn truncating_an_unopened_journal_may_roll_back_to_empty() {
    let r = run(
        STORE,
        &["scenario", "tests/scenarios/truncate_without_reopen.json"],
    );
    assert_eq!(r.code, 0, "{}", summary(&r));
}

#[test]
fn truncating_a_reopened_journal_may_roll_back_to_empty() {
    let r = run(
        STORE,
        &["scenario", "tests/scenarios/truncate_after_reopen.json"],
    );
    assert_eq!(r.code, 0, "{}", summary(&r));
}

/// The variant that never syncs the directory after creating the journal fails the gate, and
/// the printed replay command reproduces the failure's trace hash.
#[test]
fn nodirsync_fails_the_gate_and_its_replay_reproduces_the_trace_hash() {
    let (r, report) = gate(NODIRSYNC, "nodirsync", &["--seeds", SEEDS]);
    assert_eq!(r.code, 1, "{}", summary(&r));
    assert_eq!(report["passed"], Value::Bool(false));
    let v = &report["violations"][0];
    assert_eq!(v["kind"], "lost_durable", "{}", summary(&r));

    // The gate prints the shrunk case's trace hash, then the command replaying the seed.
    let printed_hash = last_line_value(&r.stdout, "trace-hash:").expect("a trace-hash line");
    let replay = last_line_value(&r.stdout, "replay:").expect("a replay line");
    assert_eq!(replay, v["replay"].as_str().expect("replay in the report"));
    let report_hash = format!("{:016x}", v["report"]["trace_hash"].as_u64().expect("hash"));
    assert_eq!(printed_hash, report_hash);

    // Replaying reruns the seed and shrinks it again: the shrunk case's hash comes back.
    let again = run_replay_line(NODIRSYNC, replay);
    assert_eq!(again.code, 1, "{}", summary(&again));
    assert!(
        trace_hashes(&again.stdout).contains(&printed_hash),
        "replay printed {:?}, the gate {printed_hash}",
        trace_hashes(&again.stdout)
    );
}

/// Without shrinking, the gate's report is the seed's own run, and the replay's final
/// trace-hash line is that run's.
#[test]
fn nodirsync_unshrunk_replay_has_the_same_trace_hash() {
    let (r, report) = gate(
        NODIRSYNC,
        "nodirsync-unshrunk",
        &["--seeds", SEEDS, "--shrink-runs", "0"],
    );
    assert_eq!(r.code, 1, "{}", summary(&r));
    let v = &report["violations"][0];
    let report_hash = format!("{:016x}", v["report"]["trace_hash"].as_u64().expect("hash"));
    let replay = last_line_value(&r.stdout, "replay:").expect("a replay line");
    let again = run_replay_line(NODIRSYNC, replay);
    assert_eq!(again.code, 1, "{}", summary(&again));
    assert_eq!(
        last_line_value(&again.stdout, "trace-hash:"),
        Some(report_hash.as_str()),
        "{}",
        summary(&again)
    );
}
