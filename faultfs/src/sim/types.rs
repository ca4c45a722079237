//! The simulator's vocabulary: crash policies, faults, and the event log's records.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::RebootOutcome;
use crate::Phase;

/// How much of the pending (not yet durable) state survives a power cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CrashPolicy {
    /// Nothing pending survives.
    Strict,
    /// Everything written survives (a process kill: the page cache outlives the process).
    KeepAll,
    /// Per file a random prefix of pending writes survives, the last one possibly cut at a sector
    /// boundary (the sector after the cut as it was, or, unless sectors are atomic, zeros or
    /// garbage); per directory a random prefix of pending namespace operations survives.
    Torn {
        /// The device's atomic unit in bytes: writes tear only between sectors.
        sector: u32,
    },
    /// Every pending sector piece and namespace operation survives or not on its own (with atomic
    /// sectors, each sector keeps a prefix of the pieces written to it); renames stay atomic.
    Reorder {
        /// The device's atomic unit in bytes: each pending write is split into sectors that
        /// survive independently.
        sector: u32,
    },
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
    /// `File::read_exact_at`.
    Read,
    /// `File::write_at`.
    Write,
    /// `File::sync`.
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

/// A fault armed with [`super::SimFs::inject`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// EIO on the `nth` (1-based) matching operation on files matching `path`.
    IoError {
        /// Which operation fails.
        op: IoOp,
        /// Which files (by their current name, whatever name their handle was opened with).
        path: PathPattern,
        /// Which matching operation fails, counted from 1.
        nth: u64,
    },
    /// ENOSPC on any write or growing `set_len` once the live bytes of all files would pass
    /// `capacity_bytes`. Stays armed until cleared.
    NoSpace {
        /// The disk's size in bytes.
        capacity_bytes: u64,
    },
    /// The `nth` sync of a matching file fails in `mode`.
    FsyncFailure {
        /// Which files.
        path: PathPattern,
        /// Which matching sync fails, counted from 1.
        nth: u64,
        /// How the failure behaves.
        mode: FsyncMode,
    },
    /// At the next reboot, one bit of the durable bytes of a matching file flips (at `offset`, or
    /// at a seeded offset when `None`).
    BitFlip {
        /// Which files.
        path: PathPattern,
        /// The byte whose bit flips; seeded from the reboot seed when `None`.
        offset: Option<u64>,
    },
    /// At the next reboot, one durable sector of a matching file is replaced by zeros or garbage.
    TornSector {
        /// Which files.
        path: PathPattern,
        /// A byte inside the sector to tear; seeded from the reboot seed when `None`.
        offset: Option<u64>,
        /// The sector size in bytes.
        sector: u32,
    },
    /// The `nth` write to a matching file lands at another offset of the file (seeded).
    MisdirectedWrite {
        /// Which files.
        path: PathPattern,
        /// Which matching write goes astray, counted from 1.
        nth: u64,
    },
    /// At the next reboot, a matching file's durable bytes are cut at `offset` (seeded if `None`).
    Truncate {
        /// Which files.
        path: PathPattern,
        /// The new length; seeded from the reboot seed when `None`.
        offset: Option<u64>,
    },
}

/// A fault's class, for coverage matrices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultClass {
    /// EIO on a read.
    ReadError,
    /// EIO on a write.
    WriteError,
    /// EIO on a sync, changes left pending.
    SyncError,
    /// ENOSPC on a write or set_len.
    NoSpace,
    /// A failed fsync that dropped the pending pages.
    FsyncMarkClean,
    /// An fsync failure reported by the sync after the one it hit.
    FsyncReportLater,
    /// A failed fsync that reverted the live bytes.
    FsyncRevert,
    /// One flipped bit in durable bytes.
    BitFlip,
    /// One durable sector replaced by zeros or garbage.
    TornSector,
    /// A write that reached the disk at the wrong offset.
    MisdirectedWrite,
    /// A durable file cut short.
    Truncate,
}

impl FaultClass {
    /// Every class, in a fixed order (for coverage matrices).
    pub const ALL: [FaultClass; 11] = [
        FaultClass::ReadError,
        FaultClass::WriteError,
        FaultClass::SyncError,
        FaultClass::NoSpace,
        FaultClass::FsyncMarkClean,
        FaultClass::FsyncReportLater,
        FaultClass::FsyncRevert,
        FaultClass::BitFlip,
        FaultClass::TornSector,
        FaultClass::MisdirectedWrite,
        FaultClass::Truncate,
    ];

    /// The classes that damage bytes already on the disk (a failing device, not a power cut or
    /// an error returned to a call).
    pub const DAMAGE: [FaultClass; 4] = [
        FaultClass::BitFlip,
        FaultClass::TornSector,
        FaultClass::MisdirectedWrite,
        FaultClass::Truncate,
    ];
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
    /// `"ok"`, `"power_loss"`, or the error (`"EIO"`, `"ENOSPC"`, `"NotFound"`, ...); a
    /// misdirected write reads `"ok (landed at offset N)"`.
    pub result: Cow<'static, str>,
    /// The fault that fired on this operation, if any.
    pub fault: Option<FaultClass>,
}

