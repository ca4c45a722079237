//! The lanes of the picture: one per directory and one per file, read off the event log.
//!
//! A directory's lane carries what makes names durable (its `sync_dir`s) and a tick for every
//! name created, renamed or removed in it; a file's lane carries its writes, syncs, renames and
//! removal. Lanes are grouped by directory, the directory first, then its files by role.

use std::collections::{BTreeMap, BTreeSet};

use faultfs::{Event, EventOp, FileKind};

/// One horizontal lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lane {
    pub path: String,
    pub is_dir: bool,
    /// The store's role for the file (`Other` for directories).
    pub role: FileKind,
}

impl Lane {
    /// The role as the page names it (`dir` for a directory).
    pub fn role_name(&self) -> &'static str {
        if self.is_dir { "dir" } else { self.role.name() }
    }
}

/// The directory that holds a name (`"."` for a name at the root).
pub fn parent(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some((dir, _)) if !dir.is_empty() => dir,
        _ => ".",
    }
}

/// Tells whether an event gets a place on the time axis: everything that changes the disk or
/// what survives a crash (and any operation a fault hit or that failed), but not reads, opens,
/// listings and lookups, which only make a long run wider.
pub fn is_shown(e: &Event) -> bool {
    let changes_disk = !matches!(
        e.op,
        EventOp::Open { .. }
            | EventOp::Read { .. }
            | EventOp::List { .. }
            | EventOp::Exists { .. }
            | EventOp::Lock { .. }
    );
    changes_disk || e.fault.is_some() || e.result != "ok"
}

/// The file lanes an event is drawn on.
pub fn file_paths(op: &EventOp) -> Vec<&str> {
    match op {
        EventOp::Create { path }
        | EventOp::Open { path }
        | EventOp::Read { path, .. }
        | EventOp::Write { path, .. }
        | EventOp::SetLen { path, .. }
        | EventOp::Sync { path }
        | EventOp::Remove { path }
        | EventOp::Exists { path }
        | EventOp::Lock { path }
        | EventOp::Damage { path, .. } => vec![path],
        EventOp::Rename { from, to } => vec![from, to],
        EventOp::List { .. }
        | EventOp::CreateDir { .. }
        | EventOp::SyncDir { .. }
        | EventOp::PowerOff
        | EventOp::Reboot { .. } => Vec::new(),
    }
}

/// The directory lane an event is drawn on, if any: the directory itself for `create_dir_all`
/// and `sync_dir`, the parent for an operation that changes a name in it (a rename across two
/// directories changes both; the page shows it on the target's).
pub fn dir_path(op: &EventOp) -> Option<&str> {
    match op {
        EventOp::CreateDir { path } | EventOp::SyncDir { path } => Some(path.trim_end_matches('/')),
        EventOp::Create { path } | EventOp::Remove { path } => Some(parent(path)),
        EventOp::Rename { to, .. } => Some(parent(to)),
        _ => None,
    }
}

/// The lanes of the shown events among `events`, plus `extra` names (files a reboot decided
/// about), in drawing order: each directory, then its files by role and first appearance.
pub fn lanes_of<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    extra: impl IntoIterator<Item = &'a str>,
    roles: &BTreeMap<String, FileKind>,
) -> Vec<Lane> {
    let mut first_seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut dirs: BTreeSet<&str> = BTreeSet::new();
    for (i, e) in events.into_iter().enumerate().filter(|(_, e)| is_shown(e)) {
        for p in file_paths(&e.op) {
            first_seen.entry(p).or_insert(i);
        }
        if let Some(d) = dir_path(&e.op) {
            dirs.insert(d);
        }
    }
    for p in extra {
        first_seen.entry(p).or_insert(usize::MAX);
    }
    // A path made by create_dir_all or synced as a directory is a directory, whatever else
    // touched it.
    for d in &dirs {
        first_seen.remove(d);
    }
    let mut files: Vec<(&str, usize)> = first_seen.into_iter().collect();
    let role = |p: &str| roles.get(p).copied().unwrap_or(FileKind::Other);
    let rank = |k: FileKind| FileKind::ALL.iter().position(|r| *r == k).unwrap_or(0);
    files.sort_by_key(|(p, seen)| (parent(p), rank(role(p)), *seen, *p));
    let mut all_dirs: BTreeSet<&str> = dirs;
    all_dirs.extend(files.iter().map(|(p, _)| parent(p)));
    let mut lanes = Vec::new();
    for d in all_dirs {
        lanes.push(Lane {
            path: d.to_string(),
            is_dir: true,
            role: FileKind::Other,
        });
        lanes.extend(
            files
                .iter()
                .filter(|(p, _)| parent(p) == d)
                .map(|(p, _)| Lane {
                    path: p.to_string(),
                    is_dir: false,
                    role: role(p),
                }),
        );
    }
    lanes
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::html::ok_event as ev;

    #[test]
    fn each_directory_comes_before_its_files_and_files_go_by_role() {
        let events = vec![
            ev(EventOp::CreateDir { path: "db".into() }),
            ev(EventOp::Create {
                path: "db/CURRENT".into(),
            }),
            ev(EventOp::Create {
                path: "db/000001.wal".into(),
            }),
            ev(EventOp::Read {
                path: "db/000009.sst".into(),
                offset: 0,
                len: 1,
            }),
        ];
        let roles = BTreeMap::from([
            ("db/CURRENT".to_string(), FileKind::Pointer),
            ("db/000001.wal".to_string(), FileKind::Log),
        ]);
        let lanes = lanes_of(&events, [], &roles);
        let paths: Vec<&str> = lanes.iter().map(|l| l.path.as_str()).collect();
        // The read alone gives the SST no lane: it changed nothing.
        assert_eq!(paths, ["db", "db/000001.wal", "db/CURRENT"]);
        assert!(lanes[0].is_dir);
        assert_eq!(lanes[1].role_name(), "log");
    }
}
