//! Creating the database file so that no power cut leaves a half-made one under its name.
//!
//! redb initializes a new database in place, in steps: it sizes the file, writes a header
//! without the magic number, fsyncs, then writes the magic number and fsyncs again. A file that
//! got through the first steps only is refused by every later open, `create` included ("Not a
//! redb database: magic number mismatch"), although it never held a write. So the store lets
//! redb initialize the file under a temporary name and publishes it whole:
//!
//! | step | a cut after it leaves |
//! |---|---|
//! | 1. create `data.redb.creating` (or empty an old one) | no `data.redb`: the next open starts again at 1 |
//! | 2. redb initializes it and closes it cleanly (its fsyncs make every byte durable) | the same |
//! | 3. rename it to `data.redb` | a complete database under either name: at `data.redb` the next open uses it, at the old name it starts again |
//! | 4. sync the directory | a complete, durable `data.redb` |
//!
//! `data.redb` therefore always names a database redb initialized completely, and an empty
//! `data.redb` is damage (its bytes were lost), never a create in progress: the open refuses it
//! instead of letting redb initialize it afresh over the writes it held.

use std::path::Path;

use faultfs::Fs;

use crate::backend::FaultfsBackend;
use crate::config::RedbConfig;
use crate::error::{Classifier, KvError};
use crate::kv::DATA_FILE;

/// The name the database file is initialized under before it is renamed to [`DATA_FILE`].
pub const CREATING_FILE: &str = "data.redb.creating";

/// Creates `dir/data.redb` as an initialized, empty redb database, durable name and all.
/// `dir` exists and is locked by the caller.
pub(crate) fn create_database(fs: &dyn Fs, dir: &Path, config: &RedbConfig) -> Result<(), KvError> {
    let creating = dir.join(CREATING_FILE);
    // A file left by an earlier create that was cut short holds no write: start it afresh.
    let file = fs
        .create_or_truncate(&creating)
        .map_err(|e| KvError::from_fs(format!("creating {}", creating.display()), e))?;
    let backend = FaultfsBackend::new(file, &creating);
    let latch = backend.latch();
    let classifier = Classifier {
        file: &creating,
        latch: &latch,
    };
    let db = redb::Builder::new()
        .set_cache_size(config.cache_size_bytes)
        .create_with_backend(backend)
        .map_err(|e| classifier.classify("initializing the database", e))?;
    // redb's clean shutdown fsyncs the file: after it, every byte the rename publishes is
    // durable, so no cut after the rename can leave a half-made database under the name.
    db.close()
        .map_err(|e| classifier.classify("closing the new database", e))?;
    let data = dir.join(DATA_FILE);
    fs.rename(&creating, &data).map_err(|e| {
        KvError::from_fs(
            format!("renaming {} to {}", creating.display(), data.display()),
            e,
        )
    })?;
    if config.skip_dir_sync {
        return Ok(());
    }
    // Makes the rename durable. Without it a power cut after the first acknowledged synced
    // write could take the name `data.redb` away, and every write with it.
    fs.sync_dir(dir)
        .map_err(|e| KvError::from_fs(format!("syncing directory {}", dir.display()), e))
}
