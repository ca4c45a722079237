//! The simulated disk's state: inodes with live, durable and pending bytes; directories with live
//! and durable namespaces; the pending namespace operations in the order they were made.

use std::borrow::Cow;
use std::collections::{BTreeMap, btree_map};
use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::events::TraceHasher;
use super::faults::Armed;
use super::image::DiskImage;
use super::{Event, FaultClass, MutationHook};
use crate::Phase;

/// A name in a directory. Shared: the live and durable namespaces and the pending operation that
/// binds it hold one copy between them.
///
/// Ordered like its text, but compared first by its first eight bytes, kept beside the text as
/// one integer: a directory's names (a store's numbered files) nearly always differ there, so
/// placing a name in a directory's map costs an integer comparison per name passed, not a call
/// to compare bytes.
#[derive(Clone, Debug)]
pub(crate) struct Name {
    /// The first eight bytes, big-endian, zero-padded: when two names' prefixes differ, they
    /// order the names as their texts do (a zero pad sorts a name before every longer one that
    /// starts with it, as text order does); equal prefixes leave the rest to compare.
    prefix: u64,
    text: Arc<str>,
}

impl Name {
    fn new(text: Arc<str>) -> Name {
        let bytes = text.as_bytes();
        let prefix = match bytes.first_chunk::<8>() {
            Some(head) => u64::from_be_bytes(*head),
            None => bytes
                .iter()
                .enumerate()
                .fold(0, |word, (i, b)| word | (u64::from(*b) << (56 - 8 * i))),
        };
        Name { prefix, text }
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.prefix == other.prefix && self.text == other.text
    }
}

impl Eq for Name {}

impl Ord for Name {
    fn cmp(&self, other: &Name) -> std::cmp::Ordering {
        self.prefix
            .cmp(&other.prefix)
            .then_with(|| self.text.cmp(&other.text))
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.text
    }
}

impl std::ops::Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

impl From<Cow<'_, str>> for Name {
    fn from(text: Cow<'_, str>) -> Name {
        Name::new(Arc::from(text))
    }
}

impl From<&str> for Name {
    fn from(text: &str) -> Name {
        Name::new(Arc::from(text))
    }
}

/// What a directory entry names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    File(u64),
    Dir,
}

/// A change to a file's content made since its last successful sync. It becomes durable at the
/// next successful `sync` of the file, or at a crash if the crash policy lets it survive.
#[derive(Clone, Debug)]
pub(crate) enum Pending {
    /// `len` bytes written at `offset`. Their copy is `data`, or, when `None`, the file's live
    /// bytes at `offset..offset + len`: a write is not copied a second time while nothing has
    /// changed those live bytes since (most writes are appends, synced before anything
    /// overwrites them). Whatever is about to change them copies them out first (see
    /// [`Inode::keep_pending`]).
    Write {
        offset: u64,
        len: u64,
        data: Option<Box<[u8]>>,
    },
    /// A new length; `seq` orders it among the metadata operations (see
    /// [`State::meta_seq`]).
    SetLen { len: u64, seq: u64 },
}

/// One file's content.
#[derive(Clone, Debug)]
pub(crate) struct Inode {
    /// The file's current name (confined), or the last one it had once removed or replaced.
    /// Operations through open handles are logged and matched against faults by it, so a write
    /// through a handle opened as `data.tmp` shows `data` once the file was renamed. Shared, so
    /// handing it to an operation copies no bytes.
    pub name: Arc<Path>,
    /// `name` as the event log shows it, kept beside it so logging an operation through a
    /// handle shares this text (a count bump) instead of checking the path's UTF-8 again or
    /// copying it. A file created by a UTF-8 path shares it with the create's event.
    pub label: Arc<str>,
    /// What reads see. Shared with the durable bytes right after a reboot, and copied on the
    /// first write, so a reboot copies no file.
    pub live: Arc<Vec<u8>>,
    /// What the disk holds. Shared with disk images, so building an image copies no bytes.
    pub durable: Arc<Vec<u8>>,
    /// Changes since the last successful sync, oldest first.
    pub pending: Vec<Pending>,
    /// A `ReportLater` fsync failure waits to be reported by the next sync.
    pub report_later: bool,
    /// The live bytes differ from the durable bytes with every pending change applied (a fault
    /// dropped pending pages or sent a write elsewhere). While false, the live bytes are exactly
    /// what `KeepAll` leaves, so a crash can share them instead of copying.
    pub live_diverged: bool,
}

