//! Armed faults: which operation they fire on, and the damage they do to the disk at a reboot.

use std::io;
use std::path::Path;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::crash::garbage_byte;
use super::image::DiskImage;
use super::{EventOp, EventPath, Fault, FaultClass, FsyncMode, IoOp, PathPattern};
use crate::FileKind;

/// A fault and how many matching operations it has seen.
#[derive(Clone, Debug)]
pub(crate) struct Armed {
    pub fault: Fault,
    pub seen: u64,
}

/// How a store names the role of each of its files (see [`super::SimFs::set_file_kinds`]).
pub type KindFn = fn(&Path) -> FileKind;

impl PathPattern {
    /// Tells whether `path` matches: `*` is any run of characters (including `/`), `?` is one
    /// character; a pattern without `/` is matched against the file name only. A pattern
    /// `role:<name>` (`role:log`, `role:data`, ...) matches the files that `kinds` puts in that
    /// role, and nothing when no classifier is set.
    pub fn matches_with(&self, path: &Path, kinds: Option<KindFn>) -> bool {
        if let Some(role) = self.0.strip_prefix("role:") {
            return kinds.is_some_and(|f| f(path).name() == role);
        }
        self.matches(path)
    }

    /// [`PathPattern::matches_with`] without a classifier: globs only.
    pub fn matches(&self, path: &Path) -> bool {
        if self.0.starts_with("role:") {
            return false;
        }
        let text = if self.0.contains('/') {
            path.to_string_lossy().into_owned()
        } else {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        glob(self.0.as_bytes(), text.as_bytes())
    }
}

/// Glob matching with backtracking over the last `*` (linear in practice).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

/// A real EIO, as the kernel gives it.
pub(crate) fn eio() -> io::Error {
    io::Error::from_raw_os_error(libc::EIO)
}

/// A real ENOSPC.
pub(crate) fn enospc() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOSPC)
}

/// Counts a matching operation against every armed fault of kind `want`; returns the first fault
/// that fires now (and disarms it).
///
/// Most runs arm nothing, and every read, write and sync asks (a write twice): with no fault
/// armed the answer is a length check at the call site, not a call.
#[inline]
pub(crate) fn fire(
    faults: &mut Vec<Armed>,
    path: &Path,
    want: Trigger,
    kinds: Option<KindFn>,
) -> Option<Fault> {
    if faults.is_empty() {
        return None;
    }
    fire_armed(faults, path, want, kinds)
}

/// [`fire`] when some fault is armed.
fn fire_armed(
    faults: &mut Vec<Armed>,
    path: &Path,
    want: Trigger,
    kinds: Option<KindFn>,
) -> Option<Fault> {
    let mut fired = None;
    let mut i = 0;
    while i < faults.len() {
        let armed = &mut faults[i];
        let (pattern, nth) = match (&armed.fault, want) {
            (Fault::IoError { op, path, nth }, Trigger::Io(want_op)) if *op == want_op => {
                (path, *nth)
            }
            (Fault::FsyncFailure { path, nth, .. }, Trigger::Fsync) => (path, *nth),
            (Fault::MisdirectedWrite { path, nth }, Trigger::Misdirect) => (path, *nth),
            _ => {
                i += 1;
                continue;
            }
        };
        if !pattern.matches_with(path, kinds) {
            i += 1;
            continue;
        }
        armed.seen += 1;
        if armed.seen >= nth.max(1) && fired.is_none() {
            fired = Some(faults.remove(i).fault);
            continue;
        }
        i += 1;
    }
    fired
}

/// Which family of runtime faults an operation can trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trigger {
    Io(IoOp),
    Fsync,
    Misdirect,
}

/// The smallest armed capacity, if any.
pub(crate) fn capacity(faults: &[Armed]) -> Option<u64> {
    faults
        .iter()
        .filter_map(|a| match a.fault {
            Fault::NoSpace { capacity_bytes } => Some(capacity_bytes),
            _ => None,
        })
        .min()
}

/// The class of an I/O error fault.
pub(crate) fn io_class(op: IoOp) -> FaultClass {
    match op {
        IoOp::Read => FaultClass::ReadError,
        IoOp::Write => FaultClass::WriteError,
        IoOp::Sync => FaultClass::SyncError,
    }
}

