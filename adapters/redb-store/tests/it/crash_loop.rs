//! The crash sweep: a small seeded workload, cut at every mutating operation, rebooted under
//! each crash policy, reopened and held to redb's promise.
//!
//! The promise checked: the recovered pairs equal the state after some prefix of the attempted
//! batches (the batch in flight at the cut counts as attempted), and that prefix includes every
//! batch acknowledged as durable (a synced write, or any write before a successful `sync()` or
//! `close()`). A recovered store must also take a new synced write and show it after a clean
//! reopen. The only refusal accepted is the torn header sector of `known_findings`, recognised
//! by the magic number missing from the file, and only under `Torn` (outside redb's assumption
//! of atomic bytes). A cut inside the first open is held to the same promise as any other: the
//! store creates the file under a temporary name, so it must come back as an empty store.
//!
//! Size: `REDB_CRASH_WORKLOADS` workloads per configuration (default 4; Powercut's own sweep in
//! `sweep` covers wider ground); every workload is cut at each of its mutating operations under
//! every policy, with a distinct reboot seed per cut.
//! A violation names its workload seed, cut, policy and reboot seed; `one_cut` with those four
//! replays it alone.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use faultfs::{CrashPolicy, SimFs};
use redb_store::{BatchOp, KvError, Pairs, RedbConfig, RedbKv};

use crate::support::{all, magic_intact, open_sim, put};

/// The policies of the sweep.
const POLICIES: [CrashPolicy; 4] = [
    CrashPolicy::Strict,
    CrashPolicy::KeepAll,
    CrashPolicy::Torn { sector: 512 },
    CrashPolicy::Reorder { sector: 4096 },
];

/// One step of a workload.
#[derive(Clone, Debug)]
enum Step {
    Write { batch: Vec<BatchOp>, sync: bool },
    Sync,
    Close,
}

/// splitmix64: a whole workload from one seed, with no dependency and no hidden state.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Five batches of one to three changes over six keys, about 40% of them synced, an explicit
/// `sync()` somewhere in half the workloads, and a clean close at the end.
fn workload(seed: u64) -> Vec<Step> {
    let mut mix = Mix(seed);
    let mut steps = Vec::new();
    let sync_at = (mix.below(2) == 0).then(|| mix.below(5));
    for b in 0..5 {
        let mut batch = Vec::new();
        for j in 0..=mix.below(3) {
            let key = format!("k{}", mix.below(6));
            if mix.below(5) == 0 {
                batch.push((key.into_bytes(), None));
            } else {
                batch.push(put(&key, &format!("s{seed}-b{b}-{j}")));
            }
        }
        steps.push(Step::Write {
            batch,
            sync: mix.below(5) < 2,
        });
        if sync_at == Some(b) {
            steps.push(Step::Sync);
        }
    }
    steps.push(Step::Close);
    steps
}

/// What the workload got done before the cut.
#[derive(Debug, Default)]
struct Progress {
    /// Every batch handed to `write`, including the one in flight at the cut.
    attempted: Vec<Vec<BatchOp>>,
    /// How many of them were acknowledged durable.
    durable: usize,
}

/// Runs `steps` until the first error, which must be the power cut.
fn run(fs: &SimFs, config: &RedbConfig, steps: &[Step], p: &mut Progress) -> Result<(), String> {
    let mut kv = match open_sim(fs, config) {
        Ok(kv) => kv,
        Err(e) => return expect_power_loss("open", e),
    };
    for step in steps {
        let result = match step {
            Step::Write { batch, sync } => {
                p.attempted.push(batch.clone());
                kv.write(batch, *sync).map(|()| *sync)
            }
            Step::Sync => kv.sync().map(|()| true),
            Step::Close => return close(kv, p),
        };
        match result {
            Ok(true) => p.durable = p.attempted.len(),
            Ok(false) => {}
            Err(e) => return expect_power_loss("a workload step", e),
        }
    }
    Ok(())
}

fn close(kv: RedbKv, p: &mut Progress) -> Result<(), String> {
    match kv.close() {
        Ok(()) => {
            p.durable = p.attempted.len();
            Ok(())
        }
        Err(e) => expect_power_loss("close", e),
    }
}

fn expect_power_loss(what: &str, e: KvError) -> Result<(), String> {
    if e.is_power_loss() {
        Ok(())
    } else {
        Err(format!("{what} failed with {e} instead of the power cut"))
    }
}

