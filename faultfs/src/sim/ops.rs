//! The file-system operations on the simulated state: each checks its input like the kernel
//! would, changes the live state, and records what must still become durable.

use std::borrow::Cow;
use std::collections::btree_map;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::RngExt;

use super::crash::{apply_change, writable, write_into};
use super::faults::{Trigger, capacity, eio, enospc, fire, fsync_class, io_class};
use super::state::{DurableNames, Entry, Inode, Name, NsOp, Pending, Rel, State};
use super::{Fault, FaultClass, FsyncMode, IoOp};

/// The largest simulated file. Files live in memory and are not sparse, so a stray huge offset
/// must be refused (EFBIG) rather than allocated.
pub(crate) const FILE_BYTES_MAX: u64 = 1 << 30;

fn too_large(path: &Path) -> io::Error {
    errno_at(io::Error::from_raw_os_error(libc::EFBIG), path)
}

/// An error of `kind` whose message starts with the path as the caller gave it.
pub(crate) fn path_error(kind: ErrorKind, path: &Path, msg: &str) -> io::Error {
    io::Error::new(kind, format!("{}: {msg}", path.display()))
}

/// Adds the path to an errno error, keeping its kind; the errno stays reachable through the
/// source chain (see [`crate::os_error_code`]).
fn errno_at(err: io::Error, path: &Path) -> io::Error {
    crate::std_fs::with_path(err, path)
}

/// Where a name is or would be bound: its directory's index in `dirs` (when the directory is
/// there, as every existing one is), the directory's shared path, and the name.
struct Slot<'p> {
    at: Option<usize>,
    dir: Arc<Path>,
    name: Cow<'p, str>,
}