/// An operation in the event log. Paths are as the caller gave them; an operation through an
/// open file names the file's current name, normalised (after a rename, the new name; after a
/// remove, the last name it had), not the name the handle was opened by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum EventOp {
    /// `Fs::create`.
    Create {
        /// The new file.
        path: EventPath,
    },
    /// `Fs::open`.
    Open {
        /// The file opened.
        path: EventPath,
    },
    /// `File::read_exact_at`.
    Read {
        /// The file read.
        path: EventPath,
        /// Where the read starts.
        offset: u64,
        /// How many bytes were asked for.
        len: u64,
    },
    /// `File::write_at`.
    Write {
        /// The file written.
        path: EventPath,
        /// Where the write was aimed.
        offset: u64,
        /// How many bytes.
        len: u64,
    },
    /// `File::set_len`.
    SetLen {
        /// The file resized.
        path: EventPath,
        /// The new length.
        len: u64,
    },
    /// `File::sync`.
    Sync {
        /// The file synced.
        path: EventPath,
    },
    /// `Fs::rename`.
    Rename {
        /// The old name.
        from: EventPath,
        /// The new name.
        to: EventPath,
    },
    /// `Fs::remove`.
    Remove {
        /// The name removed.
        path: EventPath,
    },
    /// `Fs::list`.
    List {
        /// The directory listed.
        path: EventPath,
    },
    /// `Fs::create_dir_all`.
    CreateDir {
        /// The directory made.
        path: EventPath,
    },
    /// `Fs::sync_dir`.
    SyncDir {
        /// The directory synced.
        path: EventPath,
    },
    /// `Fs::exists`.
    Exists {
        /// The name asked about.
        path: EventPath,
    },
    /// `Fs::lock`.
    Lock {
        /// The lock file.
        path: EventPath,
    },
    /// `SimFs::power_off`.
    PowerOff,
    /// A reboot, with what it decided about every pending change and name.
    Reboot {
        /// The policy that decided what survived.
        policy: CrashPolicy,
        /// The seed every choice was drawn from.
        seed: u64,
        /// Per file with pending changes, the byte ranges kept, dropped or torn; per pending
        /// namespace operation, whether it survived; and whether sectors were atomic.
        outcome: RebootOutcome,
    },
    /// A damage fault applied to the disk at reboot.
    Damage {
        /// The damaged file.
        path: EventPath,
        /// Where the damage starts.
        offset: u64,
        /// What was done (`"bit 3 flipped"`, `"truncated from 100 to 40 bytes"`, ...).
        what: String,
    },
}

/// A path as the event log shows it: text shared, not copied. The simulator logs every
/// operation, so its path is one reference-counted string that an operation through a handle
/// takes from the file's inode (a count bump) and a namespace operation builds once from the
/// text it checks anyway. It reads, compares, prints, serialises and hashes as the text itself
/// (a JSON string; `Debug` like a `String`'s).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventPath(Arc<str>);

impl EventPath {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shared text itself, for the simulator to hand on without copying.
    pub(crate) fn shared(&self) -> &Arc<str> {
        &self.0
    }
}

impl Deref for EventPath {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for EventPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<std::path::Path> for EventPath {
    fn as_ref(&self) -> &std::path::Path {
        std::path::Path::new(&*self.0)
    }
}

impl AsRef<std::ffi::OsStr> for EventPath {
    fn as_ref(&self) -> &std::ffi::OsStr {
        std::ffi::OsStr::new(&*self.0)
    }
}

impl Borrow<str> for EventPath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<Arc<str>> for EventPath {
    fn from(text: Arc<str>) -> Self {
        EventPath(text)
    }
}

impl From<&str> for EventPath {
    fn from(text: &str) -> Self {
        EventPath(Arc::from(text))
    }
}

impl From<String> for EventPath {
    fn from(text: String) -> Self {
        EventPath(Arc::from(text))
    }
}

impl From<EventPath> for String {
    fn from(path: EventPath) -> Self {
        String::from(&*path.0)
    }
}

impl fmt::Display for EventPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl fmt::Debug for EventPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl PartialEq<str> for EventPath {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for EventPath {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for EventPath {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<EventPath> for str {
    fn eq(&self, other: &EventPath) -> bool {
        *self == *other.0
    }
}

impl PartialEq<EventPath> for &str {
    fn eq(&self, other: &EventPath) -> bool {
        **self == *other.0
    }
}

impl PartialEq<EventPath> for String {
    fn eq(&self, other: &EventPath) -> bool {
        **self == *other.0
    }
}

impl Serialize for EventPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EventPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(EventPath::from)
    }
}