impl Inode {
    /// An empty file created by `rel`, with nothing pending. Its durable bytes are `empty`
    /// (shared by every new file), and its live bytes its own from the start, so its first write
    /// grows them in place instead of copying them away from the durable bytes first.
    pub fn new(rel: &Rel<'_>, empty: &Arc<Vec<u8>>) -> Inode {
        Inode {
            label: rel.label(),
            name: Arc::from(rel.path()),
            live: Arc::default(),
            durable: Arc::clone(empty),
            pending: Vec::new(),
            report_later: false,
            live_diverged: false,
        }
    }

    /// A file called `name` holding `bytes`, all durable, nothing pending (live and durable
    /// share the bytes until the first write).
    pub fn with_bytes(name: Arc<Path>, bytes: Arc<Vec<u8>>) -> Inode {
        let label = Arc::from(name.to_string_lossy());
        Inode::labelled(name, label, bytes)
    }

    /// A file called `name`, shown as `label`, holding `bytes` (see [`Inode::with_bytes`]).
    fn labelled(name: Arc<Path>, label: Arc<str>, bytes: Arc<Vec<u8>>) -> Inode {
        Inode {
            label,
            name,
            live: Arc::clone(&bytes),
            durable: bytes,
            pending: Vec::new(),
            report_later: false,
            live_diverged: false,
        }
    }
}

impl Pending {
    /// The bytes of a write (`live`: the file's live bytes, where a write with no copy of its
    /// own finds them); nothing for a `set_len`.
    pub fn bytes<'a>(&'a self, live: &'a [u8]) -> &'a [u8] {
        match self {
            Pending::Write {
                data: Some(data), ..
            } => data,
            Pending::Write { offset, len, .. } => {
                let start = usize::try_from(*offset).unwrap_or(usize::MAX);
                let end = start.saturating_add(usize::try_from(*len).unwrap_or(usize::MAX));
                live.get(start..end).unwrap_or(&[])
            }
            Pending::SetLen { .. } => &[],
        }
    }
}

impl Inode {
    /// Copies out of the live bytes every pending write that still finds its bytes there and
    /// that a change of the live bytes from `from` on (a write there, or a cut) would touch.
    /// Pending writes without a copy lie inside the live bytes, so a change past their end
    /// (an append) copies nothing.
    pub fn keep_pending(&mut self, from: u64, to: u64) {
        if from >= self.live.len() as u64 {
            return;
        }
        let live = &self.live;
        for change in &mut self.pending {
            if let Pending::Write { offset, len, data } = change
                && data.is_none()
                && *offset < to
                && from < *offset + *len
            {
                let start = usize::try_from(*offset).unwrap_or(usize::MAX);
                let end = start.saturating_add(usize::try_from(*len).unwrap_or(usize::MAX));
                *data = Some(Box::from(live.get(start..end).unwrap_or(&[])));
            }
        }
    }
}

/// Every inode, by number. Numbers are handed out in increasing order and inodes are dropped only
/// all at once (a reboot loads a new disk), so the live ones are a run of consecutive numbers
/// held in a vector: finding one (which every operation through a handle does) is an index, not
/// a tree search.
#[derive(Clone, Debug)]
pub(crate) struct Inodes {
    /// The number of `list[0]`.
    first: u64,
    list: Vec<Inode>,
}

impl Inodes {
    /// No inodes; the first one added gets number `first`.
    fn starting_at(first: u64) -> Inodes {
        Inodes {
            first,
            list: Vec::new(),
        }
    }

    /// The number the next inode added gets.
    pub fn next(&self) -> u64 {
        self.first + self.list.len() as u64
    }