/// The class of an fsync failure.
pub(crate) fn fsync_class(mode: FsyncMode) -> FaultClass {
    match mode {
        FsyncMode::MarkClean => FaultClass::FsyncMarkClean,
        FsyncMode::ReportLater => FaultClass::FsyncReportLater,
        FsyncMode::Revert => FaultClass::FsyncRevert,
    }
}

impl Fault {
    /// The class of this fault, for coverage matrices.
    pub fn class(&self) -> FaultClass {
        match self {
            Fault::IoError { op, .. } => io_class(*op),
            Fault::NoSpace { .. } => FaultClass::NoSpace,
            Fault::FsyncFailure { mode, .. } => fsync_class(*mode),
            Fault::BitFlip { .. } => FaultClass::BitFlip,
            Fault::TornSector { .. } => FaultClass::TornSector,
            Fault::MisdirectedWrite { .. } => FaultClass::MisdirectedWrite,
            Fault::Truncate { .. } => FaultClass::Truncate,
        }
    }

    /// Tells whether this fault damages durable bytes at the next reboot (rather than failing an
    /// operation while running).
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            Fault::BitFlip { .. } | Fault::TornSector { .. } | Fault::Truncate { .. }
        )
    }
}

/// Applies every armed damage fault to each matching file of `image`, disarms them, and returns
/// a Damage event per change made.
pub(crate) fn apply_damage(
    faults: &mut Vec<Armed>,
    image: &mut DiskImage,
    rng: &mut ChaCha8Rng,
    kinds: Option<KindFn>,
) -> Vec<(EventOp, FaultClass)> {
    let mut events = Vec::new();
    let damage: Vec<Fault> = faults
        .iter()
        .filter(|a| a.fault.is_damage())
        .map(|a| a.fault.clone())
        .collect();
    faults.retain(|a| !a.fault.is_damage());
    for fault in damage {
        let class = fault.class();
        for (path, bytes) in image.file_bytes_mut() {
            let Some(what) = damage_one(&fault, path, bytes, rng, kinds) else {
                continue;
            };
            let (offset, what) = what;
            events.push((
                EventOp::Damage {
                    path: EventPath::from(path.display().to_string()),
                    offset,
                    what,
                },
                class,
            ));
        }
    }
    events
}

/// Damages one file if `fault` aims at it; returns the offset and a description.
fn damage_one(
    fault: &Fault,
    path: &Path,
    bytes: &mut std::sync::Arc<Vec<u8>>,
    rng: &mut ChaCha8Rng,
    kinds: Option<KindFn>,
) -> Option<(u64, String)> {
    let len = bytes.len() as u64;
    match fault {
        Fault::BitFlip { path: pat, offset } if pat.matches_with(path, kinds) && len > 0 => {
            let at = offset.unwrap_or_else(|| rng.random_range(0..len));
            if at >= len {
                return None;
            }
            let bit: u8 = rng.random_range(0..8);
            std::sync::Arc::make_mut(bytes)[at as usize] ^= 1 << bit;
            Some((at, format!("bit {bit} flipped")))
        }
        Fault::TornSector {
            path: pat,
            offset,
            sector,
        } if pat.matches_with(path, kinds) && len > 0 => {
            let sector = u64::from((*sector).max(1));
            let at = offset.unwrap_or_else(|| rng.random_range(0..len));
            if at >= len {
                return None;
            }
            let start = at / sector * sector;
            let end = (start + sector).min(len);
            let zeros = rng.random_bool(0.5);
            let data = std::sync::Arc::make_mut(bytes);
            for pos in start..end {
                data[pos as usize] = if zeros { 0 } else { garbage_byte(pos) };
            }
            let fill = if zeros { "zeros" } else { "garbage" };
            Some((start, format!("sector {start}..{end} replaced by {fill}")))
        }
        Fault::Truncate { path: pat, offset } if pat.matches_with(path, kinds) => {
            let at = offset.unwrap_or_else(|| rng.random_range(0..=len));
            if at >= len {
                return None;
            }
            std::sync::Arc::make_mut(bytes).truncate(at as usize);
            Some((at, format!("truncated from {len} to {at} bytes")))
        }
        _ => None,
    }
}
