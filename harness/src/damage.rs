//! Aiming damage: turning a [`DamageStep`] into a faultfs fault at a byte that matters.
//!
//! A random bit flip often lands in a torn tail or in bytes nothing reads, and a store may then
//! rightly cut it away as a crash leftover. To test that a store never mistakes real damage for
//! a torn tail, the harness picks from the event log a write that was made durable (a successful
//! sync of its file followed it) and is followed in the same file by another durable write, and
//! damages a byte inside it. A correct store must then refuse cleanly or recover within D..N.

use std::collections::BTreeMap;

use faultfs::{Event, EventOp, Fault, PathPattern};

use crate::case::{DamageClass, DamageStep};
use crate::coverage::FileKind;

/// The sector size torn-sector damage uses.
pub const SECTOR_BYTES: u64 = 512;

#[derive(Default)]
struct Track {
    /// (event index, offset, length) of each successful write since the last reboot.
    writes: Vec<(u64, u64, u64)>,
    /// The event index of the last successful, honest sync.
    synced_at: Option<u64>,
}

/// Files written since the last reboot, by their current path.
fn tracks(events: &[Event]) -> BTreeMap<String, Track> {
    let mut files: BTreeMap<String, Track> = BTreeMap::new();
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

/// Picks the byte to damage for `step` and returns the file and the fault that damages it, or
/// `None` when no file of that kind has a durable write followed by another.
pub fn aim(events: &[Event], step: &DamageStep) -> Option<(String, Fault)> {
    let mut eligible: Vec<(String, u64, u64)> = Vec::new();
    for (path, t) in tracks(events) {
        if FileKind::of(&path) != step.file {
            continue;
        }
        let Some(synced_at) = t.synced_at else {
            continue;
        };
        let durable: Vec<_> = t.writes.iter().filter(|w| w.0 < synced_at).collect();
        for w in &durable {
            let (_, offset, len) = **w;
            if len == 0 {
                continue;
            }
            // The damaged span must end before some later durable write begins.
            let end = match step.class {
                DamageClass::BitFlip => offset + len,
                DamageClass::TornSector => (offset / SECTOR_BYTES + 1) * SECTOR_BYTES,
            };
            // An SST is immutable once synced and the MANIFEST records its length, so damage
            // anywhere in it can never pass for a torn tail: any durable write is a target.
            let immutable = step.file == FileKind::Sst;
            if immutable || durable.iter().any(|l| l.0 > w.0 && l.1 >= end) {
                eligible.push((path.clone(), offset, len));
            }
        }
    }
    if eligible.is_empty() {
        return None;
    }
    let (path, offset, len) = eligible[(step.pick % eligible.len() as u64) as usize].clone();
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
    Some((path, fault))
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
            file: FileKind::Wal,
            pick: 0,
        };
        let (path, fault) = aim(&events, &step).unwrap();
        assert_eq!(path, "db/1.wal");
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

    #[test]
    fn no_target_without_a_later_durable_write() {
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
            file: FileKind::Wal,
            pick: 5,
        };
        assert!(aim(&events, &step).is_none());
    }
}