    /// Adds `inode` under the next number, and returns it.
    pub fn push(&mut self, inode: Inode) -> u64 {
        let ino = self.next();
        self.list.push(inode);
        ino
    }

    /// Drops every inode; numbers go on from where they were.
    pub fn clear(&mut self) {
        // Keep the vector's room: a reboot loads about as many files as the disk held before.
        self.first = self.next();
        self.list.clear();
    }

    fn index(&self, ino: u64) -> Option<usize> {
        usize::try_from(ino.checked_sub(self.first)?).ok()
    }

    pub fn get(&self, ino: u64) -> Option<&Inode> {
        self.list.get(self.index(ino)?)
    }

    pub fn get_mut(&mut self, ino: u64) -> Option<&mut Inode> {
        let i = self.index(ino)?;
        self.list.get_mut(i)
    }

    /// Every inode with its number, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Inode)> {
        (self.first..).zip(&self.list)
    }

    pub fn values(&self) -> impl Iterator<Item = &Inode> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }
}

/// One directory's names.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dir {
    /// What `list` and `open` see.
    pub live: BTreeMap<Name, Entry>,
    /// What the disk holds.
    pub durable: BTreeMap<Name, Entry>,
}

/// Every directory that exists now, by confined path (the root is the empty path), in `Path`
/// order. A simulated disk holds few directories (a store's one or two) and nearly every
/// operation looks one up, so they sit in a vector searched by comparing bytes (confined paths
/// are equal exactly when their bytes are) rather than in a map whose every comparison walks
/// path components. Past [`Dirs::SCAN_MAX`] directories a lookup bisects in `Path` order.
///
/// Each path is shared: a pending namespace operation names its directory by a clone of it.
#[derive(Clone, Debug)]
pub(crate) struct Dirs(Vec<(Arc<Path>, Dir)>);

impl Default for Dirs {
    /// Only the root directory.
    fn default() -> Self {
        Dirs(vec![(Arc::from(Path::new("")), Dir::default())])
    }
}

impl Dirs {
    /// Up to this many directories a lookup scans; beyond, it bisects.
    const SCAN_MAX: usize = 16;

    /// Where `path` is, or where it would go to keep `Path` order.
    fn search(&self, path: &Path) -> Result<usize, usize> {
        if self.0.len() <= Self::SCAN_MAX {
            let bytes = path.as_os_str().as_encoded_bytes();
            // A directory's path is short, and often the very text kept here (a pending
            // operation names its directory by a clone of it): compare in place, not by a call.
            let same = |p: &[u8]| {
                p.len() == bytes.len()
                    && (std::ptr::eq(p.as_ptr(), bytes.as_ptr())
                        || p.iter().zip(bytes).all(|(a, b)| a == b))
            };
            let found = self
                .0
                .iter()
                .position(|(p, _)| same(p.as_os_str().as_encoded_bytes()));
            if let Some(i) = found {
                return Ok(i);
            }
        }
        self.0.binary_search_by(|(p, _)| (**p).cmp(path))
    }

    /// Where the directory at `path` is, for [`Dirs::at`] and [`Dirs::at_mut`].
    pub fn index_of(&self, path: &Path) -> Option<usize> {
        self.search(path).ok()
    }

    /// The directory at an index [`Dirs::index_of`] gave, with its shared path.
    pub fn at(&self, i: usize) -> (&Arc<Path>, &Dir) {
        let (path, dir) = &self.0[i];
        (path, dir)
    }

    pub fn at_mut(&mut self, i: usize) -> &mut Dir {
        &mut self.0[i].1
    }

    pub fn get(&self, path: &Path) -> Option<&Dir> {
        let i = self.search(path).ok()?;
        Some(&self.0[i].1)
    }

    pub fn get_mut(&mut self, path: &Path) -> Option<&mut Dir> {
        let i = self.search(path).ok()?;
        Some(&mut self.0[i].1)
    }