/// The pairs after applying the first `k` batches.
fn model(batches: &[Vec<BatchOp>], k: usize) -> Pairs {
    let mut map = BTreeMap::new();
    for batch in &batches[..k] {
        for (key, value) in batch {
            match value {
                Some(v) => map.insert(key.clone(), v.clone()),
                None => map.remove(key),
            };
        }
    }
    map.into_iter().collect()
}

/// How one cut ended.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Recovered the state of exactly the durable prefix.
    RecoveredDurablePrefix,
    /// Recovered a longer prefix: the batch in flight, or unsynced ones, survived.
    RecoveredLongerPrefix,
    /// Refused, with the magic number gone, after the store was open: the sector holding redb's
    /// header was torn (zeroed or garbage). Outside redb's assumption that a byte is written
    /// whole or not at all, so legitimate only under `Torn`.
    HeaderSectorTorn,
    /// Anything else: a lost durable write, a state that is no prefix, a wrong error, a panic.
    Violation(String),
}

/// Reopens after the reboot and judges what came back.
fn judge(fs: &SimFs, config: &RedbConfig, p: &Progress) -> Outcome {
    let recovered = open_sim(fs, config).and_then(|kv| all(&kv).map(|pairs| (kv, pairs)));
    let (kv, state) = match recovered {
        Ok(found) => found,
        Err(e) if e.is_damage() && !magic_intact(fs) => return Outcome::HeaderSectorTorn,
        Err(e) => {
            return Outcome::Violation(format!(
                "reopen failed ({e}) with {} batches durable",
                p.durable
            ));
        }
    };
    let Some(k) = (p.durable..=p.attempted.len()).find(|&k| model(&p.attempted, k) == state) else {
        let lost = (0..p.durable).any(|k| model(&p.attempted, k) == state);
        return Outcome::Violation(format!(
            "{} {} of {} attempted batches durable; recovered {:?}",
            if lost {
                "lost a durable write:"
            } else {
                "no prefix matches:"
            },
            p.durable,
            p.attempted.len(),
            printable(&state)
        ));
    };
    if let Err(e) = still_usable(fs, config, kv, &state) {
        return Outcome::Violation(format!("recovered, then {e}"));
    }
    if k == p.durable {
        Outcome::RecoveredDurablePrefix
    } else {
        Outcome::RecoveredLongerPrefix
    }
}

/// A recovered store takes a synced write and shows it, with the rest, after a clean reopen.
fn still_usable(
    fs: &SimFs,
    config: &RedbConfig,
    mut kv: RedbKv,
    state: &Pairs,
) -> Result<(), String> {
    let probe = put("zz-after-recovery", "1");
    kv.write(std::slice::from_ref(&probe), true)
        .map_err(|e| format!("a write after recovery failed: {e}"))?;
    kv.close()
        .map_err(|e| format!("close after recovery failed: {e}"))?;
    let kv = open_sim(fs, config).map_err(|e| format!("the reopen failed: {e}"))?;
    let mut expected = state.clone();
    expected.push((probe.0, b"1".to_vec()));
    match all(&kv) {
        Ok(found) if found == expected => Ok(()),
        Ok(found) => Err(format!("the reopen shows {:?}", printable(&found))),
        Err(e) => Err(format!("the reopen's scan failed: {e}")),
    }
}

fn printable(pairs: &Pairs) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect()
}

/// One cut: the workload of `seed` cut after `n` mutating operations, rebooted under `policy`.
fn one_cut(
    config: &RedbConfig,
    seed: u64,
    n: u64,
    policy: CrashPolicy,
    reboot_seed: u64,
) -> Outcome {
    let steps = workload(seed);
    let attempt = catch_unwind(AssertUnwindSafe(|| {
        let fs = SimFs::with_seed(seed);
        fs.crash_after_ops(n);
        let mut progress = Progress::default();
        if let Err(e) = run(&fs, config, &steps, &mut progress) {
            return Outcome::Violation(e);
        }
        fs.reboot(policy, reboot_seed);
        judge(&fs, config, &progress)
    }));
    attempt.unwrap_or_else(|panic| {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Outcome::Violation(format!("panicked: {msg}"))
    })
}

/// How many mutating operations the workload of `seed` takes without a cut.
fn ops_of(config: &RedbConfig, seed: u64) -> u64 {
    let fs = SimFs::with_seed(seed);
    let mut progress = Progress::default();
    run(&fs, config, &workload(seed), &mut progress).expect("the uncut workload runs");
    assert_eq!(
        progress.durable,
        progress.attempted.len(),
        "close made all durable"
    );
    fs.mutating_ops()
}

