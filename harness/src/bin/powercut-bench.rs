//! Throughput of the harness: crash-recover-check cycles per second for 100-operation workloads
//! on one core, and the time `explore` takes on a 1,000-operation workload.
//!
//! Run: `cargo run --release -p powercut --bin powercut-bench [-- SECONDS]`
//!
//! `powercut-bench --seeds N` runs exactly seeds 0..N of the seeded cycle and nothing else, so a
//! profiler that counts instructions (`valgrind --tool=callgrind`) sees the same work every time.
//! `powercut-bench --explore OPS [THREADS]` explores one workload of OPS steps (the standard
//! one: options small enough that flushes, compactions and MANIFEST rollovers all happen) with
//! THREADS recovering disks (default 0: one per core; 1: all on the workload's thread) and
//! nothing else.

use std::time::{Duration, Instant};

/// `println!` that ends the program quietly when stdout is closed (`powercut-bench | head`)
/// instead of panicking on the broken pipe.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

/// A simulated run allocates for nearly every operation; mimalloc serves that faster than the
/// system allocator (feature `fast-alloc`, on by default).
#[cfg(feature = "fast-alloc")]
#[global_allocator]
static ALLOC: powercut::fast_alloc::Mimalloc = powercut::fast_alloc::Mimalloc;

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (nanoseconds on CPU), so the
/// rates are per core-second even on a busy machine; falls back to wall time elsewhere.
fn cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// Seconds of CPU (or wall, if CPU time is unavailable) since `start`.
fn elapsed(start: (Instant, Option<f64>)) -> f64 {
    match (start.1, cpu_seconds()) {
        (Some(a), Some(b)) => b - a,
        _ => start.0.elapsed().as_secs_f64(),
    }
}

use powercut::explore::{ExploreOptions, explore, standard_case};
use powercut::stores::EngineStore;
use powercut::{RunOptions, RunOutcome};

/// One seed on the engine (the default options always expand).
fn run_seed(seed: u64, opts: &RunOptions) -> RunOutcome {
    powercut::run_seed::<EngineStore>(seed, opts).unwrap_or_else(|e| panic!("seed {seed}: {e}"))
}

/// Explores a case of the engine with `threads` (0: one per core).
fn explore_engine(case: &powercut::Case, threads: usize) -> powercut::ExploreOutcome {
    let opts = ExploreOptions {
        threads,
        ..ExploreOptions::default()
    };
    explore::<EngineStore>(case, &opts).unwrap_or_else(|e| panic!("{e}"))
}

