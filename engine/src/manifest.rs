//! The MANIFEST: an append-only log of JSON records in [`crate::log_frame`] frames.
//!
//! The first record is always a snapshot (the options and the whole [`VersionState`]); every
//! later record is a [`VersionEdit`]. A MANIFEST is synced after every record, so at most its
//! last record can be torn by a crash, and recovery cuts such a tail away.

use std::path::{Path, PathBuf};

use faultfs::{File, Fs};
use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::filename;
use crate::log_frame::{self, LogEnd};
use crate::options::Options;
use crate::version::{VersionEdit, VersionState};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum ManifestRecord {
    Snapshot {
        options: Options,
        state: VersionState,
    },
    Edit {
        edit: VersionEdit,
    },
}

/// The writing side of [`ManifestRecord`]: the same JSON, but borrowing the state it encodes so
/// a snapshot or edit is never cloned just to be written.
#[derive(Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum RecordRef<'a> {
    Snapshot {
        options: &'a Options,
        state: &'a VersionState,
    },
    Edit {
        edit: &'a VersionEdit,
    },
}

/// How [`replay`] reads a record: the same JSON as [`ManifestRecord`], but as one flat struct,
/// because serde reads an internally tagged enum by first copying the whole record into an
/// untyped tree (a third of a recovery's MANIFEST work).
#[derive(Deserialize)]
struct RawRecord {
    record: RecordKind,
    #[serde(default)]
    options: Option<Options>,
    #[serde(default)]
    state: Option<VersionState>,
    #[serde(default)]
    edit: Option<VersionEdit>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RecordKind {
    Snapshot,
    Edit,
}

impl RawRecord {
    fn into_record(self) -> std::result::Result<ManifestRecord, &'static str> {
        match (self.record, self.options, self.state, self.edit) {
            (RecordKind::Snapshot, Some(options), Some(state), None) => {
                Ok(ManifestRecord::Snapshot { options, state })
            }
            (RecordKind::Edit, None, None, Some(edit)) => Ok(ManifestRecord::Edit { edit }),
            (RecordKind::Snapshot, ..) => {
                Err("bad MANIFEST record: a snapshot needs options and state and nothing else")
            }
            (RecordKind::Edit, ..) => {
                Err("bad MANIFEST record: an edit needs an edit and nothing else")
            }
        }
    }
}

/// Appends records to the live MANIFEST.
#[derive(Debug)]
pub struct ManifestWriter {
    pub number: u64,
    path: PathBuf,
    file: Box<dyn File>,
    len: u64,
    /// The frame being written, kept between appends so each edit reuses its allocation.
    frame: Vec<u8>,
}

impl ManifestWriter {
    /// Creates MANIFEST `number` holding a snapshot record (synced unless a defect says not to).
    /// The caller makes its name durable and points CURRENT at it.
    pub fn create(
        fs: &dyn Fs,
        dir: &Path,
        number: u64,
        options: &Options,
        state: &VersionState,
        sync: bool,
    ) -> Result<ManifestWriter> {
        let path = filename::manifest_path(dir, number);
        let file = fs.create(&path).ctx("creating", &path)?;
        let mut writer = ManifestWriter {
            number,
            path,
            file,
            len: 0,
            // Room for the snapshot up front (an SST's JSON is about 200 bytes), so encoding it
            // does not grow the buffer step by step.
            frame: Vec::with_capacity(1024 + 256 * state.all().count()),
        };
        writer.append(&RecordRef::Snapshot { options, state }, sync)?;
        Ok(writer)
    }

    /// Appends an edit record; with `sync`, it is durable on return.
    pub fn append_edit(&mut self, edit: &VersionEdit, sync: bool) -> Result<()> {
        self.append(&RecordRef::Edit { edit }, sync)
    }

