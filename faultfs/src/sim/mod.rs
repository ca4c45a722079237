//! [`SimFs`]: the deterministic in-memory crash simulator.
//!
//! # Durability model
//!
//! The simulator remembers, per file (inode):
//! - the *live* bytes, which reads see;
//! - the *durable* bytes, which the disk holds;
//! - the *pending* changes since the last successful `sync`, in order: each `write_at` (offset
//!   and data) and each `set_len`. A successful `sync` applies them to the durable bytes.
//!
//! and per directory:
//! - the *live* namespace (what `list`, `open` and `exists` see) and the *durable* namespace;
//! - the *pending* namespace operations, in one global order: create, mkdir (from
//!   `create_dir_all`), rename, remove. `sync_dir(d)` makes durable every pending operation that
//!   touches `d`, plus every earlier one that shares a directory with those (a rename across two
//!   directories is one journal entry, so committing it also commits what came before it).
//!
//! So a file whose data was synced but whose name was not can vanish; a removed file whose
//! removal was not made durable comes back with its durable bytes; a rename is one operation
//! that survives or not as a whole, so after a crash the old or the new binding holds, never
//! neither and never a mix. Open handles name inodes, so they keep working after a rename or
//! remove of their path, like POSIX descriptors.
//!
//! `lock` creates a missing lock file like `StdFs` does (a pending create), but it is not a
//! mutating operation: it is no crash point and `crash_after_ops` does not count it. Locks live
//! in memory only and a reboot releases them all. Files are limited to 1 GiB (EFBIG beyond),
//! since they are not sparse. Renaming a directory is refused (`Unsupported`).
//!
//! A power cut (`power_off`, or `crash_after_ops(n)` at the (n+1)-th mutating operation) makes
//! every later call on the fs and on every handle fail with [`crate::power_loss_error`]; nothing
//! reaches the disk after it. `reboot(policy, seed)` builds the post-crash disk from the durable
//! state plus what the policy lets survive of the pending state, applies damage faults, and
//! powers on; handles and locks from before stay dead (a generation counter). What each policy
//! keeps:
//!
//! | policy | files | namespace |
//! |---|---|---|
//! | `Strict` | durable bytes only | durable names only |
//! | `KeepAll` | every pending change (a process kill) | every pending operation |
//! | `Torn { sector }` | per file a prefix of its pending changes; the last kept write may be cut after any of its sectors, the next sector left as it was, zeroed or filled with garbage | per directory a prefix of its pending operations |
//! | `Reorder { sector }` | each sector-sized piece of each pending write, and each `set_len`, survives on its own | each operation survives on its own; a rename stays atomic |
//!
//! What a cut sector can hold depends on the device, declared with
//! [`SimFs::set_atomic_sectors`] (the namespace column does not change):
//!
//! | sectors | `Torn` | `Reorder` |
//! |---|---|---|
//! | may tear (default, the worst case) | the sector after the cut: as it was, zeros or garbage, over the part the write covered | any subset of the pieces in a sector, so two writes to one sector can mix |
//! | atomic (`SQLITE_IOCAP_ATOMIC512`, `POWERSAFE_OVERWRITE`) | the sector after the cut: as it was | each sector keeps a prefix of the pieces written to it, in order: it holds its durable bytes or its bytes as one of its writes left them |
//!
//! With atomic sectors no sector ever holds zeros, garbage or a mix of two moments, and bytes
//! outside every pending write never change (a `set_len` still cuts or zero-extends on its own).
//!
//! Surviving changes are applied to the durable bytes in their original order. Every choice is
//! drawn from the reboot seed (ChaCha8) and recorded in the `Reboot` event as a [`RebootOutcome`]:
//! per file the exact byte ranges kept, dropped or torn, per namespace operation whether it
//! survived, and whether sectors were atomic. Garbage bytes depend only on their offset, so a
//! sampled outcome equals the corresponding enumerated one. [`SimFs::crash_images`] and
//! [`CrashPoint::crash_images`] list the distinct disks a cut can leave, without damage faults.
//!
//! # Fault model
//!
//! Faults are armed with [`SimFs::inject`]; file faults match the file's current name against a
//! [`PathPattern`] (a handle opened as `x.tmp` is matched, logged and named in errors as `x` once
//! the file was renamed). Every event a fault fired on carries its [`FaultClass`]. Errors are
//! real errno values (`EIO`, `ENOSPC`) wrapped with the path; [`crate::os_error_code`] finds them.
//!
//! - `IoError { op, path, nth }`: the n-th matching read, write or sync fails with EIO and does
//!   nothing (a failed sync leaves the changes pending).
//! - `NoSpace { capacity_bytes }`: every write or growing `set_len` that would take the live
//!   bytes of all named files past the capacity fails with ENOSPC and does nothing (stays armed).
//! - `FsyncFailure { path, nth, mode }` on the n-th matching sync: `MarkClean` fails with EIO,
//!   drops the pending changes (they never reach the disk) while reads still show them, and the
//!   next sync succeeds; `ReportLater` lets this sync succeed, then the next sync of the file
//!   fails with EIO and its pending changes are dropped the same way; `Revert` fails with EIO and
//!   turns the live bytes back into the durable bytes.
//! - `MisdirectedWrite { path, nth }`: the n-th matching write reaches the disk at another
//!   (seeded, 512-aligned) offset of the file, while reads keep showing the intended bytes.
//! - Damage, applied at the next reboot to the post-crash bytes of every matching file and logged
//!   as `Damage` events: `BitFlip` flips one bit, `TornSector` replaces one sector with zeros or
//!   garbage, `Truncate` cuts the file; offsets are seeded from the reboot seed when `None`.
//!
//! Runtime choices (misdirected offsets) come from the seed of [`SimFs::with_seed`]; reboot
//! choices come from the reboot seed. Nothing depends on time, threads or hash order.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::{File, Fs, Lock, Phase, confined};