    /// Adds (or replaces) the directory at `path`.
    pub fn insert(&mut self, path: &Path, dir: Dir) {
        match self.search(path) {
            Ok(i) => self.0[i].1 = dir,
            Err(i) => self.0.insert(i, (Arc::from(path), dir)),
        }
    }

    /// The directory at `path`, added empty if missing.
    pub fn get_or_default(&mut self, path: &Path) -> &mut Dir {
        let i = match self.search(path) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (Arc::from(path), Dir::default()));
                i
            }
        };
        &mut self.0[i].1
    }

    pub fn values(&self) -> impl Iterator<Item = &Dir> {
        self.0.iter().map(|(_, d)| d)
    }

    /// Nothing but an empty root.
    pub fn reset(&mut self) {
        *self = Dirs::default();
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// A namespace change made since the last `sync_dir` of the directories it touches. It becomes
/// durable at that `sync_dir`, or at a crash if the crash policy lets it survive. Each variant is
/// applied idempotently, so any subset of operations applied in order gives a consistent tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NsOp {
    /// `create` or a directory made by `create_dir_all`: binds `name` to `entry`.
    Bind {
        dir: Arc<Path>,
        name: Name,
        entry: Entry,
    },
    /// `remove`: unbinds `name` if it still names `entry`.
    Unbind {
        dir: Arc<Path>,
        name: Name,
        entry: Entry,
    },
    /// `rename`: one atomic step that unbinds the source and binds the target to the same inode.
    Rename {
        from_dir: Arc<Path>,
        from_name: Name,
        to_dir: Arc<Path>,
        to_name: Name,
        ino: u64,
    },
}

/// Name maps per directory, on which namespace operations can be replayed.
pub(crate) trait Namespace {
    fn names(&mut self, dir: &Path) -> Option<&mut BTreeMap<Name, Entry>>;
}

/// Replaying on the directories themselves changes their durable namespace (a `sync_dir`).
pub(crate) struct DurableNames<'a>(pub &'a mut Dirs);

impl Namespace for DurableNames<'_> {
    fn names(&mut self, dir: &Path) -> Option<&mut BTreeMap<Name, Entry>> {
        self.0.get_mut(dir).map(|d| &mut d.durable)
    }
}

impl NsOp {
    /// The directories whose namespace this operation changes (one, or two for a rename across
    /// directories). Paths here are confined, so comparing their bytes is comparing the paths;
    /// nothing is allocated, since a `sync_dir` asks this of every pending operation.
    pub fn dirs(&self) -> impl Iterator<Item = &Path> + Clone {
        let (first, second) = match self {
            NsOp::Bind { dir, .. } | NsOp::Unbind { dir, .. } => (&**dir, None),
            NsOp::Rename {
                from_dir, to_dir, ..
            } => {
                let other = (from_dir.as_os_str() != to_dir.as_os_str()).then_some(&**to_dir);
                (&**from_dir, other)
            }
        };
        std::iter::once(first).chain(second)
    }

    /// What this operation binds or unbinds (for a rename, the file it moves).
    pub fn entry(&self) -> Entry {
        match self {
            NsOp::Bind { entry, .. } | NsOp::Unbind { entry, .. } => *entry,
            NsOp::Rename { ino, .. } => Entry::File(*ino),
        }
    }

    /// Replays this operation on `ns`.
    pub fn apply(&self, ns: &mut impl Namespace) {
        match self {
            NsOp::Bind { dir, name, entry } => {
                if let Some(names) = ns.names(dir) {
                    names.insert(name.clone(), *entry);
                }
            }
            NsOp::Unbind { dir, name, entry } => {
                if let Some(names) = ns.names(dir) {
                    unbind(names, name, *entry);
                }
            }
            NsOp::Rename {
                from_dir,
                from_name,
                to_dir,
                to_name,
                ino,
            } => {
                if let Some(names) = ns.names(from_dir) {
                    unbind(names, from_name, Entry::File(*ino));
                }
                if let Some(names) = ns.names(to_dir) {
                    names.insert(to_name.clone(), Entry::File(*ino));
                }
            }
        }
    }
}