/// CPU seconds of every thread of this process so far, finished ones included (utime + stime
/// of `/proc/self/stat`, in the kernel's USER_HZ ticks of 1/100 s).
fn process_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// What one crash-recover-check cycle is and what each seed runs, printed before the figures so
/// a number is never read without its workload.
fn print_workload(opts: &RunOptions) {
    let faults = if opts.faults.is_empty() {
        "none injected (crash-only runs)".to_string()
    } else {
        format!("{} classes allowed", opts.faults.len())
    };
    say!(
        "workload: seed S expands (RunConfig::from_seed) into a {}-step run of the built-in LSM \
         engine on SimFs, one thread, inline background work: the engine's options (memtable, \
         block, SST and MANIFEST sizes, WAL on or off, leveled or tiered) and the step mix \
         (puts, deletes, batches, gets, scans, syncs, flushes, compactions, reopens) drawn per \
         seed; one crash policy per seed drawn from strict, keepall, torn and reorder (512 or \
         4096-byte sectors); 1 to {} armed power cuts (later ones may fall inside recovery) plus \
         a final power cut; faults: {}.",
        opts.ops,
        opts.crashes_max,
        faults
    );
    say!(
        "cycle: one power cut followed by a reboot of the simulated disk under the policy, a \
         reopen (recovery) of the engine, a scan of what it recovered and its check against the \
         model (a power cut inside a recovery counts as a cycle of its own). Rates are per \
         CPU-second of the benchmark thread."
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--seeds") {
        let n: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100);
        fixed_seeds(n);
        return;
    }
    if args.first().map(String::as_str) == Some("--explore") {
        let ops: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
        let threads: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
        explore_once(ops, threads);
        return;
    }
    let seconds: f64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let opts = RunOptions::default();
    print_workload(&opts);
    let started = Instant::now();
    let cpu = (started, cpu_seconds());
    let (mut runs, mut cycles, mut steps, mut failed) = (0u64, 0u64, 0u64, 0u64);
    let mut seed = 0;
    while started.elapsed() < Duration::from_secs_f64(seconds) {
        let o = run_seed(seed, &opts);
        runs += 1;
        cycles += o.counts.crashes;
        steps += o.counts.steps;
        failed += u64::from(!o.passed());
        seed += 1;
    }
    let secs = elapsed(cpu);
    say!(
        "per CPU-second of one core: runs: {runs} ({:.0}/s), crash-recover-check cycles: {cycles} ({:.0}/s), steps: {:.0}/s, failed runs: {failed}",
        runs as f64 / secs,
        cycles as f64 / secs,
        steps as f64 / secs
    );

    // The same cycle without re-running the workload each time: explore runs a 100-step workload
    // once and recovers and checks every distinct post-crash disk of every crash point.
    let started = Instant::now();
    let cpu = (started, cpu_seconds());
    let (mut workloads, mut disks, mut points) = (0u64, 0u64, 0u64);
    while started.elapsed() < Duration::from_secs_f64(seconds) {
        let out = explore_engine(&standard_case(100, workloads), 1);
        workloads += 1;
        disks += out.disks_tried;
        points += out.points;
    }
    let secs = elapsed(cpu);
    say!(
        "explore, per CPU-second: 100-step workloads: {workloads} ({:.0}/s), crash points: {:.0}/s, \
         post-crash disks recovered and checked: {disks} ({:.0}/s)",
        workloads as f64 / secs,
        points as f64 / secs,
        disks as f64 / secs
    );

    explore_once(1000, 0);
}

/// Explores the standard workload of `ops` steps once with `threads` (0: one per core) and
/// prints what it visited.
fn explore_once(ops: usize, threads: usize) {
    let case = standard_case(ops, 1);
    let started = Instant::now();
    let cpu = (started, cpu_seconds());
    let all_cpu = process_cpu_seconds();
    let out = explore_engine(&case, threads);
    let workers = match threads {
        0 => "one recovery thread per core".to_string(),
        1 => "recoveries on the workload's thread".to_string(),
        n => format!("{n} recovery threads"),
    };
    let all = match (all_cpu, process_cpu_seconds()) {
        (Some(a), Some(b)) => format!("{:.2} s CPU in all threads", b - a),
        _ => "CPU of all threads unknown".to_string(),
    };
    say!(
        "explore {ops} ops ({workers}): {:.2?} wall, {:.2} s CPU on the workload's thread, {all}, crash points: {} of {} mutating ops, disks tried: {}, skipped: {}, violations: {}",
        started.elapsed(),
        elapsed(cpu),
        out.points,
        out.mutating_ops,
        out.disks_tried,
        out.disks_skipped,
        out.violations.len()
    );
    for (phase, n) in &out.points_by_phase {
        say!("  {phase}: {n} points");
    }
}

/// Runs seeds `0..n` once each and prints the totals: a fixed amount of work for profilers.
fn fixed_seeds(n: u64) {
    let opts = RunOptions::default();
    print_workload(&opts);
    let started = Instant::now();
    let cpu = (started, cpu_seconds());
    let (mut cycles, mut steps, mut failed, mut hash) = (0u64, 0u64, 0u64, 0u64);
    for seed in 0..n {
        let o = run_seed(seed, &opts);
        cycles += o.counts.crashes;
        steps += o.counts.steps;
        failed += u64::from(!o.passed());
        hash ^= o.trace_hash.rotate_left((seed % 64) as u32);
    }
    let secs = elapsed(cpu);
    say!(
        "seeds 0..{n}: crash-recover-check cycles: {cycles} ({:.0}/s CPU), steps: {steps}, \
         failed runs: {failed}, combined trace hash: {hash:016x}",
        cycles as f64 / secs
    );
}