mod atomic;
mod crash;
mod enumerate;
mod events;
mod faults;
mod handle;
mod image;
mod ops;
mod outcome;
mod state;
mod types;

pub use faults::KindFn;
use handle::{SimFile, SimLock};
pub use image::DiskImage;
pub use outcome::{ChangeKind, FilePiece, NamespaceOp, PieceFate, RebootDecision, RebootOutcome};
use state::{Rel, State};
pub use types::{
    CrashPolicy, Event, EventOp, EventPath, Fault, FaultClass, FsyncMode, IoOp, PathPattern,
};

/// The state at a crash point, handed to a hook before a mutating operation is applied.
pub struct CrashPoint<'a> {
    /// How many mutating operations were applied before this one.
    pub op_index: u64,
    /// The phase label in force.
    pub phase: Phase,
    /// The operation about to be applied.
    pub op: &'a EventOp,
    state: &'a State,
}

impl CrashPoint<'_> {
    /// The distinct disks a power cut at this point (before `op`) can leave under `policy`, at
    /// most `bound`, in the order of [`SimFs::crash_images`]; one cached image when nothing is
    /// pending.
    pub fn crash_images(&self, policy: CrashPolicy, bound: usize) -> Vec<DiskImage> {
        enumerate::images(self.state, policy, bound)
    }

    /// Tells whether a cut here could leave anything but the durable disk.
    pub fn has_pending(&self) -> bool {
        self.state.has_pending()
    }
}

/// A hook called before every mutating operation (see [`SimFs::set_mutation_hook`]).
pub type MutationHook = Box<dyn FnMut(&CrashPoint<'_>) + Send>;

/// A handle to a simulated disk. Clones share the same disk; every method may be called from
/// several threads at once (the state sits behind one mutex).
#[derive(Clone)]
pub struct SimFs {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for SimFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SimFs").field(&*self.lock_state()).finish()
    }
}

impl Default for SimFs {
    fn default() -> Self {
        SimFs::new()
    }
}

/// Whether an operation can change the disk (and so counts as a crash point).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mutating,
    ReadOnly,
}

impl SimFs {
    /// An empty, powered-on disk whose runtime choices come from seed 0.
    pub fn new() -> SimFs {
        SimFs::with_seed(0)
    }

    /// An empty, powered-on disk whose runtime choices (where a misdirected write lands) come
    /// from `seed`.
    pub fn with_seed(seed: u64) -> SimFs {
        SimFs {
            state: Arc::new(Mutex::new(State::new(seed))),
        }
    }

