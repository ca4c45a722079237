//! SQLite's five lock levels on one database file, kept in memory.
//!
//! Powercut runs every simulated disk inside one process, so no other process can hold a lock and
//! an in-memory table per mount is enough; it still has to be right between the connections of
//! one mount. The rules follow SQLite's locking protocol (`sqlite3.h`, "file locking"):
//!
//! - SHARED is granted unless another handle holds PENDING or EXCLUSIVE (a writer waiting for
//!   readers to leave keeps new readers out, so it cannot starve).
//! - RESERVED (a writer that has not yet written the database) needs SHARED and is granted only
//!   when no other handle is above SHARED: one writer at a time.
//! - EXCLUSIVE is reached through PENDING: the handle first takes PENDING (refused if another is
//!   above SHARED), then becomes EXCLUSIVE once it is the only SHARED holder. If readers remain
//!   it keeps PENDING and gets `Busy`, as the unix VFS does, so it can retry.
//! - Unlocking goes down to SHARED or NONE.
//!
//! Compared with the unix VFS this is stricter in one place: it allows one handle above SHARED,
//! where POSIX byte-range locks would let one handle hold RESERVED while another takes PENDING.
//! SQLite treats the refusal as `SQLITE_BUSY`, which is always allowed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A lock level (`SQLITE_LOCK_NONE` .. `SQLITE_LOCK_EXCLUSIVE`, in order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    None,
    Shared,
    Reserved,
    Pending,
    Exclusive,
}

impl Level {
    /// The level for SQLite's `SQLITE_LOCK_*` number.
    pub(crate) fn from_raw(raw: i32) -> Option<Level> {
        Some(match raw {
            0 => Level::None,
            1 => Level::Shared,
            2 => Level::Reserved,
            3 => Level::Pending,
            4 => Level::Exclusive,
            _ => return None,
        })
    }
}

/// Why a lock request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Another handle's lock is in the way (`SQLITE_BUSY`); the handle now holds the level given.
    Busy(Level),
    /// A request SQLite's protocol never makes (`SQLITE_MISUSE`), such as PENDING directly or
    /// RESERVED without SHARED.
    Misuse,
}

/// The locks on one file.
#[derive(Debug, Default)]
struct Entry {
    /// How many handles hold SHARED or more.
    shared: u32,
    /// The one handle above SHARED, and its level.
    writer: Option<(u64, Level)>,
}

/// Every locked file of one mount, by its path; entries vanish when their last lock goes.
#[derive(Debug, Default)]
pub(crate) struct LockTable {
    files: HashMap<PathBuf, Entry>,
}

impl LockTable {
    /// Raises handle `id`, which holds `held` on `path`, to at least `want`; returns the level it
    /// then holds.
    pub(crate) fn lock(
        &mut self,
        path: &Path,
        id: u64,
        held: Level,
        want: Level,
    ) -> Result<Level, Refusal> {
        if held >= want {
            return Ok(held);
        }
        let entry = self.files.entry(path.to_path_buf()).or_default();
        let other_writer = entry.writer.filter(|(owner, _)| *owner != id);
        match want {
            Level::Shared if held == Level::None => {
                if matches!(other_writer, Some((_, Level::Pending | Level::Exclusive))) {
                    return Err(Refusal::Busy(held));
                }
                entry.shared += 1;
                Ok(Level::Shared)
            }
            Level::Reserved if held == Level::Shared => {
                if other_writer.is_some() {
                    return Err(Refusal::Busy(held));
                }
                entry.writer = Some((id, Level::Reserved));
                Ok(Level::Reserved)
            }
            Level::Exclusive if held >= Level::Shared => {
                if other_writer.is_some() {
                    return Err(Refusal::Busy(held));
                }
                if entry.shared > 1 {
                    // Readers remain: hold PENDING so no new reader comes in, and let SQLite retry.
                    entry.writer = Some((id, Level::Pending));
                    return Err(Refusal::Busy(Level::Pending));
                }
                entry.writer = Some((id, Level::Exclusive));
                Ok(Level::Exclusive)
            }
            _ => Err(Refusal::Misuse),
        }
    }

