//! [`SimFs`]: the deterministic in-memory crash simulator.
//!
//! INTERFACE SKELETON: the signatures below are the contract the engine and harness code
//! against; the bodies are filled in by the faultfs work (issue 2).

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{File, Fs, Lock, Phase};

/// How much of the pending (not yet durable) state survives a power cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CrashPolicy {
    /// Nothing pending survives.
    Strict,
    /// Everything written survives (a process kill: the page cache outlives the process).
    KeepAll,
    /// Per file a random prefix of pending writes survives, the last one possibly cut at a sector
    /// boundary; per directory a random prefix of pending namespace operations survives.
    Torn { sector: u32 },
    /// Every pending sector and namespace operation survives or not on its own; renames stay atomic.
    Reorder { sector: u32 },
}

/// Glob-style pattern over a path: `*` matches any run of characters (including `/`), `?` one
/// character. A pattern with no `/` is matched against the file name only.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PathPattern(pub String);

/// Which kind of file operation an I/O-error fault aims at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IoOp {
    Read,
    Write,
    Sync,
}

/// How a failed fsync behaves (CuttleFS, ATC'20).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncMode {
    /// EIO now; the pending pages are marked clean and never reach the disk; reads still show them.
    MarkClean,
    /// This sync succeeds, the next sync of the file reports EIO.
    ReportLater,
    /// EIO now; the file's live bytes go back to its durable bytes.
    Revert,
}

/// A fault armed with [`SimFs::inject`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// EIO on the `nth` (1-based) matching operation on files matching `path`.
    IoError { op: IoOp, path: PathPattern, nth: u64 },
    /// ENOSPC on any write once the live bytes of all files would pass `capacity_bytes`.
    NoSpace { capacity_bytes: u64 },
    /// The `nth` sync of a matching file fails in `mode`.
    FsyncFailure { path: PathPattern, nth: u64, mode: FsyncMode },
    /// At the next reboot, one bit of the durable bytes of a matching file flips (at `offset`, or
    /// at a seeded offset when `None`).
    BitFlip { path: PathPattern, offset: Option<u64> },
    /// At the next reboot, one durable sector of a matching file is replaced by zeros or garbage.
    TornSector { path: PathPattern, offset: Option<u64>, sector: u32 },
    /// The `nth` write to a matching file lands at another offset of the file (seeded).
    MisdirectedWrite { path: PathPattern, nth: u64 },
    /// At the next reboot, a matching file's durable bytes are cut at `offset` (seeded if `None`).
    Truncate { path: PathPattern, offset: Option<u64> },
}

/// A fault's class, for coverage matrices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultClass {
    ReadError,
    WriteError,
    SyncError,
    NoSpace,
    FsyncMarkClean,
    FsyncReportLater,
    FsyncRevert,
    BitFlip,
    TornSector,
    MisdirectedWrite,
    Truncate,
}

/// What an operation did, as recorded in the event log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the log, from 0.
    pub index: u64,
    /// The phase label in force.
    pub phase: Phase,
    /// The operation and its arguments.
    pub op: EventOp,
    /// `"ok"`, `"power_loss"`, or the error (`"EIO"`, `"ENOSPC"`, `"NotFound"`, ...).
    pub result: String,
    /// The fault that fired on this operation, if any.
    pub fault: Option<FaultClass>,
}

/// An operation in the event log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum EventOp {
    Create { path: String },
    Open { path: String },
    Read { path: String, offset: u64, len: u64 },
    Write { path: String, offset: u64, len: u64 },
    SetLen { path: String, len: u64 },
    Sync { path: String },
    Rename { from: String, to: String },
    Remove { path: String },
    List { path: String },
    CreateDir { path: String },
    SyncDir { path: String },
    Exists { path: String },
    Lock { path: String },
    PowerOff,
    /// A reboot, with a line per file or name saying what was kept, torn or dropped.
    Reboot { policy: CrashPolicy, seed: u64, outcome: Vec<String> },
    /// A damage fault applied to the disk at reboot.
    Damage { path: String, offset: u64, what: String },
}

/// A frozen post-crash disk: what a reboot would bring back. Cheap to hash and compare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskImage {
    _private: (),
}

