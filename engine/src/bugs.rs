//! The catalog of named crash-consistency defects (issue 6), compiled only with the `bugs`
//! feature. Each is off unless listed in [`crate::Options::bugs`]; without the feature none of
//! them exists in the binary.
//!
//! Every defect is modelled on a class of bug that hit real storage systems, and each says which
//! fault or crash policy exposes it, so a harness that misses one has a concrete gap to close.

use serde::{Deserialize, Serialize};

/// A defect that can be switched on in [`crate::Options::bugs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bug {
    /// A new SST's directory entry is not synced before the MANIFEST names it.
    SstDirEntryNotSynced,
    /// The MANIFEST edit naming a new SST is appended (and synced) before the SST's data is.
    EditBeforeSstSync,
    /// Compaction removes its inputs before the edit that retires them is durable.
    ObsoleteRemovedBeforeEdit,
    /// CURRENT is truncated and rewritten in place instead of temp file + rename.
    CurrentInPlace,
    /// CURRENT is pointed at a new MANIFEST whose data and directory entry are not yet durable.
    CurrentBeforeManifestDurable,
    /// A write with `sync: true` is acknowledged without syncing the WAL.
    SyncWriteWithoutWalSync,
    /// A memtable's WAL is removed before the flush that covers it is durable.
    WalRemovedBeforeFlushDurable,
    /// Any bad WAL or MANIFEST record is taken for a torn tail, so valid records after it are cut.
    BadRecordIsTornTail,
    /// Zero-filled bytes where a record should start are skipped as padding.
    ZeroFrameAccepted,
    /// The next file number comes only from the MANIFEST, and a file of that name is replaced.
    FileNumbersFromManifestOnly,
    /// A write is applied to the memtable before its WAL append has succeeded.
    MemtableBeforeWal,
    /// A failed WAL fsync is retried and, when the retry succeeds, the write is acknowledged.
    FsyncRetried,
    /// Recovery replays WALs older than the last flush.
    ReplayFlushedWal,
    /// Compaction drops tombstones even when an older value lives in a deeper level.
    TombstoneDroppedEarly,
    /// The previous WAL is not synced when a memtable is switched to a new WAL.
    NoWalSyncAtSwitch,
    /// CURRENT's checksum is written but not checked when CURRENT is read.
    CurrentChecksumUnverified,
}

impl Bug {
    /// Every defect, in catalog order.
    pub const ALL: [Bug; 16] = [
        Bug::SstDirEntryNotSynced,
        Bug::EditBeforeSstSync,
        Bug::ObsoleteRemovedBeforeEdit,
        Bug::CurrentInPlace,
        Bug::CurrentBeforeManifestDurable,
        Bug::SyncWriteWithoutWalSync,
        Bug::WalRemovedBeforeFlushDurable,
        Bug::BadRecordIsTornTail,
        Bug::ZeroFrameAccepted,
        Bug::FileNumbersFromManifestOnly,
        Bug::MemtableBeforeWal,
        Bug::FsyncRetried,
        Bug::ReplayFlushedWal,
        Bug::TombstoneDroppedEarly,
        Bug::NoWalSyncAtSwitch,
        Bug::CurrentChecksumUnverified,
    ];