    fn append(&mut self, record: &RecordRef<'_>, sync: bool) -> Result<()> {
        // The JSON goes straight into the frame after room for its header.
        let frame = &mut self.frame;
        frame.clear();
        frame.resize(log_frame::HEADER_BYTES, 0);
        serde_json::to_writer(&mut *frame, record)
            .map_err(|e| Error::InvalidArgument(format!("encoding MANIFEST record: {e}")))?;
        // Every earlier record was synced before this one is written.
        log_frame::seal(frame, self.len);
        self.file
            .write_at(self.len, frame)
            .ctx("appending to", &self.path)?;
        self.len += frame.len() as u64;
        if sync {
            // Protects against losing an edit whose consequences (removed WALs and SSTs, files
            // the next edit builds on) happen right after this returns.
            self.file.sync().ctx("syncing", &self.path)?;
            // The commit frame reuses the record's buffer (cleared at the next append).
            let commit = &mut self.frame;
            commit.clear();
            log_frame::encode_commit(self.len, commit);
            self.file
                .write_at(self.len, commit)
                .ctx("appending commit frame to", &self.path)?;
            self.len += commit.len() as u64;
            // Protects the edit against damage to it being taken for a torn tail and cut
            // silently: the durable commit frame after it proves it was durable.
            self.file
                .sync()
                .ctx("syncing commit frame of", &self.path)?;
        }
        Ok(())
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What a MANIFEST holds.
#[derive(Debug)]
pub struct Replayed {
    pub options: Options,
    pub state: VersionState,
    pub end: LogEnd,
}

/// Replays MANIFEST `number`: its snapshot, then each edit through [`VersionState::apply`].
pub fn replay(
    fs: &dyn Fs,
    dir: &Path,
    number: u64,
    leniency: log_frame::Leniency,
) -> Result<Replayed> {
    let path = filename::manifest_path(dir, number);
    if !fs.exists(&path).ctx("looking for", &path)? {
        return Err(Error::MissingFile {
            file: path,
            reason: "CURRENT names this MANIFEST but it does not exist".into(),
        });
    }
    let file = fs.open(&path).ctx("opening", &path)?;
    let len = file.len().ctx("reading length of", &path)?;
    let mut bytes = vec![0u8; len as usize];
    file.read_exact_at(0, &mut bytes).ctx("reading", &path)?;
    let (frames, end) = log_frame::read_log(&bytes, leniency)
        .map_err(|d| Error::corruption(&path, d.offset, d.reason))?;
    let mut current: Option<(Options, VersionState)> = None;
    for frame in frames {
        let offset = frame.payload.start as u64 - log_frame::HEADER_BYTES as u64;
        let record = serde_json::from_slice::<RawRecord>(&bytes[frame.payload])
            .map_err(|e| Error::corruption(&path, offset, format!("bad MANIFEST record: {e}")))?
            .into_record()
            .map_err(|reason| Error::corruption(&path, offset, reason))?;
        current = Some(match (current, record) {
            (None, ManifestRecord::Snapshot { options, state }) => (options, state),
            (None, ManifestRecord::Edit { .. }) => {
                return Err(Error::corruption(
                    &path,
                    offset,
                    "MANIFEST does not start with a snapshot",
                ));
            }
            (Some(_), ManifestRecord::Snapshot { .. }) => {
                return Err(Error::corruption(
                    &path,
                    offset,
                    "second snapshot in one MANIFEST",
                ));
            }
            (Some((options, mut state)), ManifestRecord::Edit { edit }) => {
                state
                    .apply_in_place(&edit)
                    .map_err(|reason| Error::corruption(&path, offset, reason))?;
                (options, state)
            }
        });
    }
    let (options, state) = current.ok_or_else(|| {
        Error::corruption(
            &path,
            0,
            "MANIFEST holds no snapshot record (CURRENT names it only after it is synced)",
        )
    })?;
    Ok(Replayed {
        options,
        state,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_single_byte_flip_of_a_manifest_frame_is_detected() {
        let record = ManifestRecord::Edit {
            edit: VersionEdit {
                log_number: Some(3),
                ..Default::default()
            },
        };
        let json = serde_json::to_vec(&record).unwrap();
        let mut frame = Vec::new();
        log_frame::encode(&json, 0, &mut frame);
        for i in 0..frame.len() {
            let mut bad = frame.clone();
            bad[i] ^= 0x01;
            assert!(log_frame::decode_at(&bad, 0).is_err(), "flip at {i}");
        }
    }

    fn read_back(json: &[u8]) -> ManifestRecord {
        serde_json::from_slice::<RawRecord>(json)
            .unwrap()
            .into_record()
            .unwrap()
    }

    #[test]
    fn written_records_read_back_the_same_way_serde_reads_them() {
        let state = VersionState::empty(3);
        let options = Options::default();
        let edit = VersionEdit {
            log_number: Some(3),
            ..Default::default()
        };
        for (written, expected) in [
            (
                serde_json::to_vec(&RecordRef::Snapshot {
                    options: &options,
                    state: &state,
                })
                .unwrap(),
                ManifestRecord::Snapshot {
                    options: options.clone(),
                    state: state.clone(),
                },
            ),
            (
                serde_json::to_vec(&RecordRef::Edit { edit: &edit }).unwrap(),
                ManifestRecord::Edit { edit: edit.clone() },
            ),
        ] {
            assert_eq!(serde_json::to_vec(&expected).unwrap(), written);
            assert_eq!(read_back(&written), expected);
        }
    }

    #[test]
    fn a_record_with_the_wrong_fields_for_its_kind_is_refused() {
        for json in [
            r#"{"record":"edit"}"#,
            r#"{"record":"snapshot","edit":{}}"#,
            r#"{"record":"edit","edit":{},"state":{"levels":[],"log_number":0,"next_file_number":1}}"#,
        ] {
            let raw = serde_json::from_str::<RawRecord>(json).unwrap();
            assert!(raw.into_record().is_err(), "{json}");
        }
        assert!(serde_json::from_str::<RawRecord>(r#"{"record":"other"}"#).is_err());
    }

    #[test]
    fn snapshot_record_round_trips_with_options() {
        let record = ManifestRecord::Snapshot {
            options: Options::default(),
            state: VersionState::empty(3),
        };
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(
            serde_json::from_str::<ManifestRecord>(&json).unwrap(),
            record
        );
    }
}
