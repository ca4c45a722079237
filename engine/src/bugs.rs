//! The catalog of named crash-consistency defects (issue 6), compiled only with `bugs`.

use serde::{Deserialize, Serialize};

/// A defect that can be switched on in [`crate::Options::bugs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bug {
    SstDirEntryNotSynced,
    EditBeforeSstSync,
    ObsoleteRemovedBeforeEdit,
    CurrentInPlace,
    CurrentBeforeManifestDurable,
    SyncWriteWithoutWalSync,
    WalRemovedBeforeFlushDurable,
    BadRecordIsTornTail,
    ZeroFrameAccepted,
    FileNumbersFromManifestOnly,
    MemtableBeforeWal,
    FsyncRetried,
    ReplayFlushedWal,
    TombstoneDroppedEarly,
    NoWalSyncAtSwitch,
}
