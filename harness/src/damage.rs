//! Aiming damage: turning a [`DamageStep`] into a faultfs fault at a byte that matters.
//!
//! A random bit flip often lands in a torn tail or in bytes nothing reads, and a store may then
//! rightly cut it away as a crash leftover. So the harness picks from the event log a write that
//! was made durable (a successful sync of its file followed it) to a file of the step's role,
//! and damages a byte inside it. Every role can be hit, files written in one piece (a pointer
//! file, a snapshot) included.
//!
//! Which outcome is allowed depends on where the damage landed ([`Aimed::strict`]):
//! - inside a durable write that a later durable write of the same file follows, or anywhere in
//!   a data or pointer file: the damage cannot pass for a torn tail, so the store must refuse
//!   cleanly naming the file, or recover within D..N;
//! - in the last durable write of a log, manifest or other appended file: a store cannot tell it
//!   from a torn tail, so any consistent prefix (or a refusal) is allowed, as after truncation.
//!
//! A store that declares [`crate::store::DamageRule::Rollback`] may also roll back past D after
//! any damage; the run reports such a recovery as a rollback.

use std::collections::BTreeMap;
use std::path::Path;

use faultfs::{Event, EventOp, EventPath, Fault, PathPattern};

use crate::case::{DamageClass, DamageStep};
use crate::store::FileKind;

/// The sector size torn-sector damage uses.
pub const SECTOR_BYTES: u64 = 512;

#[derive(Default)]
struct Track {
    /// (event index, offset, length) of each successful write since the last reboot.
    writes: Vec<(u64, u64, u64)>,
    /// The event index of the last successful, honest sync.
    synced_at: Option<u64>,
}

/// Files written since the last reboot, by their current path (shared with the log).
fn tracks(events: &[Event]) -> BTreeMap<EventPath, Track> {
    let mut files: BTreeMap<EventPath, Track> = BTreeMap::new();
    for e in events {
        if matches!(e.op, EventOp::Reboot { .. }) {
            files.clear();
            continue;
        }
        if e.result != "ok" {
            continue;
        }
        match &e.op {
            EventOp::Create { path } => {
                files.insert(path.clone(), Track::default());
            }
            EventOp::Write { path, offset, len } => {
                files
                    .entry(path.clone())
                    .or_default()
                    .writes
                    .push((e.index, *offset, *len));
            }
            EventOp::Sync { path } if e.fault.is_none() => {
                files.entry(path.clone()).or_default().synced_at = Some(e.index);
            }
            EventOp::Rename { from, to } => {
                if let Some(t) = files.remove(from) {
                    files.insert(to.clone(), t);
                }
            }
            EventOp::Remove { path } => {
                files.remove(path);
            }
            _ => {}
        }
    }
    files
}

/// Damage aimed at one byte, and the rule its outcome is judged by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Aimed {
    /// The damaged file.
    pub path: String,
    /// The fault that damages it at the next reboot.
    pub fault: Fault,
    /// The damage cannot pass for a torn tail: refuse or stay within D..N.
    pub strict: bool,
}

