//! Verdicts a user can trust: declared disk assumptions decide what the simulated disk may do,
//! the report says which assumptions a failure depends on, and shrinking keeps a failure's
//! signature rather than trading one bug for another of the same kind.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

use faultfs::{CrashPolicy, File};
use powercut::{
    Case, DiskAssumptions, Durability, Env, FileKind, Mutation, Pairs, RunOptions, RunOutcome,
    ShrinkOptions, Signature, Store, StoreError, ViolationKind, WorkloadParams,
};

/// A store that keeps its whole state in one 512-byte sector, rewritten in place and synced at
/// every durability point, with a checksum it refuses to open without. Correct on a disk whose
/// sector writes are atomic (the old or the new sector survives a cut); on a disk that can tear
/// a sector into zeros or garbage, a cut during the rewrite loses everything.
#[derive(Debug)]
struct SectorStore<const ATOMIC: bool> {
    file: Box<dyn File>,
    map: BTreeMap<String, String>,
}

const SECTOR: usize = 512;

fn io(what: &str) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::from_io(what, &e)
}

impl<const ATOMIC: bool> SectorStore<ATOMIC> {
    fn encode(&self) -> Result<Vec<u8>, StoreError> {
        let body = serde_json::to_vec(&self.map).map_err(|e| StoreError::Other(e.to_string()))?;
        if body.len() + 8 > SECTOR {
            return Err(StoreError::Other("state outgrew its sector".into()));
        }
        let mut sector = vec![0u8; SECTOR];
        sector[..4].copy_from_slice(&(body.len() as u32).to_le_bytes());
        sector[4..8].copy_from_slice(&crc32(&body).to_le_bytes());
        sector[8..8 + body.len()].copy_from_slice(&body);
        Ok(sector)
    }

    fn persist(&mut self, sync: bool) -> Result<(), StoreError> {
        let sector = self.encode()?;
        self.file.write_at(0, &sector).map_err(io("state"))?;
        if sync {
            self.file.sync().map_err(io("state"))?;
        }
        Ok(())
    }
}

/// A small checksum (FNV-1a) is enough to tell a torn sector from a whole one here.
fn crc32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

impl<const ATOMIC: bool> Store for SectorStore<ATOMIC> {
    type Config = BTreeMap<String, String>;

    fn name() -> &'static str {
        "sector"
    }

    fn file_kind(path: &Path) -> FileKind {
        if path.file_name().is_some_and(|n| n == "state") {
            FileKind::Data
        } else {
            FileKind::Other
        }
    }

    fn durability(_: &Self::Config) -> Durability {
        Durability::WAL
    }

    fn assumptions(_: &Self::Config) -> DiskAssumptions {
        DiskAssumptions {
            atomic_sectors: ATOMIC,
            ..DiskAssumptions::WORST
        }
    }

    fn open(env: &Env, _: &Self::Config) -> Result<Self, StoreError> {
        let path = env.dir.join("state");
        env.fs.create_dir_all(&env.dir).map_err(io("dir"))?;
        if !env.fs.exists(&path).map_err(io("state"))? {
            let file = env.fs.create(&path).map_err(io("state"))?;
            let mut s = SectorStore {
                file,
                map: BTreeMap::new(),
            };
            s.persist(true)?;
            // The names must survive a cut, or the synced state goes with them: the file's in
            // its directory, and the directory's in its parent.
            env.fs.sync_dir(&env.dir).map_err(io("dir"))?;
            let parent = env.dir.parent().unwrap_or(Path::new(""));
            env.fs.sync_dir(parent).map_err(io("parent dir"))?;
            return Ok(s);
        }
        let file = env.fs.open(&path).map_err(io("state"))?;
        let bytes = file.read_to_end().map_err(io("state"))?;
        let damaged = |detail: &str| StoreError::Damaged {
            file: path.clone(),
            detail: detail.to_string(),
        };
        if bytes.len() < 8 {
            return Err(damaged("shorter than its header"));
        }
        let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let crc = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let body = bytes
            .get(8..8 + len)
            .ok_or_else(|| damaged("length past the end"))?;
        if crc32(body) != crc {
            return Err(damaged("checksum mismatch"));
        }
        let map = serde_json::from_slice(body).map_err(|e| damaged(&e.to_string()))?;
        Ok(SectorStore { file, map })
    }

    fn write(&mut self, batch: &[Mutation], sync: bool) -> Result<(), StoreError> {
        let before = self.map.clone();
        for m in batch {
            match m {
                Mutation::Put { key, value } => {
                    self.map.insert(key.clone(), value.clone());
                }
                Mutation::Delete { key } => {
                    self.map.remove(key);
                }
            }
        }
        // Every write rewrites the sector; only synced ones are durable on return.
        self.persist(sync).inspect_err(|_| self.map = before)
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let key = String::from_utf8_lossy(key);
        Ok(self.map.get(key.as_ref()).map(|v| v.as_bytes().to_vec()))
    }

    fn scan(&mut self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<Pairs, StoreError> {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let range = (lower.map(text), upper.map(text));
        Ok(self
            .map
            .range(range)
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect())
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        self.file.sync().map_err(io("state"))
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.sync()
    }

    fn close(&mut self) -> Result<(), StoreError> {
        self.sync()
    }
}

