//! `engine-bench`: the engine (and, with `--features peers`, fjall 3 and sled 0.34) on one
//! workload in a temp directory on the real disk.
//!
//! 1,000,000 keys `key{:013}` (16 bytes) with 100-byte values; phases: sequential put, random
//! put, random get, close, reopen, 100k random gets after the reopen. No fsync per put for any
//! engine. Each engine runs in its own child process so its peak RSS (VmHWM) is its own.
//!
//! What a put hands to the kernel before it returns differs, so the columns say it:
//!
//! | column             | before a put returns                                            |
//! |--------------------|-----------------------------------------------------------------|
//! | `powercut`         | its WAL record is written to the kernel (one `pwrite`)           |
//! | `fjall`            | fjall's default (`manual_journal_persist(false)`, set explicitly here): the keyspace flushes its journal's `BufWriter` after every insert, so the record reaches the kernel (one `write`; `strace -c` counts 40,054 `write` calls for 40,000 inserts) |
//! | `fjall-buffered`   | `manual_journal_persist(true)`: the record may wait in fjall's 8 KiB user-space journal buffer, lost to `kill -9`; shown for scale, not a like-for-like row |
//! | `sled`             | sled's default: its log buffers, flushed in the background       |
//!
//! ```text
//! cargo run --release -p engine --bin engine-bench [--features peers] [-- --keys N]
//! ```

use std::process::{Command, ExitCode};
use std::time::Instant;

use rand::RngExt;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

const VALUE_BYTES: usize = 100;
const GETS_AFTER_REOPEN: usize = 100_000;

/// What one engine has to offer the benchmark.
trait Store {
    fn put(&mut self, key: &[u8], value: &[u8]);
    fn get(&mut self, key: &[u8]) -> Option<Vec<u8>>;
    fn close(&mut self);
    fn reopen(&mut self);
}

struct Ours {
    fs: std::sync::Arc<dyn faultfs::Fs>,
    db: Option<engine::Db>,
}

impl Ours {
    fn open(fs: &std::sync::Arc<dyn faultfs::Fs>) -> engine::Db {
        engine::Db::open(std::sync::Arc::clone(fs), "db", engine::Options::default())
            .expect("open engine")
    }
}

impl Store for Ours {
    fn put(&mut self, key: &[u8], value: &[u8]) {
        let db = self.db.as_ref().expect("open");
        db.put(key, value, engine::WriteOptions { sync: false })
            .expect("put");
    }
    fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        self.db.as_ref().expect("open").get(key).expect("get")
    }
    fn close(&mut self) {
        if let Some(db) = self.db.take() {
            db.close().expect("close");
        }
    }
    fn reopen(&mut self) {
        self.db = Some(Ours::open(&self.fs));
    }
}

#[cfg(feature = "peers")]
mod peers {
    use super::Store;
    use std::path::PathBuf;

    pub struct Fjall {
        pub path: PathBuf,
        /// `manual_journal_persist`: false hands every insert to the kernel (fjall's default).
        pub manual_persist: bool,
        pub db: Option<(fjall::Database, fjall::Keyspace)>,
    }

    impl Fjall {
        pub fn open(
            path: &std::path::Path,
            manual_persist: bool,
        ) -> (fjall::Database, fjall::Keyspace) {
            let db = fjall::Database::builder(path)
                .manual_journal_persist(manual_persist)
                .open()
                .expect("open fjall");
            let ks = db
                .keyspace("bench", || {
                    fjall::KeyspaceCreateOptions::default().manual_journal_persist(manual_persist)
                })
                .expect("fjall keyspace");
            (db, ks)
        }
    }

    impl Store for Fjall {
        fn put(&mut self, key: &[u8], value: &[u8]) {
            let (_, ks) = self.db.as_ref().expect("open");
            ks.insert(key, value).expect("fjall insert");
        }
        fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
            let (_, ks) = self.db.as_ref().expect("open");
            ks.get(key).expect("fjall get").map(|v| v.to_vec())
        }
        fn close(&mut self) {
            if let Some((db, ks)) = self.db.take() {
                db.persist(fjall::PersistMode::SyncAll)
                    .expect("fjall persist");
                drop(ks);
                drop(db);
            }
        }
        fn reopen(&mut self) {
            self.db = Some(Fjall::open(&self.path, self.manual_persist));
        }
    }

    pub struct Sled {
        pub path: PathBuf,
        pub db: Option<sled::Db>,
    }

    impl Store for Sled {
        fn put(&mut self, key: &[u8], value: &[u8]) {
            self.db
                .as_ref()
                .expect("open")
                .insert(key, value)
                .expect("sled insert");
        }
        fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
            self.db
                .as_ref()
                .expect("open")
                .get(key)
                .expect("sled get")
                .map(|v| v.to_vec())
        }
        fn close(&mut self) {
            if let Some(db) = self.db.take() {
                db.flush().expect("sled flush");
            }
        }
        fn reopen(&mut self) {
            self.db = Some(sled::open(&self.path).expect("open sled"));
        }
    }
}

fn key(i: usize) -> Vec<u8> {
    format!("key{i:013}").into_bytes()
}

fn value(i: usize, round: u8) -> Vec<u8> {
    let mut v = vec![b'a' + round; VALUE_BYTES];
    v[..8].copy_from_slice(&(i as u64).to_le_bytes());
    v
}

/// Ops per second of `n` operations that took `start.elapsed()`.
fn rate(n: usize, start: Instant) -> f64 {
    n as f64 / start.elapsed().as_secs_f64()
}