impl State {
    /// `rel`'s parent directory's index in `dirs` (if there), its name, and what the name binds
    /// now; `None` for the root. What [`State::lookup`] finds, keeping the way there so the
    /// caller can change the entry without a second search.
    fn find<'p>(&self, rel: &'p Rel<'_>) -> Option<(Option<usize>, Cow<'p, str>, Option<Entry>)> {
        let (parent, name) = rel.parts()?;
        let at = self.dirs.index_of(parent);
        let entry = at.and_then(|i| self.dirs.at(i).1.live.get(&*name).copied());
        Some((at, name, entry))
    }

    /// The directory that will hold `rel`, or the error the kernel would give.
    fn parent_of<'p>(&self, rel: &'p Rel<'_>, shown: &Path) -> io::Result<Slot<'p>> {
        let Some((parent, name)) = rel.parts() else {
            return Err(path_error(
                ErrorKind::AlreadyExists,
                shown,
                "is the root directory",
            ));
        };
        // Every directory that exists is in `dirs` (directories are never removed or renamed),
        // so finding the parent there answers most calls without a second lookup.
        if let Some(i) = self.dirs.index_of(parent) {
            let dir = Arc::clone(self.dirs.at(i).0);
            return Ok(Slot {
                at: Some(i),
                dir,
                name,
            });
        }
        match self.lookup(parent) {
            Some(Entry::Dir) => Ok(Slot {
                at: None,
                dir: Arc::from(parent),
                name,
            }),
            Some(Entry::File(_)) => Err(path_error(
                ErrorKind::NotADirectory,
                shown,
                "a parent is not a directory",
            )),
            None => Err(path_error(
                ErrorKind::NotFound,
                shown,
                "parent directory not found",
            )),
        }
    }

    /// What `slot`'s name binds now.
    fn entry_at(&self, slot: &Slot<'_>) -> Option<Entry> {
        let i = slot.at?;
        self.dirs.at(i).1.live.get(&*slot.name).copied()
    }

    fn bind_live(&mut self, at: Option<usize>, name: &Name, entry: Entry) {
        if let Some(i) = at {
            self.dirs.at_mut(i).live.insert(Name::clone(name), entry);
        }
    }

    /// Queues a namespace operation, numbered among the metadata operations.
    fn push_ns(&mut self, op: NsOp) {
        self.ns_pending.push(op);
        self.ns_seq.push(self.meta_seq);
        self.meta_seq += 1;
    }

    pub(crate) fn create(&mut self, rel: &Rel<'_>, shown: &Path) -> io::Result<u64> {
        let slot = self.parent_of(rel, shown)?;
        let name = Name::from(slot.name);
        let ino = self.inodes.next();
        if let Some(i) = slot.at {
            // One search of the directory both refuses a name taken and binds a free one.
            match self.dirs.at_mut(i).live.entry(Name::clone(&name)) {
                btree_map::Entry::Occupied(_) => {
                    return Err(path_error(
                        ErrorKind::AlreadyExists,
                        shown,
                        "already exists",
                    ));
                }
                btree_map::Entry::Vacant(free) => {
                    free.insert(Entry::File(ino));
                }
            }
        }
        self.inodes.push(Inode::new(rel, &self.empty));
        self.push_ns(NsOp::Bind {
            dir: slot.dir,
            name,
            entry: Entry::File(ino),
        });
        Ok(ino)
    }

    pub(crate) fn open(&self, rel: &Rel<'_>, shown: &Path) -> io::Result<u64> {
        match self.lookup_rel(rel) {
            Some(Entry::File(ino)) => Ok(ino),
            Some(Entry::Dir) => Err(path_error(ErrorKind::IsADirectory, shown, "is a directory")),
            None => Err(path_error(ErrorKind::NotFound, shown, "no such file")),
        }
    }

    pub(crate) fn rename(
        &mut self,
        from: &Rel<'_>,
        to: &Rel<'_>,
        shown: (&Path, &Path),
    ) -> io::Result<()> {
        let unsupported = || {
            path_error(
                ErrorKind::Unsupported,
                shown.0,
                "renaming a directory is not simulated",
            )
        };
        let not_found = || path_error(ErrorKind::NotFound, shown.0, "no such file");
        let Some((from_at, from_name, found)) = self.find(from) else {
            return Err(unsupported());
        };
        let ino = match found {
            Some(Entry::File(ino)) => ino,
            Some(Entry::Dir) => return Err(unsupported()),
            None => return Err(not_found()),
        };
        let to_slot = self.parent_of(to, shown.1)?;
        match self.entry_at(&to_slot) {
            Some(Entry::Dir) => {
                return Err(path_error(
                    ErrorKind::IsADirectory,
                    shown.1,
                    "is a directory",
                ));
            }
            Some(Entry::File(existing)) if existing == ino => return Ok(()),
            _ => {}
        }
        // The source was found, so its directory is in `dirs`.
        let Some(from_at) = from_at else {
            return Err(not_found());
        };
        let from_dir = Arc::clone(self.dirs.at(from_at).0);
        let from_name = Name::from(from_name);
        self.dirs.at_mut(from_at).live.remove(&from_name);
        let to_name = Name::from(to_slot.name);
        self.bind_live(to_slot.at, &to_name, Entry::File(ino));
        if let Some(inode) = self.inodes.get_mut(ino) {
            // Handles opened by the old name now write, sync and read under the new one.
            inode.name = Arc::from(to.path());
            inode.label = to.label();
        }
        self.push_ns(NsOp::Rename {
            from_dir,
            from_name,
            to_dir: to_slot.dir,
            to_name,
            ino,
        });
        Ok(())
    }

    pub(crate) fn remove(&mut self, rel: &Rel<'_>, shown: &Path) -> io::Result<()> {
        let is_dir = || path_error(ErrorKind::IsADirectory, shown, "is a directory");
        let not_found = || path_error(ErrorKind::NotFound, shown, "no such file");
        let Some((parent, name)) = rel.parts() else {
            return Err(is_dir());
        };
        // Every directory that exists is in `dirs`: a parent not there holds nothing.
        let Some(at) = self.dirs.index_of(parent) else {
            return Err(not_found());
        };
        let name = Name::from(name);
        // One search of the directory both finds the name and unbinds it.
        let entry = match self.dirs.at_mut(at).live.entry(Name::clone(&name)) {
            btree_map::Entry::Occupied(found) if *found.get() == Entry::Dir => {
                return Err(is_dir());
            }
            btree_map::Entry::Occupied(found) => found.remove(),
            btree_map::Entry::Vacant(_) => return Err(not_found()),
        };
        let dir = Arc::clone(self.dirs.at(at).0);
        self.push_ns(NsOp::Unbind { dir, name, entry });
        Ok(())
    }

    pub(crate) fn list(&self, rel: &Rel<'_>, shown: &Path) -> io::Result<Vec<String>> {
        match self.lookup_rel(rel) {
            Some(Entry::Dir) => Ok(self
                .dirs
                .get(rel.path())
                .map(|d| d.live.keys().map(|k| k.to_string()).collect())
                .unwrap_or_default()),
            Some(Entry::File(_)) => Err(path_error(
                ErrorKind::NotADirectory,
                shown,
                "not a directory",
            )),
            None => Err(path_error(ErrorKind::NotFound, shown, "no such directory")),
        }
    }

    pub(crate) fn create_dir_all(&mut self, rel: &Path, shown: &Path) -> io::Result<()> {
        let mut prefix = PathBuf::new();
        for component in rel.components() {
            prefix.push(component);
            match self.lookup(&prefix) {
                Some(Entry::Dir) => continue,
                Some(Entry::File(_)) => {
                    return Err(path_error(
                        ErrorKind::AlreadyExists,
                        shown,
                        "a file is in the way",
                    ));
                }
                None => {}
            }
            let prefix_rel = Rel::of(&prefix);
            let slot = self.parent_of(&prefix_rel, shown)?;
            let name = Name::from(slot.name);
            self.bind_live(slot.at, &name, Entry::Dir);
            self.dirs.insert(&prefix, Default::default());
            self.push_ns(NsOp::Bind {
                dir: slot.dir,
                name,
                entry: Entry::Dir,
            });
        }
        Ok(())
    }

    /// Makes durable every pending namespace operation that touches `dir`, and every earlier one
    /// that shares a directory with those (a rename across directories is one journal entry, so
    /// committing it commits what came before it in the other directory too).
    pub(crate) fn sync_dir(&mut self, rel: &Rel<'_>, shown: &Path) -> io::Result<()> {
        match self.lookup_rel(rel) {
            Some(Entry::Dir) => {}
            Some(Entry::File(_)) => {
                return Err(path_error(
                    ErrorKind::NotADirectory,
                    shown,
                    "not a directory",
                ));
            }
            None => return Err(path_error(ErrorKind::NotFound, shown, "no such directory")),
        }
        if self.ns_pending.is_empty() {
            return Ok(());
        }
        // Confined paths: equal paths have equal bytes, which compare far cheaper than
        // components.
        let same = |a: &Path, b: &Path| a.as_os_str() == b.as_os_str();
        if self
            .ns_pending
            .iter()
            .all(|op| op.dirs().all(|d| same(d, rel.path())))
        {
            // Every pending operation is in this directory (a store in one directory): all of
            // them become durable, as the search below would find, without its bookkeeping.
            for op in &self.ns_pending {
                op.apply(&mut DurableNames(&mut self.dirs));
            }
            self.ns_pending.clear();
            self.ns_seq.clear();
            self.durable_changed();
            return Ok(());
        }
        let mut wanted: Vec<&Path> = vec![rel.path()];
        let mut commit = vec![false; self.ns_pending.len()];
        for (i, op) in self.ns_pending.iter().enumerate().rev() {
            if op.dirs().any(|d| wanted.iter().any(|w| same(w, d))) {
                commit[i] = true;
                for d in op.dirs() {
                    if !wanted.iter().any(|w| same(w, d)) {
                        wanted.push(d);
                    }
                }
            }
        }
        if !commit.contains(&true) {
            return Ok(());
        }
        for (op, commit) in self.ns_pending.iter().zip(&commit) {
            if *commit {
                op.apply(&mut DurableNames(&mut self.dirs));
            }
        }
        // Keep the rest in place, so the queues keep their room for the operations to come.
        let mut keep = commit.iter().map(|c| !c);
        self.ns_pending.retain(|_| keep.next() == Some(true));
        let mut keep = commit.iter().map(|c| !c);
        self.ns_seq.retain(|_| keep.next() == Some(true));
        self.durable_changed();
        Ok(())
    }

    /// Takes the lock on `rel` for a new guard id, creating the file like `StdFs` does.
    pub(crate) fn lock(&mut self, rel: &Rel<'_>, shown: &Path) -> io::Result<u64> {
        match self.lookup_rel(rel) {
            Some(Entry::Dir) => {
                return Err(path_error(ErrorKind::IsADirectory, shown, "is a directory"));
            }
            Some(Entry::File(_)) => {}
            None => {
                self.create(rel, shown)?;
            }
        }
        if self.locks.contains_key(rel.path()) {
            return Err(path_error(
                ErrorKind::WouldBlock,
                shown,
                "already locked by another holder",
            ));
        }
        let id = self.next_lock_id;
        self.next_lock_id += 1;
        self.locks.insert(rel.path().to_path_buf(), id);
        Ok(id)
    }

    fn inode(&mut self, ino: u64, shown: &Path) -> io::Result<&mut Inode> {
        self.inodes
            .get_mut(ino)
            .ok_or_else(|| path_error(ErrorKind::NotFound, shown, "file no longer exists"))
    }

    pub(crate) fn read(
        &mut self,
        ino: u64,
        offset: u64,
        buf: &mut [u8],
        shown: &Path,
    ) -> io::Result<()> {
        if fire(&mut self.faults, shown, Trigger::Io(IoOp::Read), self.kinds).is_some() {
            self.fired = Some(io_class(IoOp::Read));
            return Err(errno_at(eio(), shown));
        }
        let live = &self.inode(ino, shown)?.live;
        if buf.is_empty() {
            // Like pread: asking for nothing succeeds wherever it is asked.
            return Ok(());
        }
        let end = offset.checked_add(buf.len() as u64);
        match end {
            Some(end) if end <= live.len() as u64 => {
                buf.copy_from_slice(&live[offset as usize..end as usize]);
                Ok(())
            }
            _ => Err(path_error(
                ErrorKind::UnexpectedEof,
                shown,
                &format!(
                    "read of {} bytes at offset {offset} passes the end of the file ({} bytes)",
                    buf.len(),
                    live.len()
                ),
            )),
        }
    }

    /// Live bytes of every named file, plus `ino` if it has no name (still open after a remove).
    fn live_bytes(&self, ino: u64) -> u64 {
        let mut named = std::collections::BTreeSet::new();
        for dir in self.dirs.values() {
            for entry in dir.live.values() {
                if let Entry::File(i) = entry {
                    named.insert(*i);
                }
            }
        }
        named.insert(ino);
        named
            .iter()
            .filter_map(|i| self.inodes.get(*i))
            .map(|inode| inode.live.len() as u64)
            .sum()
    }

    /// Fails with ENOSPC if growing `ino` to `new_len` would pass an armed capacity.
    fn check_space(&mut self, ino: u64, new_len: u64, shown: &Path) -> io::Result<()> {
        let Some(cap) = capacity(&self.faults) else {
            return Ok(());
        };
        let old_len = self.inodes.get(ino).map_or(0, |i| i.live.len() as u64);
        if new_len <= old_len {
            return Ok(());
        }
        if self.live_bytes(ino) - old_len + new_len > cap {
            self.fired = Some(FaultClass::NoSpace);
            return Err(errno_at(enospc(), shown));
        }
        Ok(())
    }

    pub(crate) fn write(
        &mut self,
        ino: u64,
        offset: u64,
        data: &[u8],
        shown: &Path,
    ) -> io::Result<()> {
        if fire(
            &mut self.faults,
            shown,
            Trigger::Io(IoOp::Write),
            self.kinds,
        )
        .is_some()
        {
            self.fired = Some(io_class(IoOp::Write));
            return Err(errno_at(eio(), shown));
        }
        let live_len = self.inode(ino, shown)?.live.len() as u64;
        if data.is_empty() {
            return Ok(());
        }
        let end = offset
            .checked_add(data.len() as u64)
            .filter(|e| *e <= FILE_BYTES_MAX);
        let Some(end) = end else {
            return Err(too_large(shown));
        };
        self.check_space(ino, end.max(live_len), shown)?;
        let landing = self.misdirect(offset, end.max(live_len), shown);
        let inode = self.inode(ino, shown)?;
        inode.keep_pending(offset, end);
        write_into(writable(&mut inode.live, end as usize), offset, data);
        inode.live_diverged |= landing != offset;
        // The bytes stay where the write put them in the live bytes; only a write that lands
        // elsewhere on the disk keeps its own copy.
        let data = (landing != offset).then(|| Box::from(data));
        inode.pending.push(Pending::Write {
            offset: landing,
            len: end - offset,
            data,
        });
        Ok(())
    }

    /// Where a write at `offset` lands on the disk: elsewhere in the file if a misdirected-write
    /// fault fires now. Reads keep showing the intended bytes (the page cache is right; the
    /// device is not), so only a crash or a reopen reveals the damage.
    fn misdirect(&mut self, offset: u64, len: u64, shown: &Path) -> u64 {
        if fire(&mut self.faults, shown, Trigger::Misdirect, self.kinds).is_none() {
            return offset;
        }
        const BLOCK: u64 = 512;
        let blocks = len / BLOCK + 1;
        let mut landing = self.rng.random_range(0..blocks) * BLOCK;
        if landing == offset {
            landing = offset + BLOCK;
        }
        self.fired = Some(FaultClass::MisdirectedWrite);
        self.note = Some(format!("landed at offset {landing}"));
        landing
    }

    pub(crate) fn set_len(&mut self, ino: u64, len: u64, shown: &Path) -> io::Result<()> {
        if len > FILE_BYTES_MAX {
            return Err(too_large(shown));
        }
        self.inode(ino, shown)?;
        self.check_space(ino, len, shown)?;
        let change = Pending::SetLen {
            len,
            seq: self.meta_seq,
        };
        self.meta_seq += 1;
        let inode = self.inode(ino, shown)?;
        inode.keep_pending(len, u64::MAX);
        Arc::make_mut(&mut inode.live).resize(usize::try_from(len).unwrap_or(0), 0);
        inode.pending.push(change);
        Ok(())
    }

    pub(crate) fn sync(&mut self, ino: u64, shown: &Path) -> io::Result<()> {
        self.inode(ino, shown)?;
        if fire(&mut self.faults, shown, Trigger::Io(IoOp::Sync), self.kinds).is_some() {
            // The device refused the flush: nothing became durable and the changes stay pending.
            self.fired = Some(io_class(IoOp::Sync));
            return Err(errno_at(eio(), shown));
        }
        let fsync_fault = fire(&mut self.faults, shown, Trigger::Fsync, self.kinds);
        let inode = self.inode(ino, shown)?;
        if inode.report_later {
            // The write-back of an earlier sync's pages failed behind its back; this sync reports
            // it, and the pages since then were marked clean without reaching the disk.
            inode.report_later = false;
            inode.pending.clear();
            inode.live_diverged = true;
            self.fired = Some(FaultClass::FsyncReportLater);
            return Err(errno_at(eio(), shown));
        }
        match fsync_fault {
            Some(Fault::FsyncFailure {
                mode: mode @ FsyncMode::MarkClean,
                ..
            }) => {
                // ext4 / XFS: the pages are marked clean, so they never reach the disk, but the
                // page cache still shows them to reads, and the next sync has nothing to report.
                inode.pending.clear();
                inode.live_diverged = true;
                self.fired = Some(fsync_class(mode));
                Err(errno_at(eio(), shown))
            }
            Some(Fault::FsyncFailure {
                mode: mode @ FsyncMode::Revert,
                ..
            }) => {
                // btrfs: the file's content goes back to what the disk holds.
                inode.live = Arc::clone(&inode.durable);
                inode.pending.clear();
                inode.live_diverged = false;
                self.fired = Some(fsync_class(mode));
                Err(errno_at(eio(), shown))
            }
            Some(Fault::FsyncFailure {
                mode: FsyncMode::ReportLater,
                ..
            }) => {
                commit(inode);
                inode.report_later = true;
                self.durable_changed();
                Ok(())
            }
            _ => {
                commit(inode);
                self.durable_changed();
                Ok(())
            }
        }
    }
}

/// A successful sync: every pending change reaches the durable bytes.
fn commit(inode: &mut Inode) {
    if inode.pending.is_empty() {
        return;
    }
    if !inode.live_diverged && inode.durable.is_empty() {
        // A file's first sync (a new SST, log or temp file, usually written once): the live
        // bytes are exactly the durable bytes with every pending change applied, so they become
        // the durable bytes as they are, shared until the next write, instead of being copied
        // once more change by change.
        inode.durable = Arc::clone(&inode.live);
        inode.pending.clear();
        return;
    }
    let durable = Arc::make_mut(&mut inode.durable);
    for change in inode.pending.drain(..) {
        apply_change(durable, &change, &inode.live);
    }
}
