//! Hints read off an event log: plain-words reasons a crash lost data.
//!
//! The checker says what is wrong; these say where to look. Each hint is a fact about the
//! events up to the crash (a file created whose directory was never synced, a file written
//! after its last sync), which is usually the missing sync.

use std::collections::BTreeMap;

use std::path::Path;

use faultfs::{Event, EventOp, EventPath, FileKind};

use serde::{Deserialize, Serialize};

/// The parent directory of a path ("" for the root).
fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Hints about what was not durable at the end of `events` (the events from a reboot up to the
/// moment the store last claimed durability): anything listed there was promised and not safe.
pub fn durability_hints(events: &[Event], kinds: fn(&Path) -> FileKind) -> Vec<String> {
    hints_of(events, kinds)
        .iter()
        .map(Hint::to_string)
        .collect()
}

/// What a hint says is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HintKind {
    /// A name was created or renamed into a directory that was not synced afterwards.
    NameNotSynced,
    /// A file was written and not synced afterwards.
    DataNotSynced,
}

/// One hint: what is missing, for which file, since which event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hint {
    pub kind: HintKind,
    pub path: String,
    pub role: FileKind,
    /// The event that left it pending.
    pub at: u64,
}

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = format!("{} ({})", self.path, self.role.name());
        match self.kind {
            HintKind::NameNotSynced => {
                let dir = parent(&self.path);
                let dir = if dir.is_empty() { "." } else { dir };
                write!(
                    f,
                    "{name} was created (or renamed into place) at event #{}, but its directory \
                     {dir:?} was not synced (sync_dir) before the store last reported durability: \
                     the name, and every byte in the file, could still vanish",
                    self.at
                )
            }
            HintKind::DataNotSynced => write!(
                f,
                "{name} was written at event #{} and not synced before the store last reported \
                 durability",
                self.at
            ),
        }
    }
}

/// The typed hints behind [`durability_hints`].
pub fn hints_of(events: &[Event], kinds: fn(&Path) -> FileKind) -> Vec<Hint> {
    // Names created or renamed into a directory, waiting for a sync_dir of that directory.
    // Keyed by the log's shared paths: a key is a count bump, not a copy.
    let mut unsynced_names: BTreeMap<EventPath, u64> = BTreeMap::new();
    // Files written since their last successful sync: path -> first unsynced write event.
    let mut unsynced_data: BTreeMap<EventPath, u64> = BTreeMap::new();
    for e in events {
        if e.result != "ok" {
            continue;
        }
        match &e.op {
            EventOp::Create { path } => {
                unsynced_names.insert(path.clone(), e.index);
            }
            EventOp::Rename { to, .. } => {
                unsynced_names.insert(to.clone(), e.index);
            }
            EventOp::SyncDir { path } => {
                unsynced_names.retain(|name, _| parent(name) != path.trim_end_matches('/'));
            }
            EventOp::Write { path, .. } | EventOp::SetLen { path, .. } => {
                unsynced_data.entry(path.clone()).or_insert(e.index);
            }
            EventOp::Sync { path } if e.fault.is_none() => {
                unsynced_data.remove(path);
            }
            EventOp::Remove { path } => {
                unsynced_data.remove(path);
                unsynced_names.remove(path);
            }
            _ => {}
        }
    }
    let hint = |kind, path: &EventPath, at: &u64| Hint {
        kind,
        path: path.to_string(),
        role: kinds(Path::new(path)),
        at: *at,
    };
    let mut hints: Vec<Hint> = unsynced_names
        .iter()
        .map(|(p, at)| hint(HintKind::NameNotSynced, p, at))
        .collect();
    hints.extend(
        unsynced_data
            .iter()
            .map(|(p, at)| hint(HintKind::DataNotSynced, p, at)),
    );
    hints
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

    #[test]
    fn a_created_file_without_a_directory_sync_is_named() {
        let events = vec![
            ev(
                0,
                EventOp::Create {
                    path: "db/log".into(),
                },
            ),
            ev(
                1,
                EventOp::Write {
                    path: "db/log".into(),
                    offset: 0,
                    len: 5,
                },
            ),
            ev(
                2,
                EventOp::Sync {
                    path: "db/log".into(),
                },
            ),
        ];
        let hints = durability_hints(&events, |_| FileKind::Log);
        assert_eq!(hints.len(), 1, "{hints:?}");
        assert!(hints[0].contains("db/log") && hints[0].contains("sync_dir"));
    }

    #[test]
    fn a_synced_file_in_a_synced_directory_gives_no_hint() {
        let events = vec![
            ev(
                0,
                EventOp::Create {
                    path: "db/log".into(),
                },
            ),
            ev(
                1,
                EventOp::Write {
                    path: "db/log".into(),
                    offset: 0,
                    len: 5,
                },
            ),
            ev(
                2,
                EventOp::Sync {
                    path: "db/log".into(),
                },
            ),
            ev(3, EventOp::SyncDir { path: "db".into() }),
        ];
        assert!(durability_hints(&events, |_| FileKind::Log).is_empty());
    }
}