/// A workload small enough for one sector: few keys, short values, torn crashes only.
fn torn_options() -> RunOptions {
    RunOptions {
        policy: Some(CrashPolicy::Torn { sector: 512 }),
        workload: Some(WorkloadParams {
            ops: 60,
            keys: 6,
            value_min: 2,
            value_max: 10,
            ..WorkloadParams::default()
        }),
        ops: 60,
        ..RunOptions::default()
    }
}

fn failures<S: Store>(opts: &RunOptions, seeds: u64) -> Vec<RunOutcome> {
    (0..seeds)
        .map(|s| powercut::run_seed::<S>(s, opts).unwrap())
        .filter(|o| !o.passed())
        .collect()
}

#[test]
fn a_store_that_assumes_atomic_sectors_passes_torn_crashes_on_a_disk_that_keeps_them() {
    let failed = failures::<SectorStore<true>>(&torn_options(), 300);
    assert!(
        failed.is_empty(),
        "{}",
        failed[0]
            .report
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    );
}

#[test]
fn the_same_store_on_the_worst_case_disk_fails_and_the_report_names_the_assumption() {
    let failed = failures::<SectorStore<false>>(&torn_options(), 300);
    let first = failed.first().expect("a torn sector breaks the store");
    let report = first.report.as_ref().expect("a report");
    let text = report.to_string();
    assert!(
        text.contains("disk assumptions: sectors may tear into zeros or garbage"),
        "{text}"
    );
    // The report quotes what the reboot that decided the disk did to the state file.
    assert!(text.contains("what each reboot kept:"), "{text}");
    assert!(text.contains("file db/state: "), "{text}");
    // The failure depends on the tear: the same seed on a disk that keeps sectors whole passes.
    let seed = first.seed.expect("a seeded run");
    let atomic = RunOptions {
        assumptions: Some(DiskAssumptions {
            atomic_sectors: true,
            ..DiskAssumptions::WORST
        }),
        ..torn_options()
    };
    assert!(
        powercut::run_seed::<SectorStore<false>>(seed, &atomic)
            .unwrap()
            .passed(),
        "the same seed with atomic sectors assumed"
    );
}

