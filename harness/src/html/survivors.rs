//! What a reboot kept of each file and each name, read off a reboot event.
//!
//! faultfs records a reboot's decisions as one line of text per file with pending changes and
//! per pending namespace operation (`EventOp::Reboot { outcome }`). [`survivors_of`] is the only
//! place that reads those lines; when the log carries the decisions as typed values it becomes a
//! conversion, and nothing else on the page changes. The lines it reads:
//!
//! ```text
//! file db/000004.wal: kept all 3 pending changes
//! file db/000004.wal: dropped all 3 pending changes
//! file db/log: 0..16 kept, 16..32 torn (zeros), 32..48 torn (garbage), 48..72 dropped, set_len 8 kept
//! namespace: kept create db/000004.wal
//! namespace: dropped rename db/CURRENT.tmp -> db/CURRENT
//! nothing pending: the disk is exactly its durable state
//! ```

use faultfs::EventOp;

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
    for line in outcome {
        if let Some(rest) = line.strip_prefix("file ") {
            match file_line(rest) {
                Some(file) => out.files.push(file),
                None => out.other.push(line.clone()),
            }
        } else if let Some(rest) = line.strip_prefix("namespace: ") {
            match name_line(rest) {
                Some(name) => out.names.push(name),
                None => out.other.push(line.clone()),
            }
        } else if !line.starts_with("nothing pending") {
            out.other.push(line.clone());
        }
    }
    Some(out)
}

/// `PATH: kept all N pending changes` or `PATH: PIECE, PIECE, ...`.
fn file_line(rest: &str) -> Option<FileSurvival> {
    let (path, what) = rest.rsplit_once(": ")?;
    let fate = if what.starts_with("kept all ") {
        FileFate::KeptAll
    } else if what.starts_with("dropped all ") {
        FileFate::DroppedAll
    } else {
        let pieces: Option<Vec<Piece>> = what.split(", ").map(piece).collect();
        FileFate::Pieces(pieces?)
    };
    Some(FileSurvival {
        path: path.to_string(),
        fate,
    })
}

/// `A..B kept`, `A..B torn (zeros)`, `set_len L dropped`, ...
fn piece(text: &str) -> Option<Piece> {
    if let Some(rest) = text.strip_prefix("set_len ") {
        let (len, verdict) = rest.split_once(' ')?;
        return Some(Piece::SetLen {
            len: len.parse().ok()?,
            kept: verdict == "kept",
        });
    }
    let (range, verdict) = text.split_once(' ')?;
    let (start, end) = range.split_once("..")?;
    let fate = match verdict {
        "kept" => Fill::Kept,
        "dropped" => Fill::Dropped,
        "torn (zeros)" => Fill::TornZeros,
        "torn (garbage)" => Fill::TornGarbage,
        _ => return None,
    };
    Some(Piece::Bytes {
        start: start.parse().ok()?,
        end: end.parse().ok()?,
        fate,
    })
}

/// `kept create P`, `dropped rename A -> B`, ...
fn name_line(rest: &str) -> Option<NameSurvival> {
    let (verdict, op) = rest.split_once(' ')?;
    let kept = match verdict {
        "kept" => true,
        "dropped" => false,
        _ => return None,
    };
    let (verb, args) = op.split_once(' ')?;
    let op = match verb {
        "create" => NameOp::Create(args.to_string()),
        "mkdir" => NameOp::Mkdir(args.to_string()),
        "remove" => NameOp::Remove(args.to_string()),
        "rename" => {
            let (from, to) = args.split_once(" -> ")?;
            NameOp::Rename {
                from: from.to_string(),
                to: to.to_string(),
            }
        }
        _ => return None,
    };
    Some(NameSurvival { op, kept })
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultfs::CrashPolicy;

    fn reboot(lines: &[&str]) -> EventOp {
        EventOp::Reboot {
            policy: CrashPolicy::Torn { sector: 16 },
            seed: 1,
            outcome: lines.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn pieces_of_a_torn_file_are_read_with_their_fill() {
        let s = survivors_of(&reboot(&[
            "file db/log: 0..16 kept, 16..32 torn (zeros), 32..48 torn (garbage), 48..72 dropped, set_len 8 kept",
        ]))
        .unwrap();
        assert_eq!(s.files.len(), 1);
        assert_eq!(s.files[0].path, "db/log");
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
        assert_eq!(
            p[2],
            Piece::Bytes {
                start: 32,
                end: 48,
                fate: Fill::TornGarbage
            }
        );
        assert_eq!(p[4], Piece::SetLen { len: 8, kept: true });
        assert!(s.other.is_empty());
    }

    #[test]
    fn whole_file_fates_and_namespace_operations_are_read() {
        let s = survivors_of(&reboot(&[
            "file db/000004.wal: dropped all 3 pending changes",
            "file db/MANIFEST-000002: kept all 1 pending changes",
            "namespace: kept create db/000004.wal",
            "namespace: dropped rename db/CURRENT.tmp -> db/CURRENT",
            "nothing pending: the disk is exactly its durable state",
        ]))
        .unwrap();
        assert_eq!(s.files[0].fate, FileFate::DroppedAll);
        assert_eq!(s.files[1].fate, FileFate::KeptAll);
        assert_eq!(
            s.names[1],
            NameSurvival {
                op: NameOp::Rename {
                    from: "db/CURRENT.tmp".into(),
                    to: "db/CURRENT".into()
                },
                kept: false
            }
        );
        assert!(s.other.is_empty());
    }

    #[test]
    fn a_line_it_does_not_know_is_kept_as_text() {
        let s = survivors_of(&reboot(&["file db/x: 0..4 melted"])).unwrap();
        assert!(s.files.is_empty());
        assert_eq!(s.other, vec!["file db/x: 0..4 melted".to_string()]);
        assert!(survivors_of(&EventOp::PowerOff).is_none());
    }
}
