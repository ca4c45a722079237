//! Hints read off an event log: plain-words reasons a crash lost data.
//!
//! The checker says what is wrong; these say where to look. Each hint is a fact about the
//! events up to the crash (a file created whose directory was never synced, a file written
//! after its last sync), which is usually the missing sync.

use std::collections::BTreeMap;

use faultfs::{Event, EventOp};

/// The parent directory of a path ("" for the root).
fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Hints about what was not durable at the end of `events` (the events from a reboot up to the
/// moment the store last claimed durability): anything listed there was promised and not safe.
pub fn durability_hints(events: &[Event]) -> Vec<String> {
    // Names created or renamed into a directory, waiting for a sync_dir of that directory.
    let mut unsynced_names: BTreeMap<String, u64> = BTreeMap::new();
    // Files written since their last successful sync: path -> first unsynced write event.
    let mut unsynced_data: BTreeMap<String, u64> = BTreeMap::new();
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
    let mut hints: Vec<String> = unsynced_names
        .iter()
        .map(|(name, at)| {
            let dir = parent(name);
            let dir = if dir.is_empty() { "." } else { dir };
            format!(
                "{name} was created (or renamed into place) at event #{at}, but its directory \
                 {dir:?} was not synced (sync_dir) before the store last reported durability: \
                 the name, and every byte in the file, could still vanish"
            )
        })
        .collect();
    hints.extend(unsynced_data.iter().map(|(path, at)| {
        format!(
            "{path} was written at event #{at} and not synced before the store last reported \
             durability"
        )
    }));
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
        let hints = durability_hints(&events);
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
        assert!(durability_hints(&events).is_empty());
    }
}
