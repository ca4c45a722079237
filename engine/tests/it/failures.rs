//! Write-path failures on a real directory, through a wrapper that fails every mutating call
//! after a countdown: the engine poisons itself, never panics, never hangs, and what it had
//! acknowledged is a recoverable prefix.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use engine::{Background, Db, Error, Options, WriteBatch};
use faultfs::{File, Fs, Lock, StdFs};

use crate::common::*;

/// How many more mutating calls succeed, shared by a file system and its files.
#[derive(Clone, Debug)]
struct Budget {
    left: Arc<AtomicI64>,
    power_loss: bool,
}

impl Budget {
    fn check(&self) -> io::Result<()> {
        if self.left.fetch_sub(1, Ordering::SeqCst) <= 0 {
            return Err(if self.power_loss {
                faultfs::power_loss_error()
            } else {
                io::Error::from_raw_os_error(EIO)
            });
        }
        Ok(())
    }
}

const EIO: i32 = 5;

/// StdFs whose mutating calls start failing once the budget is spent.
#[derive(Debug)]
struct FailingFs {
    inner: StdFs,
    budget: Budget,
}

impl FailingFs {
    fn check(&self) -> io::Result<()> {
        self.budget.check()
    }
}

#[derive(Debug)]
struct FailingFile {
    inner: Box<dyn File>,
    budget: Budget,
}

impl FailingFile {
    fn check(&self) -> io::Result<()> {
        self.budget.check()
    }
}

impl File for FailingFile {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_exact_at(offset, buf)
    }
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.check()?;
        self.inner.write_at(offset, data)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.check()?;
        self.inner.set_len(len)
    }
    fn sync(&self) -> io::Result<()> {
        self.check()?;
        self.inner.sync()
    }
}

