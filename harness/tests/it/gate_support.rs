//! Helpers for the gate tests: running the CLI in process and reading what it wrote.

use std::path::Path;

use serde_json::Value;

/// Runs `powercut gate ARGS...` in process; returns the exit code.
pub fn gate(args: &[&str]) -> u8 {
    let mut all = vec!["powercut", "gate", "--quiet"];
    all.extend_from_slice(args);
    powercut::cli::shipped_main(all.into_iter().map(Into::into).collect())
}

/// Runs the gate writing a JSON report into `dir`; returns the exit code and the report.
pub fn gate_report(dir: &Path, name: &str, args: &[&str]) -> (u8, Value) {
    let path = dir.join(format!("{name}.json"));
    let mut all: Vec<&str> = args.to_vec();
    let p = path.to_str().unwrap().to_string();
    all.extend_from_slice(&["--report", &p]);
    let code = gate(&all);
    let text = std::fs::read_to_string(&path).unwrap();
    (code, serde_json::from_str(&text).unwrap())
}

/// The report without its `timing` (the only part allowed to differ between equal runs).
pub fn without_timing(mut report: Value) -> Value {
    if let Some(obj) = report.as_object_mut() {
        obj.remove("timing");
    }
    report
}
