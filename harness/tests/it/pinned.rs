//! Pinned outcomes: the trace hash and the verdict of seeded engine runs, recorded before the
//! crash cycle was optimised (issue 13), so speed work that changes anything a user can observe
//! (an event, a reboot decision, a recovery, a verdict, a report line) fails here.
//!
//! The runs: the first 48 seeds of the gate's full sweep (every crash policy crossed with
//! crash-only runs and each of the 11 fault classes, once each), four failing seeds of engine
//! defects (so a violation's report is pinned too), and the combined figures `powercut-bench
//! --seeds N` prints. A value here changes only when the simulator, the engine or the checker
//! is meant to behave differently; then recompute it and say why in the commit.

use powercut::gate::sweep::Sweep;
use powercut::{RecoveryResult, RunOptions, RunOutcome};

use crate::support::engine_seed;

/// xxh3 of some text, in hex: a short pin for a long rendering.
fn digest(text: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

/// The verdict in short: `pass` or the violation's kind, then how each crash's recovery ended.
fn verdict(o: &RunOutcome) -> String {
    let head = o
        .violations
        .first()
        .map_or("pass", |v| v.kind.name())
        .to_string();
    let results: Vec<String> = o
        .crashes
        .iter()
        .map(|c| match &c.result {
            RecoveryResult::Recovered { k } => format!("k{k}"),
            RecoveryResult::Refused { .. } => "refused".into(),
            RecoveryResult::RolledBack { k, durable } => format!("back{k}<{durable}"),
            RecoveryResult::Unchecked { .. } => "unchecked".into(),
            RecoveryResult::CrashedAgain => "again".into(),
            RecoveryResult::Violated => "violated".into(),
        })
        .collect();
    format!("{head} {}", results.join(","))
}

/// Everything else a run reports, rendered and digested: where each crash fell and its bounds,
/// the tallies, what was covered, the damage done, the findings, and for a failing run its
/// report and the text of every event.
fn details(o: &RunOutcome) -> String {
    let mut text = String::new();
    for c in &o.crashes {
        text += &format!(
            "crash #{} {} {:?} {} recovery={} bounds={:?} {:?}\n",
            c.event_index, c.phase, c.path, c.policy, c.during_recovery, c.bounds, c.result
        );
    }
    let n = &o.counts;
    text += &format!(
        "steps={} writes={} acked={} crashes={} recoveries={} refusals={} rollbacks={} \
         swallowed={} unchecked={} faults_fired={} events={}\n",
        n.steps,
        n.writes,
        n.acked,
        n.crashes,
        n.recoveries,
        n.refusals,
        n.rollbacks,
        n.swallowed,
        n.unchecked,
        n.faults_fired,
        n.events
    );
    for f in &o.coverage {
        text += &format!(
            "covered {:?} {:?} {:?} {}\n",
            f.cause, f.file, f.path, f.phase
        );
    }
    for d in &o.damage {
        text += &format!("damage {} @{} {:?}\n", d.path, d.offset, d.class);
    }
    for f in &o.findings {
        text += &format!("finding {f}\n");
    }
    for v in &o.violations {
        text += &format!("violation {} {} {:?}\n", v.kind, v.message, v.diffs);
    }
    if let Some(r) = &o.report {
        text += &r.to_string();
    }
    if let Some(t) = &o.trace {
        for e in &t.events {
            text += &format!("{e}\n");
        }
    }
    digest(&text)
}

/// One pinned run: the seed, its trace hash, its verdict and the digest of its details.
type Pin = (u64, u64, &'static str, &'static str);

/// The pinned runs among `runs` whose outcome changed, each rendered as its new pin.
fn changed(runs: &[Pin], opts: impl Fn(u64) -> RunOptions) -> Vec<String> {
    let mut wrong = Vec::new();
    for &(seed, hash, want_verdict, want_details) in runs {
        let o = engine_seed(seed, &opts(seed));
        let got = (o.trace_hash, verdict(&o), details(&o));
        if got != (hash, want_verdict.to_string(), want_details.to_string()) {
            wrong.push(format!(
                "    ({seed}, 0x{:016x}, {:?}, {:?}),",
                got.0, got.1, got.2
            ));
        }
    }
    wrong
}

/// Seeds 0..48 of the full gate sweep: each (policy, fault slot) combination once.
#[rustfmt::skip]
const SWEEP: &[Pin] = &[
    (0, 0x1079783414eb5df3, "pass again,k44", "57066024ad2ec6c1"),
    (1, 0xd5f464d7aea9868b, "pass again,again,refused", "2f4f399794d18b45"),
    (2, 0xb29411173513a3ab, "pass k17,k8,k22,k7,k21", "064ca8e78d5fab07"),
    (3, 0xeff7b62ba3358732, "pass again,k19,refused", "36a795d9b1fe1ce4"),
    (4, 0x1d425cc94c88986d, "pass again,k29,k47", "8d06b81d8316813b"),
    (5, 0x92a7cf64fe3f7ef0, "pass refused", "108430cda99a25f3"),
    (6, 0x041b025d592efdcb, "pass again,k27", "6cdcd95c9c1dbe18"),
    (7, 0x7ab70b16fedf62a3, "pass k2,k34", "bd3aaa4287f296ec"),
    (8, 0x755588e5dc933f9a, "pass k33,again,k7,k23", "f4dd5b7f9be52f9c"),
    (9, 0x0020c9c6276c31db, "pass again,k76", "c3c06188f4d4b17d"),
    (10, 0x9a90c7b556c164e8, "pass k2,k42,k31", "20bbc27b3d91d2db"),
    (11, 0x14a60cc3f33cf9f4, "pass k23,k46", "d9976d1dd373d3c1"),
    (12, 0x1e3ea9836b3c6125, "pass k22,k49", "0bee38ac146fbde2"),
    (13, 0xf958f7c804bfdfe9, "pass again,again,k13,k65", "92ba91f73f669a78"),
    (14, 0xc6f9b4c8a2a65f01, "pass again,k55,k3", "f0f931073b2704a3"),
    (15, 0xef87642696a4ae44, "pass k16,k0,k0,k17", "7e1b68bbcda0cd8b"),
    (16, 0x0c2bc8196fc0adec, "pass k3,k0", "319d27e5764c80d3"),
    (17, 0xe48df355261b1ee2, "pass again,k0,k58,k4,k2", "8c3b82cf4470ebd7"),
    (18, 0xae9150e3a4f806f4, "pass k4,refused", "4687c198fd8e076f"),
    (19, 0x0b1cd20e228fa8bb, "pass again,back21<25,k1,k11", "1e323e19504d1720"),
    (20, 0x266bfced865072be, "pass k22,k12", "1257bfe70467864b"),
    (21, 0x401855425d836ab7, "pass k2,k67,k10", "6804bfcb3cd05e8a"),
    (22, 0x8f9489ab4bd8e6ef, "pass k32,k16,k5,k10", "c15392f8aaccd079"),
    (23, 0x3026b28945c3f801, "pass k20,k6,k37", "9bd942d78bd522fa"),
    (24, 0x2f3af79fe167037a, "pass again,k18,k45", "b41f1790399b6e7d"),
    (25, 0xea7d791df311ac1a, "pass k4,k19,k45", "9294d83510533fe5"),
    (26, 0xb07eed9a5662aac3, "pass k10,k1,refused", "b51df1dc5ca9ce99"),
    (27, 0x00acc248d8dcf903, "pass k76", "62825b8ab7807ae1"),
    (28, 0x26c0447d4bb7736d, "pass again,refused", "bcc40f4fa82aa378"),
    (29, 0x99499f21d72b9e2d, "pass again,k40,k1,k36", "a8155d2153f45b13"),
    (30, 0x4b89af11b94bacbd, "pass again,k63,k26", "0ca40bf0051d7960"),
    (31, 0xe34d67d42ddc22ca, "pass again,k50,again,k30", "a95335b42bcf315a"),
    (32, 0x8017839534d68f2c, "pass k13,refused", "58b9be36a8e38231"),
    (33, 0xbd6f2d92aebdf5f9, "pass k14,again,k33", "37447c22658189d3"),
    (34, 0x5a8f33a50e7b8659, "pass again,refused", "ba40278f17ac2e8f"),
    (35, 0x9ee89f179c83cb17, "pass again,k31,k65", "49dfaeec892ea4d3"),
    (36, 0x1bf1dd9a4cafcf9a, "pass k21,k6", "f6b4be9f237363a4"),
    (37, 0xc8721b96d2c237c0, "pass k16", "a84f77ab5aaf637a"),
    (38, 0x0e2b684db55fed43, "pass again,k16,k43,again,k13,k12", "bbda0379102ffd04"),
    (39, 0x354cac2c8ca695a2, "pass refused", "51d6e69544ecc1ae"),
    (40, 0x8632c6078772a7dc, "pass again,again,k9,again,k67", "1651b9cb06d16768"),
    (41, 0x08e0c56090c03cd3, "pass again,again,k4", "b341a11605bc51b5"),
    (42, 0xc574649775750beb, "pass k4,k5,k11,k5,k49", "b177ec2d8133cbaf"),
    (43, 0x5646b8b8094fa3bb, "pass again,again,k20,k23", "8c2c38d2e96482f7"),
    (44, 0xeef2a5295bb8f8cc, "pass k0,k15", "f24592737745e395"),
    (45, 0x111bb246185319a8, "pass k59,k9", "6dc2d84c9244e0aa"),
    (46, 0xd97edcc941697e3f, "pass again,refused", "9e5e7c2419da9a71"),
    (47, 0xe2c0aef9cc68e7e5, "pass k15,refused", "79dcee9fa699a777"),
];

#[test]
fn the_gate_sweeps_first_block_keeps_its_trace_hashes_and_verdicts() {
    let sweep = Sweep::full();
    assert_eq!(sweep.combinations(), 48);
    let wrong = changed(SWEEP, |seed| sweep.run_options(seed));
    assert!(
        wrong.is_empty(),
        "{} of {} pinned runs changed; now:\n{}",
        wrong.len(),
        SWEEP.len(),
        wrong.join("\n")
    );
}

/// Failing seeds of engine defects (found by `powercut gate --bug NAME`).
#[rustfmt::skip]
const DEFECTS: &[(&str, Pin)] = &[
    ("sync_write_without_wal_sync", (2, 0x158ec3e1ab2a8086, "lost_durable k19,k10,violated", "e00df47fad10b786")),
    ("bad_record_is_torn_tail", (3, 0xf096e6d17d8b4a8b, "lost_durable again,k19,violated", "5fd0fcbdd1e959f2")),
    ("sst_dir_entry_not_synced", (2, 0x31c93d0b4ad330ce, "unclean_refusal k19,k10,k26,violated", "9109feec0ef0fbc8")),
    ("fsync_retried", (17, 0xfd1d25d286e63d41, "swallowed_fsync_error again,k0,k58", "a3e2970e7b1aed7f")),
];

#[test]
fn failing_seeds_of_engine_defects_keep_their_violations_and_reports() {
    let mut wrong = Vec::new();
    for (bug, pin) in DEFECTS {
        let sweep = Sweep {
            bugs: vec![bug.to_string()],
            ..Sweep::full()
        };
        for line in changed(std::slice::from_ref(pin), |seed| sweep.run_options(seed)) {
            wrong.push(format!("{bug}: {line}"));
        }
    }
    assert!(wrong.is_empty(), "changed; now:\n{}", wrong.join("\n"));
}

/// What `powercut-bench --seeds 200` prints, computed the same way: crash-recover-check cycles,
/// steps, failed runs and the combined trace hash of seeds 0..200 under the default options.
#[test]
fn the_benchmark_workload_keeps_its_combined_trace_hash() {
    let (mut cycles, mut steps, mut failed, mut hash) = (0u64, 0u64, 0u64, 0u64);
    for seed in 0..200u64 {
        let o = engine_seed(seed, &RunOptions::default());
        cycles += o.counts.crashes;
        steps += o.counts.steps;
        failed += u64::from(!o.passed());
        hash ^= o.trace_hash.rotate_left((seed % 64) as u32);
    }
    assert_eq!(
        (cycles, steps, failed, format!("{hash:016x}")),
        (524, 20587, 0, "5c67c448cc3fda80".to_string())
    );
}