    /// Lowers handle `id` from `held` to `want` (SHARED or NONE); returns the level it then holds.
    pub(crate) fn unlock(
        &mut self,
        path: &Path,
        id: u64,
        held: Level,
        want: Level,
    ) -> Result<Level, Refusal> {
        if want > Level::Shared {
            return Err(Refusal::Misuse);
        }
        if held <= want {
            return Ok(held);
        }
        if let Some(entry) = self.files.get_mut(path) {
            if held > Level::Shared && entry.writer.is_some_and(|(owner, _)| owner == id) {
                entry.writer = None;
            }
            if want == Level::None {
                entry.shared = entry.shared.saturating_sub(1);
            }
            if entry.shared == 0 && entry.writer.is_none() {
                self.files.remove(path);
            }
        }
        Ok(want)
    }

    /// Tells whether any handle holds RESERVED or more on `path` (`xCheckReservedLock`).
    pub(crate) fn reserved(&self, path: &Path) -> bool {
        self.files.get(path).is_some_and(|e| e.writer.is_some())
    }

    /// How many files hold any lock (for leak checks).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.files.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("db/data.sqlite")
    }

    #[test]
    fn readers_share_and_one_writer_reserves() {
        let mut t = LockTable::default();
        assert_eq!(
            t.lock(p(), 1, Level::None, Level::Shared),
            Ok(Level::Shared)
        );
        assert_eq!(
            t.lock(p(), 2, Level::None, Level::Shared),
            Ok(Level::Shared)
        );
        assert_eq!(
            t.lock(p(), 1, Level::Shared, Level::Reserved),
            Ok(Level::Reserved)
        );
        assert!(t.reserved(p()));
        assert_eq!(
            t.lock(p(), 2, Level::Shared, Level::Reserved),
            Err(Refusal::Busy(Level::Shared))
        );
    }

    #[test]
    fn exclusive_waits_in_pending_while_readers_remain_and_blocks_new_readers() {
        let mut t = LockTable::default();
        t.lock(p(), 1, Level::None, Level::Shared)
            .expect("shared 1");
        t.lock(p(), 2, Level::None, Level::Shared)
            .expect("shared 2");
        assert_eq!(
            t.lock(p(), 1, Level::Shared, Level::Exclusive),
            Err(Refusal::Busy(Level::Pending))
        );
        assert_eq!(
            t.lock(p(), 3, Level::None, Level::Shared),
            Err(Refusal::Busy(Level::None))
        );
        assert_eq!(
            t.unlock(p(), 2, Level::Shared, Level::None),
            Ok(Level::None)
        );
        assert_eq!(
            t.lock(p(), 1, Level::Pending, Level::Exclusive),
            Ok(Level::Exclusive)
        );
    }

    #[test]
    fn unlocking_everything_leaves_no_entry() {
        let mut t = LockTable::default();
        t.lock(p(), 1, Level::None, Level::Shared).expect("shared");
        t.lock(p(), 1, Level::Shared, Level::Exclusive)
            .expect("exclusive");
        assert_eq!(
            t.unlock(p(), 1, Level::Exclusive, Level::Shared),
            Ok(Level::Shared)
        );
        assert!(!t.reserved(p()));
        assert_eq!(
            t.unlock(p(), 1, Level::Shared, Level::None),
            Ok(Level::None)
        );
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn requests_outside_the_protocol_are_misuse() {
        let mut t = LockTable::default();
        assert_eq!(
            t.lock(p(), 1, Level::None, Level::Reserved),
            Err(Refusal::Misuse)
        );
        assert_eq!(
            t.lock(p(), 1, Level::None, Level::Pending),
            Err(Refusal::Misuse)
        );
        assert_eq!(
            t.unlock(p(), 1, Level::Shared, Level::Reserved),
            Err(Refusal::Misuse)
        );
    }
}