/// Outcomes of one configuration's sweep, per policy.
#[derive(Debug, Default)]
struct Tally {
    cuts: usize,
    durable_prefix: usize,
    longer_prefix: usize,
    header_torn: Vec<u64>,
    violations: Vec<String>,
}

fn workloads() -> u64 {
    std::env::var("REDB_CRASH_WORKLOADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4)
}

/// Sweeps every cut of every workload under every policy.
fn sweep(config: &RedbConfig) -> BTreeMap<String, Tally> {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for seed in 0..workloads() {
        let ops = ops_of(config, seed);
        for policy in POLICIES {
            let tally = tallies.entry(format!("{policy:?}")).or_default();
            for n in 0..ops {
                let reboot_seed = seed.wrapping_mul(1_000_003).wrapping_add(n);
                tally.cuts += 1;
                match one_cut(config, seed, n, policy, reboot_seed) {
                    Outcome::RecoveredDurablePrefix => tally.durable_prefix += 1,
                    Outcome::RecoveredLongerPrefix => tally.longer_prefix += 1,
                    Outcome::HeaderSectorTorn => tally.header_torn.push(n),
                    Outcome::Violation(why) => tally.violations.push(format!(
                        "workload {seed}, cut after {n} ops, {policy:?} reboot seed {reboot_seed}: {why}"
                    )),
                }
            }
        }
    }
    tallies
}

fn report(name: &str, tallies: &BTreeMap<String, Tally>) {
    for (policy, t) in tallies {
        eprintln!(
            "{name} {policy}: {} cuts: {} durable prefix, {} longer prefix, {} header sector torn \
             (cut after ops {:?}), {} violations",
            t.cuts,
            t.durable_prefix,
            t.longer_prefix,
            t.header_torn.len(),
            dedup(&t.header_torn),
            t.violations.len()
        );
        for v in t.violations.iter().take(5) {
            eprintln!("  {v}");
        }
    }
}

fn dedup(v: &[u64]) -> Vec<u64> {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// Holds a sweep to redb's promise: no violation under any policy, and a lost header only where
/// the crash policy itself breaks redb's media assumptions (`Torn`).
fn assert_promise_kept(name: &str, tallies: &BTreeMap<String, Tally>) {
    report(name, tallies);
    let violations: usize = tallies.values().map(|t| t.violations.len()).sum();
    assert_eq!(
        violations, 0,
        "{name}: redb broke its promise (details above)"
    );
    for (policy, t) in tallies {
        if !policy.starts_with("Torn") {
            assert_eq!(
                t.header_torn,
                Vec::<u64>::new(),
                "{name} {policy}: the header was lost under a policy that keeps sectors whole"
            );
        }
    }
}

#[test]
fn every_cut_recovers_a_prefix_with_every_durable_write_under_one_phase_commit() {
    assert_promise_kept("1pc", &sweep(&RedbConfig::default()));
}

#[test]
fn every_cut_recovers_a_prefix_with_every_durable_write_under_two_phase_commit() {
    let config = RedbConfig {
        two_phase_commit: true,
        ..RedbConfig::default()
    };
    assert_promise_kept("2pc", &sweep(&config));
}

#[test]
fn every_cut_recovers_a_prefix_with_every_durable_write_under_quick_repair() {
    let config = RedbConfig {
        quick_repair: true,
        ..RedbConfig::default()
    };
    assert_promise_kept("quick-repair", &sweep(&config));
}

/// The canary promises durability it does not deliver; if the sweep finds nothing wrong with it,
/// the sweep is broken.
#[test]
fn the_sweep_catches_the_canary_losing_a_synced_write() {
    let tallies = sweep(&RedbConfig::canary());
    report("canary", &tallies);
    let strict = &tallies[&format!("{:?}", CrashPolicy::Strict)];
    assert!(
        strict
            .violations
            .iter()
            .any(|v| v.contains("lost a durable write")),
        "the canary passed the sweep"
    );
}

/// With no page cache redb writes the pages of unsynced commits to the file as soon as it makes
/// them (eviction) instead of at the next durable commit, so cuts land between those writes too.
#[test]
fn every_cut_recovers_a_prefix_with_every_durable_write_when_unsynced_pages_reach_the_file_early() {
    let config = RedbConfig {
        cache_size_bytes: 0,
        ..RedbConfig::default()
    };
    assert!(
        ops_of(&config, 0) > ops_of(&RedbConfig::default(), 0),
        "a cacheless redb writes more often"
    );
    assert_promise_kept("no-cache", &sweep(&config));
}