    /// A powered-on disk holding exactly `image` (everything durable, nothing pending).
    pub fn from_image(image: &DiskImage) -> SimFs {
        let mut state = State::new(0);
        state.load_image(image);
        SimFs {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// An independent deep copy (live, durable and pending state, faults, log), powered as now.
    /// The copy has no mutation hook and no held locks; handles of the original stay bound to it.
    pub fn fork(&self) -> SimFs {
        let copy = self.lock_state().fork();
        SimFs {
            state: Arc::new(Mutex::new(copy)),
        }
    }

    /// Cuts the power now: every later call on the fs or on any handle fails with a power-loss
    /// error until [`SimFs::reboot`].
    pub fn power_off(&self) {
        let mut st = self.lock_state();
        st.powered = false;
        st.countdown = None;
        log(&mut st, EventOp::PowerOff, Cow::Borrowed("ok"));
    }

    /// Lets `n` more mutating operations (create, write_at, set_len, sync, rename, remove,
    /// create_dir_all, sync_dir) run, then cuts the power at the next one, which fails.
    pub fn crash_after_ops(&self, n: u64) {
        self.lock_state().countdown = Some(n);
    }

    /// Tells whether the power is on.
    pub fn is_powered(&self) -> bool {
        self.lock_state().powered
    }

    /// How many mutating operations have run with the power on since the disk was made (whether
    /// they succeeded or failed); the `op_index` of the next crash point.
    pub fn mutating_ops(&self) -> u64 {
        self.lock_state().mutating_ops
    }

    /// Builds the post-crash disk from the durable state and what `policy` lets survive of the
    /// pending state (choices drawn from `seed`), applies damage faults, and powers on.
    ///
    /// Works whether or not the power is already off (a reboot of a running disk is a crash).
    /// Every handle and lock from before stays dead; the phase label goes back to the default.
    pub fn reboot(&self, policy: CrashPolicy, seed: u64) {
        let mut st = self.lock_state();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (choice, outcome) = crash::sample(&st, policy, &mut rng);
        let mut image = crash::build_image_consuming(&mut st, choice);
        let state = &mut *st;
        let kinds = state.kinds;
        let damage = faults::apply_damage(&mut state.faults, &mut image, &mut rng, kinds);
        log(
            &mut st,
            EventOp::Reboot {
                policy,
                seed,
                outcome,
            },
            Cow::Borrowed("ok"),
        );
        for (op, class) in damage {
            st.fired = Some(class);
            log(&mut st, op, Cow::Borrowed("ok"));
        }
        st.load_image(&image);
        st.generation += 1;
        st.powered = true;
        st.countdown = None;
        st.locks.clear();
        st.phase = Phase::default();
    }

    /// The distinct disks a power cut now can leave under `policy`, at most `bound`, without
    /// damage faults and without changing anything.
    ///
    /// The order is fixed and puts the most telling disks first: everything pending dropped
    /// (what `Strict` leaves), everything kept (what `KeepAll` leaves), then one file or one
    /// operation deviating from each of those, then the remaining combinations. Disks with equal
    /// [`DiskImage::content_hash`] appear once.
    pub fn crash_images(&self, policy: CrashPolicy, bound: usize) -> Vec<DiskImage> {
        enumerate::images(&self.lock_state(), policy, bound)
    }

    /// The durable disk: what a `Strict` crash now would leave (without damage faults).
    pub fn durable_image(&self) -> DiskImage {
        crash::durable_image(&self.lock_state()).clone()
    }

    /// Arms a fault; it fires on the matching operation (or at the next reboot for damage).
    pub fn inject(&self, fault: Fault) {
        self.lock_state()
            .faults
            .push(faults::Armed { fault, seen: 0 });
    }

    /// Tells the simulator the role of each file, so fault patterns `role:<name>` (`role:log`,
    /// `role:data`, ...) aim at a store's files by what they are rather than by their names.
    /// The function gets a path the store gave to [`crate::Fs`] (for an open file, its current
    /// name). It survives reboots.
    pub fn set_file_kinds(&self, kinds: Option<KindFn>) {
        self.lock_state().kinds = kinds;
    }

    /// Declares whether the simulated device writes a sector all or nothing (off by default: the
    /// worst case, where a sector cut by a power loss can hold zeros or garbage).
    ///
    /// When on, a `Torn` or `Reorder` crash (sampled by [`SimFs::reboot`] or listed by
    /// [`SimFs::crash_images`]) leaves every sector that pending writes touched holding its
    /// durable bytes or its bytes as one of those writes left it, never zeros, garbage or a mix
    /// of two moments, and bytes outside every write unchanged: what an engine that relies on
    /// `SQLITE_IOCAP_ATOMIC512`-style devices may assume. The `Reboot` event records which model
    /// held. Damage faults ([`Fault::TornSector`] and the others) still strike as armed: they
    /// model a failing device, not a power cut. The setting survives reboots and is copied by
    /// [`SimFs::fork`].
    pub fn set_atomic_sectors(&self, atomic: bool) {
        self.lock_state().atomic_sectors = atomic;
    }

    /// Tells whether the device is declared to write sectors atomically.
    pub fn atomic_sectors(&self) -> bool {
        self.lock_state().atomic_sectors
    }

    /// Declares that metadata reaches the disk in the order it was issued (off by default).
    ///
    /// When on, the metadata operations a `Torn` or `Reorder` crash keeps (creates, renames,
    /// removes, directories made, and `set_len`s, across every file and directory) are a prefix
    /// of them in issue order: a disk never shows a later one without every earlier one. This
    /// is what a file system that journals its metadata in order (ext4 and XFS in their default
    /// modes) gives, and what some engines rely on (SQLite in rollback-journal mode deletes the
    /// journal to commit and may then truncate the database with no sync between). File data is
    /// not ordered by it: bytes written by `write_at` still survive per the policy alone, and a
    /// file's length grown by a write is not a metadata operation here. The `Reboot` event
    /// records whether it held; the setting survives reboots and is copied by [`SimFs::fork`].
    pub fn set_ordered_metadata(&self, ordered: bool) {
        self.lock_state().ordered_metadata = ordered;
    }

    /// Tells whether metadata is declared to reach the disk in issue order.
    pub fn ordered_metadata(&self) -> bool {
        self.lock_state().ordered_metadata
    }

    /// Disarms every fault not yet fired (a pending `ReportLater` error stays due).
    pub fn clear_faults(&self) {
        self.lock_state().faults.clear();
    }

    /// Installs (or removes) a hook called before every mutating operation runs, with the power
    /// on, so it can look at every crash point of one run (see [`CrashPoint::crash_images`]).
    ///
    /// The hook runs while the simulator's lock is held: it must not call back into this
    /// `SimFs`, its clones or its handles, or it deadlocks. It is not called for the operation at
    /// which `crash_after_ops` cuts the power.
    pub fn set_mutation_hook(&self, hook: Option<MutationHook>) {
        self.lock_state().hook = hook;
    }

    /// The event log so far (a copy; see [`SimFs::events_since`] and [`SimFs::with_events`] for
    /// cheaper looks at a long log).
    pub fn events(&self) -> Vec<Event> {
        self.lock_state().events.clone()
    }

    /// How many events the log holds; the index the next event will get.
    pub fn event_count(&self) -> usize {
        self.lock_state().events.len()
    }

    /// A copy of the events from index `first` on (none if `first` is past the end), so a caller
    /// that polls the log copies each event once.
    pub fn events_since(&self, first: usize) -> Vec<Event> {
        let st = self.lock_state();
        st.events
            .get(first..)
            .map(<[Event]>::to_vec)
            .unwrap_or_default()
    }

    /// Runs `f` on the event log without copying it.
    ///
    /// `f` runs while the simulator's lock is held: it must not call back into this `SimFs`, its
    /// clones or its handles, or it deadlocks.
    pub fn with_events<R>(&self, f: impl FnOnce(&[Event]) -> R) -> R {
        f(&self.lock_state().events)
    }

    /// A digest of the event log; the same operations with the same seeds give the same digest.
    /// It is kept up to date as events are logged, so asking costs nothing.
    pub fn trace_hash(&self) -> u64 {
        self.lock_state().trace.digest()
    }

    /// The state, even if another thread panicked while holding it (the state is only changed
    /// in steps that leave it consistent, so it stays usable).
    fn lock_state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Runs one operation: refuses it without power or from a dead handle, counts it and calls
    /// the hook if it is mutating, runs `f`, and logs the event.
    fn run<T>(
        &self,
        op: EventOp,
        kind: Kind,
        generation: Option<u64>,
        f: impl FnOnce(&mut State) -> io::Result<T>,
    ) -> io::Result<T> {
        execute(self.lock_state(), op, kind, generation, f)
    }
}

/// The body of [`SimFs::run`], on a state already locked (so a caller can read it first).
fn execute<T>(
    mut st: MutexGuard<'_, State>,
    op: EventOp,
    kind: Kind,
    generation: Option<u64>,
    f: impl FnOnce(&mut State) -> io::Result<T>,
) -> io::Result<T> {
    st.fired = None;
    st.note = None;
    let result = admit(&mut st, &op, kind, generation).and_then(|()| f(&mut st));
    let mut result_text = match &result {
        Ok(_) => Cow::Borrowed("ok"),
        Err(_) => events::result_name(&result),
    };
    if let Some(note) = st.note.take() {
        result_text = Cow::Owned(format!("{result_text} ({note})"));
    }
    log(&mut st, op, result_text);
    result
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Decides whether an operation may run; cuts the power when the countdown runs out.
#[inline(always)]
fn admit(st: &mut State, op: &EventOp, kind: Kind, generation: Option<u64>) -> io::Result<()> {
    if !st.powered || generation.is_some_and(|g| g != st.generation) {
        return Err(crate::power_loss_error());
    }
    if kind == Kind::ReadOnly {
        return Ok(());
    }
    match st.countdown {
        Some(0) => {
            st.powered = false;
            st.countdown = None;
            return Err(crate::power_loss_error());
        }
        Some(n) => st.countdown = Some(n - 1),
        None => {}
    }
    if let Some(mut hook) = st.hook.take() {
        hook(&CrashPoint {
            op_index: st.mutating_ops,
            phase: st.phase,
            op,
            state: st,
        });
        st.hook = Some(hook);
    }
    st.mutating_ops += 1;
    Ok(())
}

/// Appends an event, taking the fault that fired during the operation.
#[inline(always)]
fn log(st: &mut State, op: EventOp, result: Cow<'static, str>) {
    st.events.push(Event {
        index: st.events.len() as u64,
        phase: st.phase,
        op,
        result,
        fault: st.fired.take(),
    });
    // Hashed where it lies in the log, so the event is built once, in place, not moved there.
    if let Some(event) = st.events.last() {
        st.trace.add(event);
    }
}

/// A path as events show it (the same text as `Path::display`, without the formatting machinery),
/// and its text again for [`Rel::confine`] when `path` is UTF-8 (then the event's text is exactly
/// the path's, and the simulator shares it instead of checking or copying the bytes again).
fn shown(path: &Path) -> (EventPath, bool) {
    match path.to_str() {
        Some(text) => (EventPath::from(text), true),
        None => (EventPath::from(&*path.to_string_lossy()), false),
    }
}

/// An operation's path as its event shows it, and what is known of it.
struct Shown {
    path: EventPath,
    /// The text is the path's own (the path is UTF-8).
    exact: bool,
    /// The path was found among [`State::recent`]: UTF-8 and plain, so confining it leaves it
    /// as it is.
    plain: bool,
}

/// Shows `path` for an event: a path given lately shares the text its events showed, with no
/// check and no copy.
fn show(st: &State, path: &Path) -> Shown {
    if let Some(text) = st.recent.find(path.as_os_str().as_encoded_bytes()) {
        return Shown {
            path: EventPath::from(Arc::clone(text)),
            exact: true,
            plain: true,
        };
    }
    let (path, exact) = shown(path);
    Shown {
        path,
        exact,
        plain: false,
    }
}

/// `path` confined (see [`Rel::confine`]), its text shared with the event; a plain UTF-8 path is
/// remembered among [`State::recent`], so the next operation on it finds it there.
fn confine<'p>(st: &mut State, path: &'p Path, shown: &'p Shown) -> io::Result<Rel<'p>> {
    let text = shown.path.shared();
    if shown.plain {
        return Ok(Rel::plain(path, text));
    }
    let rel = Rel::confine(path, shown.exact.then_some(text))?;
    if let Some(text) = rel.text() {
        st.recent.remember(text);
    }
    Ok(rel)
}

impl Fs for SimFs {
    // Each operation shows its path once (`show`): the text is both the event's path and, when
    // confining leaves the path as it is, what the simulator splits and names files by (see
    // `Rel`), shared rather than copied.

    fn create(&self, path: &Path) -> io::Result<Box<dyn File>> {
        let st = self.lock_state();
        let shown = show(&st, path);
        let op = EventOp::Create {
            path: shown.path.clone(),
        };
        let (rel, ino, generation) = execute(st, op, Kind::Mutating, None, |st| {
            let rel = confine(st, path, &shown)?;
            let ino = st.create(&rel, path)?;
            Ok((st.name_for_handle(ino, rel.path()), ino, st.generation))
        })?;
        Ok(Box::new(SimFile::new(self, rel, ino, generation)))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn File>> {
        let st = self.lock_state();
        let shown = show(&st, path);
        let op = EventOp::Open {
            path: shown.path.clone(),
        };
        let (rel, ino, generation) = execute(st, op, Kind::ReadOnly, None, |st| {
            let rel = confine(st, path, &shown)?;
            let ino = st.open(&rel, path)?;
            Ok((st.name_for_handle(ino, rel.path()), ino, st.generation))
        })?;
        Ok(Box::new(SimFile::new(self, rel, ino, generation)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let st = self.lock_state();
        let (from_shown, to_shown) = (show(&st, from), show(&st, to));
        let op = EventOp::Rename {
            from: from_shown.path.clone(),
            to: to_shown.path.clone(),
        };
        execute(st, op, Kind::Mutating, None, |st| {
            let from_rel = confine(st, from, &from_shown)?;
            let to_rel = confine(st, to, &to_shown)?;
            st.rename(&from_rel, &to_rel, (from, to))
        })
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let st = self.lock_state();
        let shown = show(&st, path);
        let op = EventOp::Remove {
            path: shown.path.clone(),
        };
        execute(st, op, Kind::Mutating, None, |st| {
            let rel = confine(st, path, &shown)?;
            st.remove(&rel, path)
        })
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let st = self.lock_state();
        let shown = show(&st, dir);
        let op = EventOp::List {
            path: shown.path.clone(),
        };
        execute(st, op, Kind::ReadOnly, None, |st| {
            let rel = confine(st, dir, &shown)?;
            st.list(&rel, dir)
        })
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let op = EventOp::CreateDir {
            path: shown(path).0,
        };
        self.run(op, Kind::Mutating, None, |st| {
            st.create_dir_all(&confined(path)?, path)
        })
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let st = self.lock_state();
        let shown = show(&st, dir);
        let op = EventOp::SyncDir {
            path: shown.path.clone(),
        };
        execute(st, op, Kind::Mutating, None, |st| {
            let rel = confine(st, dir, &shown)?;
            st.sync_dir(&rel, dir)
        })
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let st = self.lock_state();
        let shown = show(&st, path);
        let op = EventOp::Exists {
            path: shown.path.clone(),
        };
        execute(st, op, Kind::ReadOnly, None, |st| {
            let rel = confine(st, path, &shown)?;
            Ok(st.lookup_rel(&rel).is_some())
        })
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn Lock>> {
        let st = self.lock_state();
        let shown = show(&st, path);
        let op = EventOp::Lock {
            path: shown.path.clone(),
        };
        let (rel, id) = execute(st, op, Kind::ReadOnly, None, |st| {
            let rel = confine(st, path, &shown)?;
            let id = st.lock(&rel, path)?;
            Ok((rel.into_path_buf(), id))
        })?;
        Ok(Box::new(SimLock::new(&self.state, rel, id)))
    }

    fn set_phase(&self, phase: Phase) {
        self.lock_state().phase = phase;
    }
}