/// Removes `name` if it binds `entry`, with one search of the map (a shared name is cloned by a
/// reference count, not a copy).
fn unbind(names: &mut BTreeMap<Name, Entry>, name: &Name, entry: Entry) {
    if let btree_map::Entry::Occupied(found) = names.entry(Name::clone(name))
        && *found.get() == entry
    {
        found.remove();
    }
}

/// `dir/name` as a display string.
pub(crate) fn join(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// Paths recently given to operations that were UTF-8 and plain (confined as they are), each as
/// the text its events showed. An engine names the same few paths over and over (its directory
/// at every `sync_dir`, a file it just made when it opens or removes it), so finding the path
/// here spares checking its UTF-8 and its components again and copying its text for the event:
/// the event shares this text.
#[derive(Clone, Debug, Default)]
pub(crate) struct RecentPaths {
    /// Per slot, a cheap digest of the path's bytes (see [`RecentPaths::key`]), scanned first.
    keys: [u64; RecentPaths::SLOTS],
    texts: [Option<Arc<str>>; RecentPaths::SLOTS],
    /// The slot the next path remembered replaces.
    next: usize,
}

impl RecentPaths {
    const SLOTS: usize = 16;

    /// The length and the last eight bytes (where paths of one directory differ: their numbers
    /// and extensions) in one word; equal paths have equal keys.
    fn key(bytes: &[u8]) -> u64 {
        let tail = &bytes[bytes.len().saturating_sub(8)..];
        let mut word = [0u8; 8];
        word[..tail.len()].copy_from_slice(tail);
        u64::from_le_bytes(word) ^ (bytes.len() as u64).rotate_right(8)
    }

    /// The text remembered for a path with these bytes.
    pub fn find(&self, bytes: &[u8]) -> Option<&Arc<str>> {
        let key = RecentPaths::key(bytes);
        self.keys
            .iter()
            .zip(&self.texts)
            .filter(|(k, _)| **k == key)
            .find_map(|(_, t)| t.as_ref().filter(|t| t.as_bytes() == bytes))
    }

    /// Remembers `text`, a plain path's text, in place of the oldest one remembered.
    pub fn remember(&mut self, text: &Arc<str>) {
        let slot = self.next;
        self.keys[slot] = RecentPaths::key(text.as_bytes());
        self.texts[slot] = Some(Arc::clone(text));
        self.next = (slot + 1) % RecentPaths::SLOTS;
    }
}

/// The events a new disk's log has room for before it grows. A seeded run of powercut-bench logs
/// 600 events at the median, 1,500 at the 95th percentile and up to 3,500; growing a log of
/// several thousand events copies all of them, while room never used is never touched.
const EVENTS_START: usize = 4096;

/// Everything a [`super::SimFs`] handle shares.
pub(crate) struct State {
    pub inodes: Inodes,
    /// Every directory that exists now, by path (the root is the empty path).
    pub dirs: Dirs,
    /// Namespace operations not yet made durable, oldest first.
    pub ns_pending: Vec<NsOp>,
    /// The metadata sequence number of each of `ns_pending`, in the same order.
    pub ns_seq: Vec<u64>,
    /// The next metadata sequence number: namespace operations and `set_len`s are numbered in
    /// the order they were issued, so a disk that keeps metadata in order can honour it.
    pub meta_seq: u64,
    /// Metadata reaches the disk in the order it was issued (see
    /// [`super::SimFs::set_ordered_metadata`]).
    pub ordered_metadata: bool,
    pub powered: bool,
    /// Bumped at every reboot: handles opened in an earlier generation stay dead.
    pub generation: u64,
    /// Mutating operations still allowed before the power is cut.
    pub countdown: Option<u64>,
    pub mutating_ops: u64,
    pub phase: Phase,
    pub events: Vec<Event>,
    /// The running digest of `events`.
    pub trace: TraceHasher,
    /// Held locks: path -> the id of the guard that holds it.
    pub locks: BTreeMap<PathBuf, u64>,
    pub next_lock_id: u64,
    pub faults: Vec<Armed>,
    /// The fault that fired during the operation being run, for its event.
    pub fired: Option<FaultClass>,
    /// A note for the result of the operation being run (where a misdirected write landed).
    pub note: Option<String>,
    pub hook: Option<MutationHook>,
    /// How the store names its files' roles, for `role:` fault patterns.
    pub kinds: Option<super::faults::KindFn>,
    /// The device writes a sector all or nothing (see [`super::SimFs::set_atomic_sectors`]).
    pub atomic_sectors: bool,
    /// Runtime choices (misdirected offsets) come from here.
    pub rng: ChaCha8Rng,
    /// The durable disk (what `Strict` keeps), built on demand and dropped when it changes.
    pub durable_image: OnceLock<DiskImage>,
    /// Plain paths operations were given lately, with their events' text.
    pub recent: RecentPaths,
    /// No bytes: the durable bytes of every file created since the last reboot, until its
    /// first sync.
    pub empty: Arc<Vec<u8>>,
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("files", &self.inodes.len())
            .field("dirs", &self.dirs.len())
            .field("ns_pending", &self.ns_pending.len())
            .field("powered", &self.powered)
            .field("generation", &self.generation)
            .field("mutating_ops", &self.mutating_ops)
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl State {
    /// An empty disk holding only the root directory.
    pub fn new(seed: u64) -> State {
        let dirs = Dirs::default();
        State {
            inodes: Inodes::starting_at(1),
            dirs,
            ns_pending: Vec::new(),
            ns_seq: Vec::new(),
            meta_seq: 0,
            ordered_metadata: false,
            powered: true,
            generation: 0,
            countdown: None,
            mutating_ops: 0,
            phase: Phase::default(),
            // A seeded run logs hundreds to thousands of events: start there rather than
            // reallocating (and moving every event) through each smaller size.
            events: Vec::with_capacity(EVENTS_START),
            trace: TraceHasher::default(),
            locks: BTreeMap::new(),
            next_lock_id: 1,
            faults: Vec::new(),
            fired: None,
            note: None,
            hook: None,
            kinds: None,
            atomic_sectors: false,
            rng: ChaCha8Rng::seed_from_u64(seed),
            durable_image: OnceLock::new(),
            recent: RecentPaths::default(),
            empty: Arc::default(),
        }
    }

    /// A deep copy without the hook and the locks (their guards belong to the original).
    pub fn fork(&self) -> State {
        State {
            inodes: self.inodes.clone(),
            dirs: self.dirs.clone(),
            ns_pending: self.ns_pending.clone(),
            ns_seq: self.ns_seq.clone(),
            meta_seq: self.meta_seq,
            ordered_metadata: self.ordered_metadata,
            powered: self.powered,
            generation: self.generation,
            countdown: self.countdown,
            mutating_ops: self.mutating_ops,
            phase: self.phase,
            events: self.events.clone(),
            trace: self.trace.clone(),
            locks: BTreeMap::new(),
            next_lock_id: self.next_lock_id,
            faults: self.faults.clone(),
            fired: None,
            note: None,
            hook: None,
            kinds: self.kinds,
            atomic_sectors: self.atomic_sectors,
            rng: self.rng.clone(),
            durable_image: self.durable_image.clone(),
            recent: self.recent.clone(),
            empty: Arc::clone(&self.empty),
        }
    }

    /// Replaces the disk with exactly `image`: everything durable, nothing pending.
    pub fn load_image(&mut self, image: &DiskImage) {
        self.inodes.clear();
        self.dirs.reset();
        self.ns_pending.clear();
        self.ns_seq.clear();
        for dir in image.dir_paths() {
            self.bind_loaded(dir, Entry::Dir);
            self.dirs.get_or_default(dir);
        }
        for (path, bytes) in image.file_bytes() {
            let inode = Inode::with_bytes(Arc::from(path), Arc::clone(bytes));
            let ino = self.inodes.push(inode);
            self.bind_loaded(path, Entry::File(ino));
        }
        // Everything was bound live only: the durable names are the same, copied at once
        // rather than inserted name by name.
        for dir in &mut self.dirs.0 {
            dir.1.durable = dir.1.live.clone();
        }
        self.durable_image = OnceLock::new();
    }

    /// Binds `path` live, creating missing parent directories (an image lists every directory,
    /// but a hand-built one might not); [`State::load_image`] makes it durable.
    fn bind_loaded(&mut self, path: &Path, entry: Entry) {
        // Split on bytes like a lookup (a reboot binds every file of the disk again).
        let Some((parent, name)) = parts(path) else {
            return;
        };
        let name = Name::from(name);
        let at = match self.dirs.index_of(parent) {
            Some(i) => Some(i),
            None => {
                let parent = parent.to_path_buf();
                self.bind_loaded(&parent, Entry::Dir);
                self.dirs.insert(&parent, Dir::default());
                self.dirs.index_of(&parent)
            }
        };
        if let Some(i) = at {
            self.dirs.at_mut(i).live.insert(name, entry);
        }
    }

    /// What `path` names now, if anything.
    pub fn lookup(&self, path: &Path) -> Option<Entry> {
        self.lookup_parts(parts(path))
    }

    /// What an operation's path names now, if anything.
    pub fn lookup_rel(&self, rel: &Rel<'_>) -> Option<Entry> {
        self.lookup_parts(rel.parts())
    }

    /// What a path split by [`parts`] names now (`None` parts: the root).
    fn lookup_parts(&self, parts: Option<(&Path, Cow<'_, str>)>) -> Option<Entry> {
        // Borrowed parent and name: a lookup runs for nearly every operation, so it allocates
        // nothing.
        let Some((parent, name)) = parts else {
            return Some(Entry::Dir);
        };
        self.dirs.get(parent)?.live.get(name.as_ref()).copied()
    }

    /// The current name of inode `ino` and its text for the log, if a handle of generation
    /// `generation` may still use it (a handle from before a reboot names an inode of a disk
    /// that is gone). Both are shared with the inode, and the name is not even shared when it is
    /// still `opened_as` (the handle's own copy of it, see [`State::name_for_handle`]; `None`
    /// then): nearly every file operation is on a file not renamed since it was opened, and each
    /// `Arc` taken is an atomic increment and decrement.
    pub fn name_of_open(
        &self,
        ino: u64,
        generation: u64,
        opened_as: &Arc<Path>,
    ) -> Option<(Option<Arc<Path>>, Arc<str>)> {
        if generation != self.generation {
            return None;
        }
        let inode = self.inodes.get(ino)?;
        let renamed = (!Arc::ptr_eq(&inode.name, opened_as)).then(|| Arc::clone(&inode.name));
        Some((renamed, Arc::clone(&inode.label)))
    }

    /// `rel` (the confined path inode `ino` was just opened or created by) for a handle to keep:
    /// the inode's own name when it is that path, shared rather than copied.
    pub fn name_for_handle(&self, ino: u64, rel: &Path) -> Arc<Path> {
        match self.inodes.get(ino) {
            Some(inode) if inode.name.as_os_str() == rel.as_os_str() => Arc::clone(&inode.name),
            _ => Arc::from(rel),
        }
    }

    /// Tells whether a crash now could leave anything but the durable disk.
    pub fn has_pending(&self) -> bool {
        !self.ns_pending.is_empty() || self.inodes.values().any(|i| !i.pending.is_empty())
    }

    /// The durable disk changed: forget the cached image of it.
    pub fn durable_changed(&mut self) {
        self.durable_image = OnceLock::new();
    }
}

/// The path an operation was given, confined, with its text when that is the caller's text
/// unchanged. The operation checks the caller's path for UTF-8 once, for its event; splitting
/// the path and naming a new file then reuse that text (the event's own shared copy) instead of
/// checking the bytes again or copying them.
pub(crate) struct Rel<'p> {
    path: Cow<'p, Path>,
    /// `path` as text, known only when `path` is the caller's path itself: then it is plain
    /// (relative, no empty, `.` or `..` component), since [`crate::confined`] passed it as is.
    text: Option<&'p Arc<str>>,
}

impl<'p> Rel<'p> {
    /// `path` confined (see [`crate::confined`]); `text` is `path` as UTF-8, if it is that.
    pub fn confine(path: &'p Path, text: Option<&'p Arc<str>>) -> std::io::Result<Rel<'p>> {
        let path = crate::confined(path)?;
        let text = match path {
            Cow::Borrowed(_) => text,
            Cow::Owned(_) => None,
        };
        Ok(Rel { path, text })
    }

    /// A path known plain (see [`crate::std_fs::is_plain`]), with its text.
    pub fn plain(path: &'p Path, text: &'p Arc<str>) -> Rel<'p> {
        Rel {
            path: Cow::Borrowed(path),
            text: Some(text),
        }
    }

    /// The path's text, when it is the caller's path unchanged (see [`Rel::confine`]).
    pub fn text(&self) -> Option<&'p Arc<str>> {
        self.text
    }

    /// A path already confined, without its text.
    pub fn of(path: &'p Path) -> Rel<'p> {
        Rel {
            path: Cow::Borrowed(path),
            text: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn into_path_buf(self) -> PathBuf {
        self.path.into_owned()
    }

    /// The parent directory and the name, like [`parts`].
    pub fn parts(&self) -> Option<(&Path, Cow<'_, str>)> {
        let Some(text) = self.text.map(|t| &**t) else {
            return parts(&self.path);
        };
        // Plain text: the last '/' splits it, and the name is text already. A byte loop, not
        // `rsplit_once`: its memrchr costs more per call than a short path has bytes.
        Some(match text.bytes().rposition(|b| b == b'/') {
            Some(i) => (Path::new(&text[..i]), Cow::Borrowed(&text[i + 1..])),
            None => (Path::new(""), Cow::Borrowed(text)),
        })
    }

    /// The path as the event log shows a file by it (the event's text, shared, when known).
    pub fn label(&self) -> Arc<str> {
        match self.text {
            Some(text) => Arc::clone(text),
            None => Arc::from(self.path.to_string_lossy()),
        }
    }
}

/// A path's parent directory and name, borrowed; `None` for the root. Names that are not UTF-8
/// come out lossy (so they are bound and found by the same text).
pub(crate) fn parts(path: &Path) -> Option<(&Path, Cow<'_, str>)> {
    let bytes = path.as_os_str().as_encoded_bytes();
    // Confined paths are relative, '/'-separated and normalised, so the last '/' splits them,
    // without the component parsing `Path::parent` and `Path::file_name` do, and only the name
    // needs to be checked for UTF-8.
    let (parent, name) = match bytes.iter().rposition(|b| *b == b'/') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (&b""[..], bytes),
    };
    let plain = bytes.first() != Some(&b'/')
        && parent.last() != Some(&b'/')
        && !matches!(name, b"" | b"." | b"..");
    if plain && let Ok(name) = std::str::from_utf8(name) {
        return Some((Path::new(OsStr::from_bytes(parent)), Cow::Borrowed(name)));
    }
    let name = path.file_name()?;
    Some((
        path.parent().unwrap_or(Path::new("")),
        name.to_string_lossy(),
    ))
}

#[cfg(test)]
mod tests {
    use super::Name;

    #[test]
    fn names_order_like_their_text() {
        let texts = [
            "",
            "\0",
            "a",
            "a\0",
            "ab",
            "abc",
            "000001.sst",
            "000001.log",
            "000010.sst",
            "00000",
            "000001",
            "CURRENT",
            "CURRENT.tmp",
            "LOCK",
            "MANIFEST-000002",
            "é",
            "\u{ff}x",
            "abcdefgh",
            "abcdefg",
            "abcdefgh\0",
            "abcdefghi",
            "abcdefgi",
        ];
        for a in texts {
            for b in texts {
                assert_eq!(Name::from(a).cmp(&Name::from(b)), a.cmp(b), "{a:?} {b:?}");
            }
        }
    }
}
