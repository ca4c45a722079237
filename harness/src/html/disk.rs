//! What was pending where: a walk over the event log that follows each file's live and durable
//! length and its unsynced writes, and each directory's unsynced names.
//!
//! The picture needs it twice: as bands on the lanes (from a file's first write after a sync to
//! its next sync, the bytes could still vanish; likewise names until their directory's sync),
//! and at every reboot, to draw what survived on the file's bytes. The walk follows the
//! durability model of `faultfs` (a sync makes data durable, a `sync_dir` makes names durable)
//! and takes the reboot's own decisions for what came back.

use std::collections::BTreeMap;

use faultfs::{Event, EventOp, FaultClass};

use super::lanes::parent;
use super::survivors::{FileFate, Fill, NameOp, Piece, Survivors, survivors_of};

/// A stretch of a lane where something was not durable yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Band {
    pub path: String,
    /// Bytes of a file (`false`) or names in a directory (`true`).
    pub names: bool,
    /// The event that opened the stretch, and the one that closed it (a sync, a reboot, a
    /// removal, or the end of the log).
    pub first: usize,
    pub last: usize,
}

/// One file as a reboot found it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileAtCrash {
    /// What reads saw just before the power went.
    pub live_len: u64,
    /// What a sync had made durable.
    pub durable_len: u64,
    /// Byte ranges written since the last sync, oldest first.
    pub pending: Vec<(u64, u64)>,
}

/// Every reboot of the log with the files it found and what it decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reboot {
    /// The reboot's event index.
    pub event: usize,
    pub files: BTreeMap<String, FileAtCrash>,
    pub survivors: Survivors,
}

/// The bands and reboots of a whole log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Disk {
    pub bands: Vec<Band>,
    pub reboots: Vec<Reboot>,
}

#[derive(Default)]
struct Walk {
    files: BTreeMap<String, FileAtCrash>,
    /// Files removed since the last reboot, in case the reboot drops the removal.
    removed: BTreeMap<String, FileAtCrash>,
    /// Open bands: file path -> first event, directory path -> first event.
    data_open: BTreeMap<String, usize>,
    names_open: BTreeMap<String, usize>,
    out: Disk,
}

/// Walks the log.
pub fn walk(events: &[Event]) -> Disk {
    let mut w = Walk::default();
    for (i, e) in events.iter().enumerate() {
        w.event(i, e);
    }
    let end = events.len().saturating_sub(1);
    w.close_all(end);
    w.out
}

impl Walk {
    fn event(&mut self, i: usize, e: &Event) {
        if let Some(s) = survivors_of(&e.op) {
            return self.reboot(i, s);
        }
        if e.result != "ok" {
            return self.failed(i, e);
        }
        match &e.op {
            EventOp::Create { path } => {
                self.files.insert(path.to_string(), FileAtCrash::default());
                self.name_changed(i, parent(path));
            }
            EventOp::Write { path, offset, len } => {
                let f = self.files.entry(path.to_string()).or_default();
                f.live_len = f.live_len.max(offset + len);
                f.pending.push((*offset, offset + len));
                self.data_open.entry(path.to_string()).or_insert(i);
            }
            EventOp::SetLen { path, len } => {
                let f = self.files.entry(path.to_string()).or_default();
                f.live_len = *len;
                self.data_open.entry(path.to_string()).or_insert(i);
            }
            EventOp::Sync { path } => {
                let f = self.files.entry(path.to_string()).or_default();
                f.durable_len = f.live_len;
                f.pending.clear();
                self.close_data(path, i);
            }
            EventOp::Rename { from, to } => {
                let moved = self.files.remove(from.as_str()).unwrap_or_default();
                self.files.insert(to.to_string(), moved);
                // The bytes' band follows the file to its new name.
                if let Some(first) = self.data_open.remove(from.as_str()) {
                    self.push(from, false, first, i);
                    self.data_open.insert(to.to_string(), i);
                }
                self.name_changed(i, parent(from));
                self.name_changed(i, parent(to));
            }
            EventOp::Remove { path } => {
                if let Some(f) = self.files.remove(path.as_str()) {
                    self.removed.insert(path.to_string(), f);
                }
                self.close_data(path, i);
                self.name_changed(i, parent(path));
            }
            EventOp::CreateDir { path } => self.name_changed(i, parent(path)),
            EventOp::SyncDir { path } => {
                let dir = path.trim_end_matches('/').to_string();
                if let Some(first) = self.names_open.remove(&dir) {
                    self.push(&dir, true, first, i);
                }
            }
            _ => {}
        }
    }

