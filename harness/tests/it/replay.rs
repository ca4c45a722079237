//! Determinism: one seed replays exactly (equal trace hashes) under every policy.

use powercut::stores::{CarelessStore, EngineStore};
use powercut::{PolicyKind, RunOptions, Store, run_seed};

use crate::support::{cli, engine_seed};

fn seeds() -> u64 {
    std::env::var("POWERCUT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
        / 20
}

fn replays_equal<S: Store>(faults: Vec<faultfs::FaultClass>) {
    for kind in PolicyKind::ALL {
        for seed in 0..seeds().max(3) {
            let opts = RunOptions {
                policy: Some(kind.policy()),
                faults: faults.clone(),
                ..RunOptions::default()
            };
            let a = run_seed::<S>(seed, &opts).unwrap();
            let b = run_seed::<S>(seed, &opts).unwrap();
            assert_eq!(
                a.trace_hash,
                b.trace_hash,
                "{} seed {seed} policy {}",
                S::name(),
                kind.name()
            );
            assert_eq!(a.crashes, b.crashes);
            assert_eq!(a.violations, b.violations);
        }
    }
}

#[test]
fn two_replays_of_a_careless_seed_give_the_same_trace_hash() {
    replays_equal::<CarelessStore>(Vec::new());
}

#[test]
fn two_replays_of_an_engine_seed_give_the_same_trace_hash_under_every_policy_and_fault() {
    replays_equal::<EngineStore>(powercut::swarm::ALL_FAULTS.to_vec());
}

#[test]
fn fixing_the_policy_a_seed_drew_replays_the_same_run() {
    let drawn = engine_seed(11, &RunOptions::default());
    let policy = drawn.config.as_ref().unwrap().policy;
    let fixed = engine_seed(
        11,
        &RunOptions {
            policy: Some(policy),
            ..RunOptions::default()
        },
    );
    assert_eq!(drawn.trace_hash, fixed.trace_hash);
}

#[test]
fn the_replay_command_prints_the_trace_hash_and_exits_by_verdict() {
    let ok = cli([
        "powercut", "replay", "--seed", "1", "--store", "careless", "--policy", "keepall",
    ]);
    assert!(ok == 0 || ok == 1);
    assert_eq!(cli(["powercut", "replay", "--seed", "x"]), 2);
    assert_eq!(
        cli(["powercut", "replay", "--seed", "1", "--policy", "nope"]),
        2
    );
    assert_eq!(
        cli(["powercut", "replay", "--seed", "1", "--fault", "nope"]),
        2
    );
    assert_eq!(
        cli(["powercut", "replay", "--seed", "1", "--store", "nope"]),
        2
    );
    assert_eq!(
        cli([
            "powercut",
            "replay",
            "--seed",
            "1",
            "--config",
            "{\"wal\":7}"
        ]),
        2,
        "a configuration the store rejects is bad input"
    );
}

/// Event paths are shared text in memory, but every outside form shows them as plain strings:
/// the JSON of reports and traces, `Debug` and `Display`.
#[test]
fn event_paths_read_as_plain_strings_in_json_debug_and_display() {
    let op = faultfs::EventOp::Rename {
        from: "db/CURRENT.tmp".into(),
        to: "db/CURRENT".into(),
    };
    let json = serde_json::to_string(&op).expect("serialise");
    assert_eq!(
        json,
        r#"{"op":"rename","from":"db/CURRENT.tmp","to":"db/CURRENT"}"#
    );
    let back: faultfs::EventOp = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, op);
    assert_eq!(
        format!("{op:?}"),
        r#"Rename { from: "db/CURRENT.tmp", to: "db/CURRENT" }"#
    );
    assert_eq!(op.to_string(), "rename db/CURRENT.tmp -> db/CURRENT");
}
