//! How fast the simulator is, next to what it simulates.
//!
//! Prints: SimFs write throughput (4 KiB writes, a sync every 64 KiB) next to a plain `Vec` copy
//! of the same bytes; reboot time of a 100-file / 10 MiB disk per crash policy; the time to
//! enumerate the distinct post-crash disks of a file with 64 pending sectors.
//!
//! Run with `cargo bench -p faultfs`.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use faultfs::{CrashPolicy, Fs, SimFs};

const WRITE: usize = 4096;
const TOTAL: usize = 64 << 20;
const SYNC_EVERY: usize = 16;

fn main() {
    println!("faultfs SimFs benchmark");
    throughput();
    reboot();
    enumerate();
}

/// The best of `runs` timings of `f`.
fn best(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..runs).map(|_| f()).min().unwrap_or_default()
}

fn mb_per_s(bytes: usize, time: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / time.as_secs_f64()
}

fn throughput() {
    let chunk = vec![0x5Au8; WRITE];
    let baseline = best(5, || {
        let start = Instant::now();
        let mut v: Vec<u8> = Vec::new();
        for _ in 0..TOTAL / WRITE {
            v.extend_from_slice(black_box(&chunk));
        }
        black_box(&v);
        start.elapsed()
    });
    let sim = best(5, || {
        let fs = SimFs::new();
        let file = fs
            .create(Path::new("wal"))
            .unwrap_or_else(|e| panic!("{e}"));
        let start = Instant::now();
        for i in 0..TOTAL / WRITE {
            let offset = (i * WRITE) as u64;
            file.write_at(offset, black_box(&chunk))
                .unwrap_or_else(|e| panic!("{e}"));
            if (i + 1) % SYNC_EVERY == 0 {
                file.sync().unwrap_or_else(|e| panic!("{e}"));
            }
        }
        start.elapsed()
    });
    println!(
        "writes: {} MiB in 4 KiB writes, sync every {} KiB: SimFs {:.0} MB/s, Vec copy {:.0} MB/s ({:.1}x slower)",
        TOTAL >> 20,
        SYNC_EVERY * WRITE / 1024,
        mb_per_s(TOTAL, sim),
        mb_per_s(TOTAL, baseline),
        sim.as_secs_f64() / baseline.as_secs_f64()
    );
}

/// 100 files of 100 KiB, durable, each with one 4 KiB pending append.
fn image_disk() -> SimFs {
    let fs = SimFs::new();
    let durable = vec![7u8; 100 << 10];
    for i in 0..100 {
        let name = format!("{i:06}.sst");
        let file = fs
            .create(Path::new(&name))
            .unwrap_or_else(|e| panic!("{e}"));
        file.write_at(0, &durable).unwrap_or_else(|e| panic!("{e}"));
        file.sync().unwrap_or_else(|e| panic!("{e}"));
    }
    fs.sync_dir(Path::new("")).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..100 {
        let name = format!("{i:06}.sst");
        let file = fs.open(Path::new(&name)).unwrap_or_else(|e| panic!("{e}"));
        file.write_at(100 << 10, &[1u8; 4096])
            .unwrap_or_else(|e| panic!("{e}"));
    }
    fs
}

fn reboot() {
    for policy in [
        CrashPolicy::Strict,
        CrashPolicy::KeepAll,
        CrashPolicy::Torn { sector: 512 },
        CrashPolicy::Reorder { sector: 512 },
    ] {
        let time = best(10, || {
            // A fresh disk each time: a fork would share its bytes with the original, and a
            // reboot would then have to copy what it patches.
            let fs = image_disk();
            let start = Instant::now();
            fs.reboot(policy, 42);
            start.elapsed()
        });
        println!(
            "reboot of 100 files / 10 MiB (+400 KiB pending) under {policy}: {:.2} ms",
            time.as_secs_f64() * 1e3
        );
    }
}

fn enumerate() {
    let fs = SimFs::new();
    let file = fs
        .create(Path::new("wal"))
        .unwrap_or_else(|e| panic!("{e}"));
    file.sync().unwrap_or_else(|e| panic!("{e}"));
    fs.sync_dir(Path::new("")).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..64u64 {
        file.write_at(i * 512, &[i as u8 + 1; 512])
            .unwrap_or_else(|e| panic!("{e}"));
    }
    for (policy, bound) in [
        (CrashPolicy::Torn { sector: 512 }, 100_000),
        (CrashPolicy::Reorder { sector: 512 }, 1_000),
    ] {
        let mut count = 0;
        let time = best(3, || {
            let start = Instant::now();
            count = fs.crash_images(policy, bound).len();
            start.elapsed()
        });
        println!(
            "enumerate a file with 64 pending 512-byte sectors under {policy} (bound {bound}): {count} distinct disks in {:.2} ms",
            time.as_secs_f64() * 1e3
        );
    }
}
