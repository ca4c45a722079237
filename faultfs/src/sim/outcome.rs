//! What a reboot decided, as typed records for the `Reboot` event: per file, which byte ranges
//! of its pending changes reached the disk, were lost or were torn; per namespace operation,
//! whether it survived; and which sector model held.
//!
//! Reports draw these pieces on a file's bytes, so every range is exact: `offset..offset + len`
//! are the bytes of the file that the piece covers on the disk (where a misdirected write landed,
//! not where it was aimed).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::crash::{Choice, FileFate, Fill, pending_inodes, pieces};
use super::state::{Entry, Inode, NsOp, Pending, State, join};

/// Everything a reboot decided about the pending state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebootOutcome {
    /// Whether the device was declared to write sectors atomically
    /// ([`super::SimFs::set_atomic_sectors`]), so a report can say which assumption held.
    pub atomic_sectors: bool,
    /// Whether metadata was declared to reach the disk in issue order
    /// ([`super::SimFs::set_ordered_metadata`]).
    #[serde(default)]
    pub ordered_metadata: bool,
    /// One decision per file with pending changes (in inode order), then one per pending
    /// namespace operation (oldest first); empty when nothing was pending.
    pub decisions: Vec<RebootDecision>,
}

/// The fate of one file's pending changes or of one namespace operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RebootDecision {
    /// What survived of one file's pending changes.
    File {
        /// The file's name at the crash, as the event log names it (the last name it had if it
        /// was removed), so a report can match it to the writes in the log.
        path: String,
        /// How many pending changes (writes and `set_len`s) the file had.
        changes: u64,
        /// The pieces in the order they were applied to the durable bytes (a later piece
        /// overlays an earlier one); neighbouring pieces with the same fate are merged.
        pieces: Vec<FilePiece>,
    },
    /// Whether one pending namespace operation survived.
    Namespace {
        /// The operation.
        op: NamespaceOp,
        /// True if it reached the disk.
        kept: bool,
    },
}

/// A byte range of a file's pending changes and what became of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePiece {
    /// The first byte of the file the piece covers; for a `set_len`, the length it sets.
    pub offset: u64,
    /// How many bytes the piece covers (0 for a `set_len`).
    pub len: u64,
    /// What kind of change the piece belongs to.
    pub change: ChangeKind,
    /// What became of it.
    pub fate: PieceFate,
}

/// The kind of pending change a piece belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// `File::write_at`: the piece's bytes.
    Write,
    /// `File::set_len`: the file's length becomes the piece's offset.
    SetLen,
}

/// What became of a piece of a pending change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PieceFate {
    /// It reached the disk.
    Kept,
    /// It never reached the disk: those bytes hold what they held before.
    Dropped,
    /// The write was cut inside it: these bytes hold zeros.
    TornZeros,
    /// The write was cut inside it: these bytes hold garbage.
    TornGarbage,
}

/// A pending namespace operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum NamespaceOp {
    /// A new file's name (`create`, or `lock` of a missing file).
    Create {
        /// The file's path.
        path: String,
    },
    /// A new directory (`create_dir_all`, one per directory it made).
    Mkdir {
        /// The directory's path.
        path: String,
    },
    /// A rename, which survives or not as a whole.
    Rename {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// A removal.
    Remove {
        /// The name removed.
        path: String,
    },
}

impl fmt::Display for RebootOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.decisions.is_empty() {
            f.write_str("nothing pending: the disk is exactly its durable state")?;
        }
        for (i, decision) in self.decisions.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{decision}")?;
        }
        if self.atomic_sectors {
            f.write_str("; sectors atomic")?;
        }
        if self.ordered_metadata {
            f.write_str("; metadata in issue order")?;
        }
        Ok(())
    }
}

impl fmt::Display for RebootDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RebootDecision::File {
                path,
                changes,
                pieces,
            } => {
                write!(f, "file {path}: ")?;
                let uniform = pieces.first().map(|p| p.fate).filter(|first| {
                    matches!(first, PieceFate::Kept | PieceFate::Dropped)
                        && pieces.iter().all(|p| p.fate == *first)
                });
                match uniform {
                    Some(PieceFate::Kept) => write!(f, "kept all {changes} pending changes"),
                    Some(PieceFate::Dropped) => write!(f, "dropped all {changes} pending changes"),
                    _ => {
                        for (i, piece) in pieces.iter().enumerate() {
                            if i > 0 {
                                f.write_str(", ")?;
                            }
                            write!(f, "{piece}")?;
                        }
                        Ok(())
                    }
                }
            }
            RebootDecision::Namespace { op, kept } => {
                let verb = if *kept { "kept" } else { "dropped" };
                write!(f, "namespace: {verb} {op}")
            }
        }
    }
}