/// Peak resident set of this process in MB, from /proc (read by `grep`, keeping the standard file API out of
/// the engine crate).
fn peak_rss_mb() -> f64 {
    let status = format!("/proc/{}/status", std::process::id());
    let out = Command::new("grep").args(["VmHWM", &status]).output();
    out.ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn run(store: &mut dyn Store, keys: usize) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let start = Instant::now();
    for i in 0..keys {
        store.put(&key(i), &value(i, 0));
    }
    let seq_put = rate(keys, start);
    let mut order: Vec<usize> = (0..keys).collect();
    order.shuffle(&mut rng);
    let start = Instant::now();
    for &i in &order {
        store.put(&key(i), &value(i, 1));
    }
    let rand_put = rate(keys, start);
    let start = Instant::now();
    for _ in 0..keys {
        let i = rng.random_range(0..keys);
        let got = store.get(&key(i));
        assert_eq!(got.as_deref(), Some(&value(i, 1)[..]), "key {i}");
    }
    let rand_get = rate(keys, start);
    let start = Instant::now();
    store.close();
    let close_ms = start.elapsed().as_secs_f64() * 1000.0;
    let start = Instant::now();
    store.reopen();
    let reopen_ms = start.elapsed().as_secs_f64() * 1000.0;
    let start = Instant::now();
    for _ in 0..GETS_AFTER_REOPEN {
        let i = rng.random_range(0..keys);
        assert_eq!(
            store.get(&key(i)).as_deref(),
            Some(&value(i, 1)[..]),
            "key {i} after reopen"
        );
    }
    let get_after = rate(GETS_AFTER_REOPEN, start);
    store.close();
    vec![
        seq_put,
        rand_put,
        rand_get,
        close_ms,
        reopen_ms,
        get_after,
        peak_rss_mb(),
    ]
}

/// Runs one engine in this process and prints its figures on one line.
fn child(name: &str, keys: usize) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let figures = match name {
        "powercut" => {
            let fs: std::sync::Arc<dyn faultfs::Fs> =
                std::sync::Arc::new(faultfs::StdFs::new(tmp.path()).map_err(|e| e.to_string())?);
            let db = Ours::open(&fs);
            run(&mut Ours { fs, db: Some(db) }, keys)
        }
        #[cfg(feature = "peers")]
        "fjall" | "fjall-buffered" => {
            let path = tmp.path().join("fjall");
            let manual_persist = name == "fjall-buffered";
            let db = peers::Fjall::open(&path, manual_persist);
            run(
                &mut peers::Fjall {
                    path,
                    manual_persist,
                    db: Some(db),
                },
                keys,
            )
        }
        #[cfg(feature = "peers")]
        "sled" => {
            let path = tmp.path().join("sled");
            let db = sled::open(&path).map_err(|e| e.to_string())?;
            run(&mut peers::Sled { path, db: Some(db) }, keys)
        }
        other => return Err(format!("unknown engine `{other}`")),
    };
    let line: Vec<String> = figures.iter().map(|f| format!("{f:.1}")).collect();
    println!("RESULT {}", line.join(" "));
    Ok(())
}

const COLUMNS: [&str; 7] = [
    "seq put/s",
    "rand put/s",
    "rand get/s",
    "close ms",
    "reopen ms",
    "get/s after reopen",
    "peak RSS MB",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut keys = 1_000_000;
    let mut only = None;
    let mut i = 0;
    while i < args.len() {
        match (args[i].as_str(), args.get(i + 1)) {
            ("--keys", Some(n)) => match n.parse() {
                Ok(n) if n > 0 => keys = n,
                _ => {
                    eprintln!("engine-bench: --keys needs a positive integer, got `{n}`");
                    return ExitCode::from(2);
                }
            },
            ("--only", Some(name)) => only = Some(name.clone()),
            (other, _) => {
                eprintln!(
                    "engine-bench: unknown argument `{other}`\nusage: engine-bench [--keys N] [--only ENGINE]"
                );
                return ExitCode::from(2);
            }
        }
        i += 2;
    }
    if let Some(name) = only {
        return match child(&name, keys) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("engine-bench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut engines = vec!["powercut"];
    if cfg!(feature = "peers") {
        engines.extend(["fjall", "fjall-buffered", "sled"]);
    }
    let Ok(exe) = std::env::current_exe() else {
        eprintln!("engine-bench: cannot find its own executable");
        return ExitCode::FAILURE;
    };
    println!("{keys} keys of 16 bytes, values of {VALUE_BYTES} bytes, no fsync per put");
    println!("powercut and fjall hand every put to the kernel; fjall-buffered and sled may not\n");
    print!("{:<22}", "");
    for e in &engines {
        print!("{e:>16}");
    }
    println!();
    let mut results = Vec::new();
    for e in &engines {
        let out = Command::new(&exe)
            .args(["--only", e, "--keys", &keys.to_string()])
            .output();
        let figures: Vec<String> = out
            .ok()
            .and_then(|o| {
                let text = String::from_utf8_lossy(&o.stdout).into_owned();
                if !o.status.success() {
                    eprintln!("{e} failed: {}", String::from_utf8_lossy(&o.stderr));
                }
                text.lines().find_map(|l| {
                    l.strip_prefix("RESULT ")
                        .map(|r| r.split(' ').map(String::from).collect())
                })
            })
            .unwrap_or_else(|| vec!["failed".to_string(); COLUMNS.len()]);
        results.push(figures);
    }
    for (c, column) in COLUMNS.iter().enumerate() {
        print!("{column:<22}");
        for r in &results {
            print!("{:>16}", r.get(c).map_or("-", String::as_str));
        }
        println!();
    }
    ExitCode::SUCCESS
}