/// A case that fails one way while a fault step is in it and another way (same kind, other
/// bug) once it is removed: a shrinker keeping only the kind would drop the fault and report
/// the other bug; keeping the signature, it must not.
#[test]
fn shrinking_keeps_the_signature_where_keeping_the_kind_would_change_it() {
    use powercut::{Step, coverage::Cause, coverage::CoverageFact};
    let fault = Step::Fault(faultfs::Fault::Truncate {
        path: faultfs::PathPattern("role:log".into()),
        offset: Some(3),
    });
    let case = Case::new::<powercut::stores::CarelessStore>(vec![
        Step::Sync {},
        fault.clone(),
        Step::Flush {},
        Step::Compact {},
    ]);
    // Stand-in executor: lost_durable either way, but with the truncation fired only while the
    // fault step is in the case.
    let run = |c: &Case| -> RunOutcome {
        let mut o = powercut::execute::<powercut::stores::CarelessStore>(&Case {
            steps: Vec::new(),
            ..c.clone()
        })
        .unwrap();
        o.violations = vec![powercut::Violation::new(ViolationKind::LostDurable, "lost")];
        o.coverage = if c.steps.contains(&fault) {
            vec![CoverageFact {
                cause: Cause::Fault(faultfs::FaultClass::Truncate),
                path: "db/log".into(),
                file: FileKind::Log,
                phase: faultfs::Phase::Write,
            }]
        } else {
            Vec::new()
        };
        o.with_signature()
    };
    let kind_only = run(&Case {
        steps: vec![Step::Sync {}],
        ..case.clone()
    });
    assert_eq!(kind_only.violations[0].kind, ViolationKind::LostDurable);
    let before = Signature::of(&run(&case)).unwrap();
    assert_ne!(Signature::of(&kind_only), Some(before.clone()));
    let shrunk = powercut::shrink::shrink_by(&case, &ShrinkOptions::default(), &run);
    assert!(
        shrunk.case.steps.contains(&fault),
        "{:?}",
        shrunk.case.steps
    );
    assert_eq!(shrunk.signature, Some(before.clone()));
    assert_eq!(Signature::of(&shrunk.outcome), Some(before));
    assert!(
        shrunk.case.steps.len() < case.steps.len(),
        "it still shrank"
    );
}

/// A store that panics on its tenth write: the run reports a `panic` violation naming where,
/// in seeded runs and in exploration alike, and the test process goes on.
#[derive(Debug)]
struct PanicStore {
    inner: powercut::stores::CarelessStore,
    writes: u32,
}

impl Store for PanicStore {
    type Config = powercut::stores::CarelessConfig;
    fn name() -> &'static str {
        "panics"
    }
    fn file_kind(path: &Path) -> FileKind {
        powercut::stores::CarelessStore::file_kind(path)
    }
    fn durability(_: &Self::Config) -> Durability {
        Durability::NONE
    }
    fn open(env: &Env, config: &Self::Config) -> Result<Self, StoreError> {
        Ok(PanicStore {
            inner: powercut::stores::CarelessStore::open(env, config)?,
            writes: 0,
        })
    }
    fn write(&mut self, batch: &[Mutation], sync: bool) -> Result<(), StoreError> {
        self.writes += 1;
        assert!(self.writes < 10, "the tenth write");
        self.inner.write(batch, sync)
    }
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key)
    }
    fn scan(&mut self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Result<Pairs, StoreError> {
        self.inner.scan(lower, upper)
    }
    fn sync(&mut self) -> Result<(), StoreError> {
        self.inner.sync()
    }
    fn close(&mut self) -> Result<(), StoreError> {
        self.inner.close()
    }
}

#[test]
fn a_panicking_store_is_a_panic_violation_that_names_where() {
    let outcome = powercut::run_seed::<PanicStore>(1, &RunOptions::default()).unwrap();
    let v = &outcome.violations[0];
    assert_eq!(v.kind, ViolationKind::Panic);
    assert!(
        v.message.contains("the tenth write") && v.message.contains("verdicts.rs:"),
        "{}",
        v.message
    );
    let case = powercut::RunConfig::from_seed::<PanicStore>(1, &RunOptions::default())
        .unwrap()
        .case();
    let out = powercut::explore::<PanicStore>(&case, &powercut::ExploreOptions::default());
    assert!(out.is_ok(), "exploration survives the panic");
}

/// A power cut during a store's very first open is a crash while creating it, not while
/// recovering it: coverage and reports say so, for a store that labels nothing itself too.
#[test]
fn crashes_in_the_first_open_are_labelled_create() {
    use powercut::{CrashStep, Step};
    for store_first in [true, false] {
        let steps = vec![
            Step::Crash(CrashStep {
                policy: CrashPolicy::Strict,
                after_ops: Some(1),
                seed: 0,
            }),
            Step::Put {
                key: "a".into(),
                value: "1".into(),
                sync: true,
            },
        ];
        let outcome = if store_first {
            powercut::execute::<powercut::stores::EngineStore>(&Case::new::<
                powercut::stores::EngineStore,
            >(steps))
        } else {
            powercut::execute::<powercut::stores::CarelessStore>(&Case::new::<
                powercut::stores::CarelessStore,
            >(steps))
        }
        .unwrap();
        assert_eq!(
            outcome.crashes[0].phase,
            faultfs::Phase::Create,
            "{outcome:?}"
        );
    }
}