impl Fs for FailingFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn File>> {
        self.check()?;
        Ok(Box::new(FailingFile {
            inner: self.inner.create(path)?,
            budget: self.budget.clone(),
        }))
    }
    fn open(&self, path: &Path) -> io::Result<Box<dyn File>> {
        Ok(Box::new(FailingFile {
            inner: self.inner.open(path)?,
            budget: self.budget.clone(),
        }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check()?;
        self.inner.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.check()?;
        self.inner.remove(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list(dir)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.check()?;
        self.inner.create_dir_all(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.check()?;
        self.inner.sync_dir(dir)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.inner.exists(path)
    }
    fn lock(&self, path: &Path) -> io::Result<Box<dyn Lock>> {
        self.inner.lock(path)
    }
}

fn failing(t: &TestDir, budget: i64, power_loss: bool) -> Arc<dyn Fs> {
    Arc::new(FailingFs {
        inner: StdFs::new(t.tmp.path()).unwrap(),
        budget: Budget {
            left: Arc::new(AtomicI64::new(budget)),
            power_loss,
        },
    })
}

#[test]
fn a_write_path_error_poisons_until_reopen() {
    let t = TestDir::new();
    let fs = failing(&t, 1_000_000, false);
    let db = Db::open(Arc::clone(&fs), DB, small_options()).unwrap();
    db.put(b"a", b"1", SYNC).unwrap();
    drop(db);
    let fs = failing(&t, 1, false);
    let db = Db::open(fs, DB, small_options());
    // Opening itself needs more than one mutating call.
    assert!(matches!(db, Err(Error::Io { .. })));
    let fs = failing(&t, 30, false);
    let db = Db::open(fs, DB, small_options()).unwrap();
    let mut first_error = None;
    for i in 0..100 {
        if let Err(e) = db.put(&key(i), &value(i, 0), SYNC) {
            first_error = Some(e);
            break;
        }
    }
    assert!(
        matches!(first_error, Some(Error::Io { .. })),
        "{first_error:?}"
    );
    assert!(matches!(
        db.put(b"x", b"y", NOSYNC),
        Err(Error::Poisoned { .. })
    ));
    assert!(matches!(db.sync(), Err(Error::Poisoned { .. })));
    assert!(matches!(db.flush(), Err(Error::Poisoned { .. })));
    assert_eq!(
        db.get(b"a").unwrap(),
        Some(b"1".to_vec()),
        "reads still work"
    );
    assert!(db.close().is_err());
    let db = t.open(small_options()).unwrap();
    assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
}

#[test]
fn power_loss_in_threaded_mode_returns_errors_and_never_hangs() {
    let t = TestDir::new();
    let options = Options {
        background: Background::Threads,
        ..small_options()
    };
    let fs = failing(&t, 200, true);
    let db = Db::open(fs, DB, options).unwrap();
    let mut saw_power_loss = false;
    for i in 0..5000 {
        match db.put(&key(i % 300), &value(i, 0), NOSYNC) {
            Ok(()) => {}
            Err(e) => {
                saw_power_loss |= e.is_power_loss();
                assert!(
                    matches!(e, Error::Io { .. } | Error::Poisoned { .. }),
                    "{e}"
                );
            }
        }
    }
    assert!(saw_power_loss || db.put(b"k", b"v", NOSYNC).is_err());
    drop(db);
}

/// One step of the small workload below and the model state after it.
pub fn workload_step(
    db: &Db,
    i: u32,
    model: &mut BTreeMap<Vec<u8>, Vec<u8>>,
) -> engine::Result<bool> {
    let k = key(i % 37);
    let synced = i.is_multiple_of(5);
    let wo = if synced { SYNC } else { NOSYNC };
    match i % 11 {
        3 => {
            db.delete(&k, wo)?;
            model.remove(&k);
        }
        7 => {
            let mut b = WriteBatch::new();
            b.put(k.clone(), value(i, 1)).put(key(i % 13), value(i, 2));
            db.write(&b, wo)?;
            model.insert(k, value(i, 1));
            model.insert(key(i % 13), value(i, 2));
        }
        9 => {
            db.flush()?;
            return Ok(true);
        }
        _ => {
            db.put(&k, &value(i, 0), wo)?;
            model.insert(k, value(i, 0));
        }
    }
    Ok(synced)
}

/// A process kill (everything written reaches the page cache) after each mutating call in turn:
/// the reopened database is a prefix of the history at least as long as the last durable point.
#[test]
fn crash_after_every_mutating_call_recovers_a_prefix() {
    let limit: i64 = std::env::var("POWERCUT_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    for budget in (0..limit).step_by(5) {
        let t = TestDir::new();
        let fs = failing(&t, budget, true);
        let mut history = vec![BTreeMap::new()];
        let mut durable = 0;
        if let Ok(db) = Db::open(fs, DB, small_options()) {
            let mut model = BTreeMap::new();
            for i in 0..200 {
                let before = model.clone();
                match workload_step(&db, i, &mut model) {
                    Ok(made_durable) => {
                        history.push(model.clone());
                        if made_durable {
                            durable = history.len() - 1;
                        }
                    }
                    Err(e) => {
                        assert!(
                            e.is_power_loss() || matches!(e, Error::Poisoned { .. }),
                            "{e}"
                        );
                        // The failed write may or may not have happened.
                        let mut maybe = before;
                        let _ = workload_step_model_only(i, &mut maybe);
                        history.push(maybe);
                        break;
                    }
                }
            }
        }
        let db = t.open(small_options()).unwrap();
        db.check_invariants().unwrap();
        let got: BTreeMap<_, _> = all(&db).into_iter().collect();
        let ok = history[durable..].contains(&got);
        assert!(
            ok,
            "budget {budget}: recovered state is not a prefix at or after write {durable}"
        );
    }
}

pub fn workload_step_model_only(i: u32, model: &mut BTreeMap<Vec<u8>, Vec<u8>>) -> Option<()> {
    let k = key(i % 37);
    match i % 11 {
        3 => {
            model.remove(&k);
        }
        7 => {
            model.insert(k, value(i, 1));
            model.insert(key(i % 13), value(i, 2));
        }
        9 => {}
        _ => {
            model.insert(k, value(i, 0));
        }
    }
    Some(())
}