impl fmt::Display for FilePiece {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fate = match self.fate {
            PieceFate::Kept => "kept",
            PieceFate::Dropped => "dropped",
            PieceFate::TornZeros => "torn (zeros)",
            PieceFate::TornGarbage => "torn (garbage)",
        };
        match self.change {
            ChangeKind::SetLen => write!(f, "set_len {} {fate}", self.offset),
            ChangeKind::Write => write!(f, "{}..{} {fate}", self.offset, self.offset + self.len),
        }
    }
}

impl fmt::Display for NamespaceOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamespaceOp::Create { path } => write!(f, "create {path}"),
            NamespaceOp::Mkdir { path } => write!(f, "mkdir {path}"),
            NamespaceOp::Rename { from, to } => write!(f, "rename {from} -> {to}"),
            NamespaceOp::Remove { path } => write!(f, "remove {path}"),
        }
    }
}

/// The decisions `choice` makes about the pending state of `state`.
pub(crate) fn describe(state: &State, choice: &Choice) -> RebootOutcome {
    let mut decisions = Vec::new();
    for (ino, inode) in pending_inodes(state) {
        let path = inode.name.to_string_lossy().into_owned();
        let fate = choice.files.get(&ino).unwrap_or(&FileFate::DropAll);
        decisions.push(RebootDecision::File {
            path,
            changes: inode.pending.len() as u64,
            pieces: file_pieces(inode, fate, choice.sector),
        });
    }
    for (op, kept) in state.ns_pending.iter().zip(&choice.ns) {
        decisions.push(RebootDecision::Namespace {
            op: namespace_op(op),
            kept: *kept,
        });
    }
    RebootOutcome {
        atomic_sectors: state.atomic_sectors,
        ordered_metadata: state.ordered_metadata,
        decisions,
    }
}

/// The pieces of one file's pending changes under `fate`, merged where neighbours agree.
fn file_pieces(inode: &Inode, fate: &FileFate, sector: u64) -> Vec<FilePiece> {
    // A whole-file fate needs no sector split: one piece per change, then merging.
    let whole = |fate| {
        inode
            .pending
            .iter()
            .map(move |change| piece(change, None, fate))
    };
    match fate {
        FileFate::DropAll => merged(whole(PieceFate::Dropped)),
        FileFate::KeepAll => merged(whole(PieceFate::Kept)),
        FileFate::Pieces(fills) => merged(
            pieces(&inode.pending, sector)
                .iter()
                .zip(fills)
                .map(|(p, fill)| {
                    piece(&inode.pending[p.op], Some((p.start, p.end)), fate_of(*fill))
                }),
        ),
    }
}

/// Joins neighbouring write pieces with the same fate (`0..512 kept, 512..1024 kept` is
/// `0..1024 kept`), so a long log stays a short list.
fn merged(all: impl Iterator<Item = FilePiece>) -> Vec<FilePiece> {
    let mut out: Vec<FilePiece> = Vec::new();
    for next in all {
        match out.last_mut() {
            Some(last)
                if last.change == ChangeKind::Write
                    && next.change == ChangeKind::Write
                    && last.fate == next.fate
                    && last.offset + last.len == next.offset =>
            {
                last.len += next.len;
            }
            _ => out.push(next),
        }
    }
    out
}

/// One piece: `range` (start, end) within a write, or the whole change when `None`.
fn piece(change: &Pending, range: Option<(u64, u64)>, fate: PieceFate) -> FilePiece {
    match change {
        Pending::SetLen { len, .. } => FilePiece {
            offset: *len,
            len: 0,
            change: ChangeKind::SetLen,
            // A set_len is kept or not; it cannot be torn.
            fate: if fate == PieceFate::Kept {
                PieceFate::Kept
            } else {
                PieceFate::Dropped
            },
        },
        Pending::Write { offset, len, .. } => {
            let (start, end) = range.unwrap_or((*offset, offset + len));
            FilePiece {
                offset: start,
                len: end - start,
                change: ChangeKind::Write,
                fate,
            }
        }
    }
}

fn fate_of(fill: Fill) -> PieceFate {
    match fill {
        Fill::Keep => PieceFate::Kept,
        Fill::Drop => PieceFate::Dropped,
        Fill::Zero => PieceFate::TornZeros,
        Fill::Garbage => PieceFate::TornGarbage,
    }
}

fn namespace_op(op: &NsOp) -> NamespaceOp {
    match op {
        NsOp::Bind {
            dir,
            name,
            entry: Entry::Dir,
        } => NamespaceOp::Mkdir {
            path: join(dir, name),
        },
        NsOp::Bind { dir, name, .. } => NamespaceOp::Create {
            path: join(dir, name),
        },
        NsOp::Unbind { dir, name, .. } => NamespaceOp::Remove {
            path: join(dir, name),
        },
        NsOp::Rename {
            from_dir,
            from_name,
            to_dir,
            to_name,
            ..
        } => NamespaceOp::Rename {
            from: join(from_dir, from_name),
            to: join(to_dir, to_name),
        },
    }
}