    /// A failed sync may have thrown the pending pages away (the CuttleFS failure modes); any
    /// other failed operation changed nothing.
    fn failed(&mut self, i: usize, e: &Event) {
        let EventOp::Sync { path } = &e.op else {
            return;
        };
        if matches!(
            e.fault,
            Some(FaultClass::FsyncMarkClean | FaultClass::FsyncRevert)
        ) {
            if let Some(f) = self.files.get_mut(path.as_str()) {
                f.pending.clear();
            }
            self.close_data(path, i);
        }
    }

    fn name_changed(&mut self, i: usize, dir: &str) {
        self.names_open.entry(dir.to_string()).or_insert(i);
    }

    fn close_data(&mut self, path: &str, i: usize) {
        if let Some(first) = self.data_open.remove(path) {
            self.push(path, false, first, i);
        }
    }

    fn push(&mut self, path: &str, names: bool, first: usize, last: usize) {
        self.out.bands.push(Band {
            path: path.to_string(),
            names,
            first,
            last,
        });
    }

    fn close_all(&mut self, at: usize) {
        for (path, first) in std::mem::take(&mut self.data_open) {
            self.push(&path, false, first, at);
        }
        for (path, first) in std::mem::take(&mut self.names_open) {
            self.push(&path, true, first, at);
        }
    }

    /// Records what the reboot found, then makes the walk's files what the reboot left.
    fn reboot(&mut self, i: usize, survivors: Survivors) {
        self.close_all(i);
        let found = self.files.clone();
        for s in &survivors.files {
            let Some(f) = self.files.get_mut(&s.path) else {
                continue;
            };
            f.durable_len = match &s.fate {
                FileFate::KeptAll => f.live_len,
                FileFate::DroppedAll => f.durable_len,
                FileFate::Pieces(pieces) => length_after(f.durable_len, pieces),
            };
        }
        for f in self.files.values_mut() {
            f.live_len = f.durable_len;
            f.pending.clear();
        }
        for n in survivors.names.iter().rev().filter(|n| !n.kept) {
            self.undo(&n.op);
        }
        self.removed.clear();
        self.out.reboots.push(Reboot {
            event: i,
            files: found,
            survivors,
        });
    }

    /// A dropped namespace operation: the name is as it was before it.
    fn undo(&mut self, op: &NameOp) {
        match op {
            NameOp::Create(p) => {
                self.files.remove(p);
            }
            NameOp::Rename { from, to } => {
                if let Some(f) = self.files.remove(to) {
                    self.files.insert(from.clone(), f);
                }
            }
            NameOp::Remove(p) => {
                if let Some(f) = self.removed.remove(p) {
                    self.files.insert(p.clone(), f);
                }
            }
            NameOp::Mkdir(_) => {}
        }
    }
}

/// The length a file has after some of its pending pieces reached the disk.
fn length_after(durable_len: u64, pieces: &[Piece]) -> u64 {
    let mut len = durable_len;
    for p in pieces {
        match *p {
            Piece::Bytes { end, fate, .. } if fate != Fill::Dropped => len = len.max(end),
            Piece::SetLen { len: l, kept: true } => len = l,
            _ => {}
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultfs::CrashPolicy;

    use crate::html::ok_event as ev;

    fn write(path: &str, offset: u64, len: u64) -> Event {
        ev(EventOp::Write {
            path: path.into(),
            offset,
            len,
        })
    }

    #[test]
    fn an_unsynced_write_is_pending_at_the_reboot_and_its_band_ends_there() {
        let events = vec![
            ev(EventOp::Create { path: "d/f".into() }),
            write("d/f", 0, 10),
            ev(EventOp::Sync { path: "d/f".into() }),
            write("d/f", 10, 6),
            ev(EventOp::PowerOff),
            ev(EventOp::Reboot {
                policy: CrashPolicy::Strict,
                seed: 0,
                outcome: faultfs::RebootOutcome {
                    atomic_sectors: false,
                    ordered_metadata: false,
                    decisions: vec![
                        faultfs::RebootDecision::File {
                            path: "d/f".into(),
                            changes: 1,
                            pieces: Vec::new(),
                        },
                        faultfs::RebootDecision::Namespace {
                            op: faultfs::NamespaceOp::Create { path: "d/f".into() },
                            kept: false,
                        },
                    ],
                },
            }),
        ];
        let disk = walk(&events);
        let f = &disk.reboots[0].files["d/f"];
        assert_eq!((f.live_len, f.durable_len), (16, 10));
        assert_eq!(f.pending, vec![(10, 16)]);
        let data: Vec<(usize, usize)> = disk
            .bands
            .iter()
            .filter(|b| !b.names)
            .map(|b| (b.first, b.last))
            .collect();
        assert_eq!(data, vec![(1, 2), (3, 5)]);
        // The directory was never synced: its names stayed pending until the reboot.
        assert!(
            disk.bands
                .iter()
                .any(|b| b.names && b.path == "d" && b.last == 5)
        );
    }
}