    /// The snake_case name used on command lines and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Bug::SstDirEntryNotSynced => "sst_dir_entry_not_synced",
            Bug::EditBeforeSstSync => "edit_before_sst_sync",
            Bug::ObsoleteRemovedBeforeEdit => "obsolete_removed_before_edit",
            Bug::CurrentInPlace => "current_in_place",
            Bug::CurrentBeforeManifestDurable => "current_before_manifest_durable",
            Bug::SyncWriteWithoutWalSync => "sync_write_without_wal_sync",
            Bug::WalRemovedBeforeFlushDurable => "wal_removed_before_flush_durable",
            Bug::BadRecordIsTornTail => "bad_record_is_torn_tail",
            Bug::ZeroFrameAccepted => "zero_frame_accepted",
            Bug::FileNumbersFromManifestOnly => "file_numbers_from_manifest_only",
            Bug::MemtableBeforeWal => "memtable_before_wal",
            Bug::FsyncRetried => "fsync_retried",
            Bug::ReplayFlushedWal => "replay_flushed_wal",
            Bug::TombstoneDroppedEarly => "tombstone_dropped_early",
            Bug::NoWalSyncAtSwitch => "no_wal_sync_at_switch",
            Bug::CurrentChecksumUnverified => "current_checksum_unverified",
        }
    }

    /// The defect with this name, if any.
    pub fn from_name(name: &str) -> Option<Bug> {
        Bug::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The real-world bug or bug class it is modelled on.
    pub fn source(self) -> &'static str {
        match self {
            Bug::SstDirEntryNotSynced => {
                "missing directory fsync after creating a file: found in LevelDB and others by \
                 ALICE (Pillai et al., OSDI'14); RocksDB added directory syncs for new metadata \
                 files after its lost-write crash testing"
            }
            Bug::EditBeforeSstSync => {
                "a metadata log naming data that is not yet durable: the append/sync ordering \
                 class ALICE (OSDI'14) found across LevelDB, SQLite and Git"
            }
            Bug::ObsoleteRemovedBeforeEdit => {
                "deleting obsolete table files before the version edit dropping them is synced; \
                 RocksDB defers obsolete-file purging until the MANIFEST write is durable"
            }
            Bug::CurrentInPlace => {
                "in-place overwrite instead of write-temp-then-rename: the ext4 zero-length file \
                 reports (2009) and ALICE's atomicity findings"
            }
            Bug::CurrentBeforeManifestDurable => {
                "LevelDB/RocksDB SetCurrentFile must follow a synced MANIFEST and a synced \
                 directory entry; CURRENT naming an empty or missing MANIFEST makes the database \
                 unopenable"
            }
            Bug::SyncWriteWithoutWalSync => {
                "a sync flag lost on one code path, or fsync that does not flush (macOS fsync \
                 without F_FULLFSYNC): acknowledged synced writes vanish"
            }
            Bug::WalRemovedBeforeFlushDurable => {
                "RocksDB keeps WALs until the flush that covers them is in a synced MANIFEST \
                 (min_log_number_to_keep); removing them earlier loses the memtable's writes"
            }
            Bug::BadRecordIsTornTail => {
                "log readers that stop at the first checksum failure and drop everything after \
                 it (LevelDB's reader, RocksDB's kTolerateCorruptedTailRecords), silently \
                 discarding durable records after mid-log damage"
            }
            Bug::ZeroFrameAccepted => {
                "zero-filled regions (preallocation, torn sectors) read as padding records \
                 (LevelDB/RocksDB kZeroType): reading resumes after a hole in the log"
            }
            Bug::FileNumbersFromManifestOnly => {
                "file numbers recovered only from the MANIFEST, so files of an interrupted job \
                 get the same number and are reused or overwritten (RocksDB now bumps the next \
                 number above what it finds on disk)"
            }
            Bug::MemtableBeforeWal => {
                "state made visible before it is logged: a failed log append leaves readers \
                 seeing a write that was never acknowledged and will not survive"
            }
            Bug::FsyncRetried => {
                "fsyncgate (PostgreSQL, 2018): a failed fsync retried and its success trusted, \
                 though the kernel had marked the dirty pages clean (CuttleFS, ATC'20)"
            }
            Bug::ReplayFlushedWal => {
                "recovery replaying logs older than the last flush (ignoring the logged \
                 log number): duplicates and resurrected deletes"
            }
            Bug::TombstoneDroppedEarly => {
                "dropping a tombstone in compaction while an older value lives below: deleted \
                 data comes back (Cassandra's zombie rows; RocksDB's bottommost-level check)"
            }
            Bug::NoWalSyncAtSwitch => {
                "switching to a new WAL without syncing the previous one: later synced writes \
                 survive while earlier acknowledged ones are lost, a hole in the history"
            }
            Bug::CurrentChecksumUnverified => {
                "a pointer file trusted without its checksum: a flipped bit in the name it holds \
                 silently points recovery at another metadata file (the class of bug checksummed \
                 superblocks and LevelDB-style CURRENT checksums exist for)"
            }
        }
    }

    /// Which fault or crash policy exposes it, and why.
    pub fn exposed_by(self) -> &'static str {
        match self {
            Bug::SstDirEntryNotSynced => {
                "Strict or Reorder power cut after a flush or compaction edit: the SST's name is \
                 lost while the MANIFEST names it, so reopening reports a missing file"
            }
            Bug::EditBeforeSstSync => {
                "Strict power cut between the MANIFEST sync and the late SST sync: the edit names \
                 an SST whose bytes never reached the disk (missing data or corruption)"
            }
            Bug::ObsoleteRemovedBeforeEdit => {
                "Strict power cut after the outputs' directory sync but before the edit: the \
                 durable MANIFEST still names the removed inputs"
            }
            Bug::CurrentInPlace => {
                "Torn or Reorder power cut during a MANIFEST rollover or an open: CURRENT is kept \
                 truncated or half-written, so the database cannot be opened"
            }
            Bug::CurrentBeforeManifestDurable => {
                "Strict power cut after a rollover or an open, before the next edit syncs the new \
                 MANIFEST: CURRENT names an empty MANIFEST"
            }
            Bug::SyncWriteWithoutWalSync => {
                "Strict power cut after any synced write: the acknowledged write is not on disk"
            }
            Bug::WalRemovedBeforeFlushDurable => {
                "Strict power cut during a flush, after the SST's directory sync made the WAL's \
                 removal durable but before the edit: the memtable's writes are gone, or (when \
                 the SST was complete) recovery finds an SST holding writes no WAL and no edit \
                 accounts for and refuses to open"
            }
            Bug::BadRecordIsTornTail => {
                "a bit flip or torn sector in the middle of a WAL or MANIFEST: valid durable \
                 records after it are silently cut instead of reported as corruption"
            }
            Bug::ZeroFrameAccepted => {
                "Reorder power cut leaving a zero-filled hole in a WAL's unsynced tail (small \
                 memtables, so unsynced records reach the file), or a zeroed torn sector: \
                 records after the hole are replayed, so the recovered history is not a prefix"
            }
            Bug::FileNumbersFromManifestOnly => {
                "Strict power cut after a memtable switch and synced writes to the new WAL but \
                 before any edit records the higher file number: recovery hands the WAL's number \
                 out again, replaces the file, and later synced writes are lost"
            }
            Bug::MemtableBeforeWal => {
                "an EIO or ENOSPC on a WAL write or sync: reads then return a write whose call \
                 failed, and it disappears at the next reopen"
            }
            Bug::FsyncRetried => {
                "FsyncFailure MarkClean (or ReportLater) on the WAL, then a Strict power cut: the \
                 retried sync succeeds on pages that were dropped, so an acknowledged synced \
                 write is lost (or the commit frame written after it vouches for the dropped \
                 bytes and recovery refuses a database no damage touched)"
            }
            Bug::ReplayFlushedWal => {
                "a flushed WAL that reappears while newer writes to its keys live only in SSTs: \
                 old values or deleted keys come back. In this engine a crash alone rarely \
                 produces that state, since every later flush or WAL switch syncs the directory \
                 and so makes the older WAL's removal durable, and replaying the newest flushed \
                 WAL before the live ones is idempotent; a lost directory entry update (a \
                 restored or leftover WAL file) exposes it at once"
            }
            Bug::TombstoneDroppedEarly => {
                "no crash needed: deletes followed by compactions that leave older values deeper \
                 resurrect deleted keys in reads and after reopen"
            }
            Bug::NoWalSyncAtSwitch => {
                "Strict or Torn power cut after a synced write to a new WAL while the previous \
                 WAL still had unsynced acknowledged writes: the new WAL's header starts past \
                 where the previous WAL now ends, so recovery refuses the hole as corruption (or \
                 loses writes acknowledged before a durable point)"
            }
            Bug::CurrentChecksumUnverified => {
                "aimed bit flip in CURRENT (a file written in one piece): a flip that turns the \
                 MANIFEST number into another valid one opens an older or missing MANIFEST, so \
                 recovery loses durable writes or refuses naming the wrong file"
            }
        }
    }
}

impl std::fmt::Display for Bug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Bug {
    type Err = String;

    fn from_str(s: &str) -> Result<Bug, String> {
        Bug::from_name(s).ok_or_else(|| {
            let names: Vec<&str> = Bug::ALL.iter().map(|b| b.name()).collect();
            format!("unknown defect `{s}`; known: {}", names.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for bug in Bug::ALL {
            assert_eq!(Bug::from_name(bug.name()), Some(bug));
            let json = serde_json::to_string(&bug).unwrap();
            assert_eq!(json, format!("\"{}\"", bug.name()));
            assert!(!bug.source().is_empty() && !bug.exposed_by().is_empty());
        }
        assert!("nonsense".parse::<Bug>().is_err());
    }
}
