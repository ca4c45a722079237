//! What a reboot kept of each file and each name, read off a reboot event.
//!
//! faultfs records a reboot's decisions as typed values (`EventOp::Reboot { outcome }`, a
//! [`faultfs::RebootOutcome`]): per file with pending changes, its pieces (byte ranges where
//! they landed) and whether each was kept, dropped or torn into zeros or garbage; per pending
//! namespace operation, whether it was kept. [`survivors_of`] turns them into what the page
//! draws.

use faultfs::{ChangeKind, EventOp, NamespaceOp, PieceFate, RebootDecision};

/// Everything one reboot decided.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Survivors {
    /// One per file that had pending changes.
    pub files: Vec<FileSurvival>,
    /// One per pending namespace operation, oldest first.
    pub names: Vec<NameSurvival>,
    /// Lines this reader does not understand, shown as they are rather than dropped.
    pub other: Vec<String>,
}

/// What became of one file's pending changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSurvival {
    /// The file's name when the power went.
    pub path: String,
    pub fate: FileFate,
}

/// The fate of a file's pending changes as a whole, or piece by piece.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileFate {
    /// Every pending change reached the disk (the pieces are the file's pending writes).
    KeptAll,
    /// No pending change reached the disk.
    DroppedAll,
    /// Each piece (a pending write cut at sector boundaries, or a resize) on its own.
    Pieces(Vec<Piece>),
}

/// One piece of a pending change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Bytes `start..end` of a pending write.
    Bytes { start: u64, end: u64, fate: Fill },
    /// A pending resize to `len`.
    SetLen { len: u64, kept: bool },
}

/// What a sector of a pending write holds after the reboot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fill {
    /// The new bytes.
    Kept,
    /// The old bytes: the write never reached the disk.
    Dropped,
    /// Zeros: the sector was being written when the power went.
    TornZeros,
    /// Garbage: the sector was being written when the power went.
    TornGarbage,
}

impl Fill {
    /// The word used on the page and in CSS classes.
    pub fn name(self) -> &'static str {
        match self {
            Fill::Kept => "kept",
            Fill::Dropped => "dropped",
            Fill::TornZeros => "torn-zeros",
            Fill::TornGarbage => "torn-garbage",
        }
    }
}

/// A pending namespace operation and whether it survived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameSurvival {
    pub op: NameOp,
    pub kept: bool,
}

/// A namespace operation as the reboot names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameOp {
    Create(String),
    Mkdir(String),
    Remove(String),
    Rename { from: String, to: String },
}

impl NameOp {
    /// The names the operation binds or unbinds.
    pub fn paths(&self) -> Vec<&str> {
        match self {
            NameOp::Create(p) | NameOp::Mkdir(p) | NameOp::Remove(p) => vec![p],
            NameOp::Rename { from, to } => vec![from, to],
        }
    }

    /// How the operation reads on the page (`create log`, `rename CURRENT.tmp -> CURRENT`).
    pub fn describe(&self) -> String {
        let base = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
        match self {
            NameOp::Create(p) => format!("create {}", base(p)),
            NameOp::Mkdir(p) => format!("mkdir {}", base(p)),
            NameOp::Remove(p) => format!("remove {}", base(p)),
            NameOp::Rename { from, to } => format!("rename {} -> {}", base(from), base(to)),
        }
    }
}

/// What a reboot event decided; `None` for any other event.
pub fn survivors_of(op: &EventOp) -> Option<Survivors> {
    let EventOp::Reboot { outcome, .. } = op else {
        return None;
    };
    let mut out = Survivors::default();
    for d in &outcome.decisions {
        match d {
            RebootDecision::File { path, pieces, .. } => {
                let all = |f: PieceFate| !pieces.is_empty() && pieces.iter().all(|p| p.fate == f);
                let fate = if all(PieceFate::Kept) {
                    FileFate::KeptAll
                } else if all(PieceFate::Dropped) {
                    FileFate::DroppedAll
                } else {
                    FileFate::Pieces(pieces.iter().map(piece).collect())
                };
                out.files.push(FileSurvival {
                    path: path.clone(),
                    fate,
                });
            }
            RebootDecision::Namespace { op, kept } => out.names.push(NameSurvival {
                op: name_op(op),
                kept: *kept,
            }),
        }
    }
    Some(out)
}