/// Picks the byte to damage for `step` among the durable writes to files of its role, or `None`
/// when no such file has a durable write.
pub fn aim(events: &[Event], step: &DamageStep, kinds: fn(&Path) -> FileKind) -> Option<Aimed> {
    // (path, offset, len, strict)
    let mut eligible: Vec<(String, u64, u64, bool)> = Vec::new();
    for (path, t) in tracks(events) {
        if kinds(Path::new(&path)) != step.file {
            continue;
        }
        let Some(synced_at) = t.synced_at else {
            continue;
        };
        let in_place = matches!(step.file, FileKind::Data | FileKind::Pointer);
        let durable: Vec<_> = t.writes.iter().filter(|w| w.0 < synced_at).collect();
        for w in &durable {
            let (_, offset, len) = **w;
            if len == 0 {
                continue;
            }
            // The damaged span must end before some later durable write begins for the damage
            // to be told apart from a torn tail.
            let end = match step.class {
                DamageClass::BitFlip => offset + len,
                DamageClass::TornSector => (offset / SECTOR_BYTES + 1) * SECTOR_BYTES,
            };
            let followed = durable.iter().any(|l| l.0 > w.0 && l.1 >= end);
            eligible.push((path.to_string(), offset, len, in_place || followed));
        }
    }
    if eligible.is_empty() {
        return None;
    }
    // Prefer the damage a torn tail cannot explain: that is where stores go wrong silently.
    let strict: Vec<_> = eligible.iter().filter(|e| e.3).cloned().collect();
    let pool = if strict.is_empty() || step.pick % 4 == 3 {
        &eligible
    } else {
        &strict
    };
    let (path, offset, len, strict) = pool[(step.pick % pool.len() as u64) as usize].clone();
    let at = match step.class {
        DamageClass::BitFlip => offset + (step.pick >> 32) % len,
        DamageClass::TornSector => offset,
    };
    let pattern = PathPattern(path.clone());
    let fault = match step.class {
        DamageClass::BitFlip => Fault::BitFlip {
            path: pattern,
            offset: Some(at),
        },
        DamageClass::TornSector => Fault::TornSector {
            path: pattern,
            offset: Some(at),
            sector: SECTOR_BYTES as u32,
        },
    };
    Some(Aimed {
        path,
        fault,
        strict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultfs::Phase;

    fn ev(index: u64, op: EventOp) -> Event {
        Event {
            index,
            phase: Phase::Write,
            op,
            result: "ok".into(),
            fault: None,
        }
    }

    fn write(index: u64, offset: u64, len: u64) -> Event {
        ev(
            index,
            EventOp::Write {
                path: "db/1.wal".into(),
                offset,
                len,
            },
        )
    }

    #[test]
    fn damage_lands_in_a_durable_write_followed_by_another() {
        let events = vec![
            ev(
                0,
                EventOp::Create {
                    path: "db/1.wal".into(),
                },
            ),
            write(1, 0, 100),
            write(2, 100, 100),
            ev(
                3,
                EventOp::Sync {
                    path: "db/1.wal".into(),
                },
            ),
            write(4, 200, 100),
        ];
        let step = DamageStep {
            class: DamageClass::BitFlip,
            file: FileKind::Log,
            pick: 0,
        };
        let aimed = aim(&events, &step, wal_kinds).unwrap();
        assert_eq!(aimed.path, "db/1.wal");
        assert!(aimed.strict);
        let fault = aimed.fault;
        let Fault::BitFlip {
            offset: Some(at), ..
        } = fault
        else {
            panic!("{fault:?}")
        };
        assert!(
            at < 100,
            "only the first write is durable and followed by a durable one"
        );
    }

    fn wal_kinds(path: &Path) -> FileKind {
        if path.extension().is_some_and(|e| e == "wal") {
            FileKind::Log
        } else {
            FileKind::Pointer
        }
    }

    #[test]
    fn the_last_durable_write_of_a_log_is_damaged_under_the_torn_tail_rule() {
        let events = vec![
            ev(
                0,
                EventOp::Create {
                    path: "db/1.wal".into(),
                },
            ),
            write(1, 0, 100),
            ev(
                2,
                EventOp::Sync {
                    path: "db/1.wal".into(),
                },
            ),
            write(3, 100, 100),
        ];
        let step = DamageStep {
            class: DamageClass::BitFlip,
            file: FileKind::Log,
            pick: 5,
        };
        let aimed = aim(&events, &step, wal_kinds).unwrap();
        assert!(!aimed.strict, "{aimed:?}");
    }

    #[test]
    fn a_file_written_in_one_piece_is_damaged_under_the_strict_rule() {
        let events = vec![
            ev(
                0,
                EventOp::Create {
                    path: "db/CURRENT".into(),
                },
            ),
            ev(
                1,
                EventOp::Write {
                    path: "db/CURRENT".into(),
                    offset: 0,
                    len: 20,
                },
            ),
            ev(
                2,
                EventOp::Sync {
                    path: "db/CURRENT".into(),
                },
            ),
        ];
        let step = DamageStep {
            class: DamageClass::BitFlip,
            file: FileKind::Pointer,
            pick: 7,
        };
        let aimed = aim(&events, &step, wal_kinds).unwrap();
        assert_eq!(aimed.path, "db/CURRENT");
        assert!(aimed.strict);
    }
}