impl DiskImage {
    /// A digest of the image's names and bytes; equal images have equal hashes.
    pub fn content_hash(&self) -> u64 {
        todo!()
    }

    /// The files in the image, path -> bytes, sorted by path.
    pub fn files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        todo!()
    }
}

/// The state at a crash point, handed to a hook before a mutating operation is applied.
pub struct CrashPoint<'a> {
    /// How many mutating operations were applied before this one.
    pub op_index: u64,
    /// The phase label in force.
    pub phase: Phase,
    /// The operation about to be applied.
    pub op: &'a EventOp,
    _private: (),
}

impl CrashPoint<'_> {
    /// The distinct disks a power cut at this point can leave under `policy`, at most `bound`.
    pub fn crash_images(&self, policy: CrashPolicy, bound: usize) -> Vec<DiskImage> {
        let _ = (policy, bound);
        todo!()
    }
}

/// A hook called before every mutating operation (see [`SimFs::set_mutation_hook`]).
pub type MutationHook = Box<dyn FnMut(&CrashPoint<'_>) + Send>;

/// A handle to a simulated disk. Clones share the same disk.
#[derive(Clone, Debug)]
pub struct SimFs {
    _private: (),
}

impl Default for SimFs {
    fn default() -> Self {
        SimFs::new()
    }
}

impl SimFs {
    /// An empty, powered-on disk.
    pub fn new() -> SimFs {
        todo!()
    }

    /// A powered-on disk holding exactly `image` (everything durable, nothing pending).
    pub fn from_image(image: &DiskImage) -> SimFs {
        let _ = image;
        todo!()
    }

    /// An independent deep copy (live, durable and pending state, faults, log), powered as now.
    pub fn fork(&self) -> SimFs {
        todo!()
    }

    /// Cuts the power now.
    pub fn power_off(&self) {
        todo!()
    }

    /// Lets `n` more mutating operations succeed, then cuts the power at the next one.
    pub fn crash_after_ops(&self, n: u64) {
        let _ = n;
        todo!()
    }

    /// Tells whether the power is on.
    pub fn is_powered(&self) -> bool {
        todo!()
    }

    /// How many mutating operations have been applied since the disk was made.
    pub fn mutating_ops(&self) -> u64 {
        todo!()
    }

    /// Builds the post-crash disk from the durable state and what `policy` lets survive of the
    /// pending state (choices drawn from `seed`), applies damage faults, and powers on.
    pub fn reboot(&self, policy: CrashPolicy, seed: u64) {
        let _ = (policy, seed);
        todo!()
    }

    /// The distinct disks a power cut now can leave under `policy`, at most `bound`.
    pub fn crash_images(&self, policy: CrashPolicy, bound: usize) -> Vec<DiskImage> {
        let _ = (policy, bound);
        todo!()
    }

    /// Arms a fault.
    pub fn inject(&self, fault: Fault) {
        let _ = fault;
        todo!()
    }

    /// Disarms every fault not yet fired.
    pub fn clear_faults(&self) {
        todo!()
    }

    /// Installs (or removes) a hook called before every mutating operation.
    pub fn set_mutation_hook(&self, hook: Option<MutationHook>) {
        let _ = hook;
        todo!()
    }

    /// The event log so far.
    pub fn events(&self) -> Vec<Event> {
        todo!()
    }

    /// A digest of the event log.
    pub fn trace_hash(&self) -> u64 {
        todo!()
    }
}

impl Fs for SimFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn File>> {
        let _ = path;
        todo!()
    }
    fn open(&self, path: &Path) -> io::Result<Box<dyn File>> {
        let _ = path;
        todo!()
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let _ = (from, to);
        todo!()
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        let _ = path;
        todo!()
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let _ = dir;
        todo!()
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let _ = path;
        todo!()
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let _ = dir;
        todo!()
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        let _ = path;
        todo!()
    }
    fn lock(&self, path: &Path) -> io::Result<Box<dyn Lock>> {
        let _ = path;
        todo!()
    }
    fn set_phase(&self, phase: Phase) {
        let _ = phase;
        todo!()
    }
}