fn piece(p: &faultfs::FilePiece) -> Piece {
    let fate = match p.fate {
        PieceFate::Kept => Fill::Kept,
        PieceFate::Dropped => Fill::Dropped,
        PieceFate::TornZeros => Fill::TornZeros,
        PieceFate::TornGarbage => Fill::TornGarbage,
    };
    match p.change {
        ChangeKind::SetLen => Piece::SetLen {
            len: p.offset,
            kept: p.fate == PieceFate::Kept,
        },
        ChangeKind::Write => Piece::Bytes {
            start: p.offset,
            end: p.offset + p.len,
            fate,
        },
    }
}

fn name_op(op: &NamespaceOp) -> NameOp {
    match op {
        NamespaceOp::Create { path } => NameOp::Create(path.clone()),
        NamespaceOp::Mkdir { path } => NameOp::Mkdir(path.clone()),
        NamespaceOp::Remove { path } => NameOp::Remove(path.clone()),
        NamespaceOp::Rename { from, to } => NameOp::Rename {
            from: from.clone(),
            to: to.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultfs::{CrashPolicy, FilePiece, RebootOutcome};

    fn reboot(decisions: Vec<RebootDecision>) -> EventOp {
        EventOp::Reboot {
            policy: CrashPolicy::Torn { sector: 16 },
            seed: 1,
            outcome: RebootOutcome {
                atomic_sectors: false,
                ordered_metadata: false,
                decisions,
            },
        }
    }

    fn write(offset: u64, len: u64, fate: PieceFate) -> FilePiece {
        FilePiece {
            offset,
            len,
            change: ChangeKind::Write,
            fate,
        }
    }

    #[test]
    fn pieces_of_a_torn_file_keep_their_fill() {
        let s = survivors_of(&reboot(vec![RebootDecision::File {
            path: "db/log".into(),
            changes: 3,
            pieces: vec![
                write(0, 16, PieceFate::Kept),
                write(16, 16, PieceFate::TornZeros),
                write(32, 16, PieceFate::TornGarbage),
                FilePiece {
                    offset: 8,
                    len: 0,
                    change: ChangeKind::SetLen,
                    fate: PieceFate::Kept,
                },
            ],
        }]))
        .unwrap();
        let FileFate::Pieces(p) = &s.files[0].fate else {
            panic!("{s:?}");
        };
        assert_eq!(
            p[1],
            Piece::Bytes {
                start: 16,
                end: 32,
                fate: Fill::TornZeros
            }
        );
        assert_eq!(p[3], Piece::SetLen { len: 8, kept: true });
    }

    #[test]
    fn whole_file_fates_and_namespace_operations_are_read() {
        let s = survivors_of(&reboot(vec![
            RebootDecision::File {
                path: "db/000004.wal".into(),
                changes: 3,
                pieces: vec![write(0, 10, PieceFate::Dropped)],
            },
            RebootDecision::Namespace {
                op: NamespaceOp::Rename {
                    from: "db/CURRENT.tmp".into(),
                    to: "db/CURRENT".into(),
                },
                kept: false,
            },
        ]))
        .unwrap();
        assert_eq!(s.files[0].fate, FileFate::DroppedAll);
        assert_eq!(
            s.names[0],
            NameSurvival {
                op: NameOp::Rename {
                    from: "db/CURRENT.tmp".into(),
                    to: "db/CURRENT".into()
                },
                kept: false
            }
        );
        assert!(survivors_of(&EventOp::PowerOff).is_none());
    }
}
