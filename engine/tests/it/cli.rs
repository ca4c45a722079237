//! `lsm-cli` on a real directory: data written in one run is found by the next.

use std::process::Command;

fn cli(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lsm-cli"))
        .arg("--dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_data_survives_between_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    assert_eq!(cli(d, &["fill", "1000", "2000"]).0, 0);
    let (_, out, _) = cli(d, &["get", "1500"]);
    assert_eq!(out.trim(), "1500=value1500");
    let (_, out, _) = cli(d, &["scan", "1000", "1010"]);
    assert_eq!(out.lines().count(), 11);
    assert_eq!(cli(d, &["del", "1500", "flush", "compact", "close"]).0, 0);
    let (_, out, _) = cli(d, &["get", "1500", "get", "1999"]);
    assert_eq!(out, "1500 not found\n1999=value1999\n");
}

#[test]
fn cli_usage_errors_are_clear_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err) = cli(tmp.path(), &["get"]);
    assert_eq!(code, 2);
    assert!(err.contains("`get` needs KEY"), "{err}");
    let (code, _, err) = cli(tmp.path(), &["frobnicate"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown command `frobnicate`"), "{err}");
}
