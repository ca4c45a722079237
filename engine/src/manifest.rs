//! The MANIFEST: an append-only log of JSON records in [`crate::log_frame`] frames.
//!
//! The first record is always a snapshot (the options and the whole [`VersionState`]); every
//! later record is a [`VersionEdit`]. A MANIFEST is synced after every record, so at most its
//! last record can be torn by a crash, and recovery cuts such a tail away.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use faultfs::{File, Fs};
use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::filename;
use crate::log_frame::{self, LogEnd};
use crate::options::Options;
use crate::version::{SstMeta, VersionEdit, VersionState, push_u64};

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

/// The JSON serde writes for a [`ManifestRecord`], borrowing what it encodes: what
/// [`encode_snapshot`] and [`ManifestWriter::append_edit`] must write byte for byte.
#[cfg(test)]
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

thread_local! {
    /// The options the last snapshot on this thread carried, with the opening of a snapshot
    /// record up to its state: `{"record":"snapshot","options":{...},"state":`.
    static SNAPSHOT_OPENING: RefCell<Option<(Options, Vec<u8>)>> = const { RefCell::new(None) };
}

fn encoding_error(e: serde_json::Error) -> Error {
    Error::InvalidArgument(format!("encoding MANIFEST record: {e}"))
}

/// Encodes a snapshot record into `frame` after room for its header: exactly the bytes of
/// `RecordRef::Snapshot`, but the options are the same in every snapshot a database writes, so
/// their JSON (with the record's opening around it) is encoded once per thread and copied
/// after that; so is each SST's (see [`encode_state`]).
fn encode_snapshot(frame: &mut Vec<u8>, options: &Options, state: &VersionState) -> Result<()> {
    frame.clear();
    frame.resize(log_frame::HEADER_BYTES, 0);
    SNAPSHOT_OPENING.with_borrow_mut(|cached| -> Result<()> {
        let opening = match cached {
            Some((o, opening)) if o == options => opening,
            _ => {
                let mut opening = Vec::with_capacity(512);
                opening.extend_from_slice(br#"{"record":"snapshot","options":"#);
                serde_json::to_writer(&mut opening, options).map_err(encoding_error)?;
                opening.extend_from_slice(br#","state":"#);
                &mut cached.insert((options.clone(), opening)).1
            }
        };
        frame.extend_from_slice(opening);
        Ok(())
    })?;
    encode_state(frame, state)?;
    frame.push(b'}');
    Ok(())
}

thread_local! {
    /// The JSON serde_json wrote for each SST of this thread's last snapshot and of the edits
    /// after it, by SST number, with the SST it encodes and whether the snapshot being written
    /// has used it: an SST is encoded once, when an edit adds it, and every snapshot that
    /// still holds it copies its bytes.
    static SST_JSON: RefCell<SstJson> = const { RefCell::new(BTreeMap::new()) };
}

/// SST number -> (the SST, its JSON, used by the snapshot being written).
type SstJson = BTreeMap<u64, (SstMeta, Vec<u8>, bool)>;

/// How many SSTs' JSON [`SST_JSON`] keeps at most (a few hundred bytes each).
const SST_JSON_MAX: usize = 4096;

/// Appends `sst`'s JSON to `frame` (from [`SST_JSON`] when it holds this very SST, else
/// encoded and kept there), marking it used when `used`.
fn encode_sst(frame: &mut Vec<u8>, sst: &SstMeta, json: &mut SstJson, used: bool) -> Result<()> {
    match json.get_mut(&sst.number) {
        Some((known, bytes, mark)) if known == sst => {
            frame.extend_from_slice(bytes);
            *mark |= used;
        }
        _ => {
            let start = frame.len();
            sst.write_json(frame);
            // Only a snapshot drops the SSTs it no longer holds; a thread that adds SSTs in
            // edits but never writes a snapshot (a background thread, say) would keep them all,
            // so past a bound the cache starts over: a miss only costs an encoding.
            if json.len() >= SST_JSON_MAX {
                json.clear();
            }
            json.insert(sst.number, (sst.clone(), frame[start..].to_vec(), used));
        }
    }
    Ok(())
}

/// Appends the JSON serde_json writes for `state`, with each SST's from [`SST_JSON`], which is
/// left holding exactly the SSTs of this state.
fn encode_state(frame: &mut Vec<u8>, state: &VersionState) -> Result<()> {
    SST_JSON.with_borrow_mut(|json| -> Result<()> {
        frame.extend_from_slice(br#"{"levels":["#);
        for (i, level) in state.levels.iter().enumerate() {
            if i > 0 {
                frame.push(b',');
            }
            frame.push(b'[');
            for (j, sst) in level.iter().enumerate() {
                if j > 0 {
                    frame.push(b',');
                }
                encode_sst(frame, sst, json, true)?;
            }
            frame.push(b']');
        }
        // SSTs this snapshot does not hold are gone for good.
        json.retain(|_, (_, _, used)| std::mem::take(used));
        Ok(())
    })?;
    frame.extend_from_slice(br#"],"log_number":"#);
    push_u64(frame, state.log_number);
    frame.extend_from_slice(br#","next_file_number":"#);
    push_u64(frame, state.next_file_number);
    frame.extend_from_slice(br#","last_sequence":"#);
    push_u64(frame, state.last_sequence);
    frame.push(b'}');
    Ok(())
}

/// Encodes an edit record into `frame` after room for its header: the bytes of
/// `RecordRef::Edit`, with the record's fixed opening and the edit's field names written
/// directly rather than through serde's internally tagged enum, and each added SST's JSON
/// kept in [`SST_JSON`] for the snapshots that will hold it.
fn encode_edit(frame: &mut Vec<u8>, edit: &VersionEdit) -> Result<()> {
    frame.clear();
    frame.resize(log_frame::HEADER_BYTES, 0);
    frame.extend_from_slice(br#"{"record":"edit","edit":{"#);
    // The fields serde writes, in order, each only when set (`skip_serializing_if`).
    let mut first = true;
    let mut field = |frame: &mut Vec<u8>, name: &[u8]| {
        if !std::mem::take(&mut first) {
            frame.push(b',');
        }
        frame.push(b'"');
        frame.extend_from_slice(name);
        frame.extend_from_slice(b"\":");
    };
    if let Some(n) = edit.log_number {
        field(frame, b"log_number");
        push_u64(frame, n);
    }
    if let Some(n) = edit.next_file_number {
        field(frame, b"next_file_number");
        push_u64(frame, n);
    }
    if let Some(n) = edit.last_sequence {
        field(frame, b"last_sequence");
        push_u64(frame, n);
    }
    if !edit.added.is_empty() {
        field(frame, b"added");
        frame.push(b'[');
        SST_JSON.with_borrow_mut(|json| -> Result<()> {
            for (j, sst) in edit.added.iter().enumerate() {
                if j > 0 {
                    frame.push(b',');
                }
                encode_sst(frame, sst, json, false)?;
            }
            Ok(())
        })?;
        frame.push(b']');
    }
    if !edit.removed.is_empty() {
        field(frame, b"removed");
        frame.push(b'[');
        for (j, removed) in edit.removed.iter().enumerate() {
            if j > 0 {
                frame.push(b',');
            }
            removed.write_json(frame);
        }
        frame.push(b']');
    }
    frame.extend_from_slice(b"}}");
    Ok(())
}

/// Parses one record's JSON. A payload that is UTF-8 as a whole (every one we write) is parsed
/// as text, so serde_json does not check each string in it for UTF-8 again; any other payload
/// goes the way it always went, for the same outcome and error.
fn parse_record(payload: &[u8]) -> serde_json::Result<RawRecord> {
    match std::str::from_utf8(payload) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(payload),
    }
}

/// Reads one record in exactly the form [`encode_snapshot`] and [`encode_edit`] write (serde's
/// compact JSON: fields in declaration order, no whitespace, keys as hex digits, no escapes),
/// without serde's generic machinery, which was two thirds of a recovery's MANIFEST work.
/// Everything it accepts, serde reads as the same record; anything else (a damaged record, a
/// different but valid spelling) gets `None`, and [`replay`] hands it to serde for the very
/// outcome and error it always had.
fn parse_written(payload: &[u8]) -> Option<ManifestRecord> {
    let mut r = Reader {
        bytes: payload,
        pos: 0,
    };
    let record = if r.eat(br#"{"record":"snapshot","options":"#) {
        let options = r.options()?;
        r.expect(br#","state":"#)?;
        let state = r.state()?;
        ManifestRecord::Snapshot { options, state }
    } else {
        r.expect(br#"{"record":"edit","edit":"#)?;
        ManifestRecord::Edit { edit: r.edit()? }
    };
    r.expect(b"}")?;
    (r.pos == payload.len()).then_some(record)
}

/// The cursor of [`parse_written`].
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    /// Steps over `lit` if it comes next.
    fn eat(&mut self, lit: &[u8]) -> bool {
        let found = self.bytes[self.pos..].starts_with(lit);
        if found {
            self.pos += lit.len();
        }
        found
    }

    fn expect(&mut self, lit: &[u8]) -> Option<()> {
        self.eat(lit).then_some(())
    }

    /// A number as serde_json writes a `u64`: `0`, or digits not starting with `0`. (A `0`
    /// followed by more digits, a sign, a fraction or an exponent leaves bytes that no literal
    /// after a number matches.)
    fn u64(&mut self) -> Option<u64> {
        let mut n = 0u64;
        let mut digits = 0;
        for &b in &self.bytes[self.pos..] {
            let d = b.wrapping_sub(b'0');
            // A leading `0` is the whole number.
            if d > 9 || (digits == 1 && n == 0) {
                break;
            }
            n = n.checked_mul(10)?.checked_add(u64::from(d))?;
            digits += 1;
        }
        if digits == 0 {
            return None;
        }
        self.pos += digits;
        Some(n)
    }

    fn usize(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }

    /// A key as `hex_bytes` writes it: a string of an even number of hex digits.
    fn key(&mut self) -> Option<Vec<u8>> {
        self.expect(b"\"")?;
        let rest = &self.bytes[self.pos..];
        let len = rest.iter().position(|&b| b == b'"')?;
        if !len.is_multiple_of(2) {
            return None;
        }
        let key = crate::version::hex_bytes::decode(&rest[..len])?;
        self.pos += len + 1;
        Some(key)
    }

    /// `[item,item,...]`.
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        self.expect(b"[")?;
        let mut items = Vec::new();
        if self.eat(b"]") {
            return Some(items);
        }
        loop {
            items.push(item(self)?);
            if self.eat(b"]") {
                return Some(items);
            }
            self.expect(b",")?;
        }
    }

    fn options(&mut self) -> Option<Options> {
        use crate::options::{Background, CompactionStyle};
        self.expect(br#"{"memtable_bytes":"#)?;
        let memtable_bytes = self.usize()?;
        self.expect(br#","max_immutable_memtables":"#)?;
        let max_immutable_memtables = self.usize()?;
        self.expect(br#","block_bytes":"#)?;
        let block_bytes = self.usize()?;
        self.expect(br#","sst_target_bytes":"#)?;
        let sst_target_bytes = self.u64()?;
        self.expect(br#","bloom_bits_per_key":"#)?;
        let bloom_bits_per_key = u32::try_from(self.u64()?).ok()?;
        self.expect(br#","block_cache_bytes":"#)?;
        let block_cache_bytes = self.usize()?;
        self.expect(br#","wal":"#)?;
        let wal = if self.eat(b"true") {
            true
        } else {
            self.expect(b"false")?;
            false
        };
        self.expect(br#","compaction":"#)?;
        let compaction = if self.eat(br#""leveled""#) {
            CompactionStyle::Leveled
        } else {
            self.expect(br#""tiered""#)?;
            CompactionStyle::Tiered
        };
        self.expect(br#","l0_compaction_trigger":"#)?;
        let l0_compaction_trigger = self.usize()?;
        self.expect(br#","level_size_ratio":"#)?;
        let level_size_ratio = self.u64()?;
        self.expect(br#","level1_bytes":"#)?;
        let level1_bytes = self.u64()?;
        self.expect(br#","levels":"#)?;
        let levels = self.usize()?;
        self.expect(br#","manifest_rollover_bytes":"#)?;
        let manifest_rollover_bytes = self.u64()?;
        self.expect(br#","background":"#)?;
        let background = if self.eat(br#""threads""#) {
            Background::Threads
        } else {
            self.expect(br#""inline""#)?;
            Background::Inline
        };
        self.expect(b"}")?;
        Some(Options {
            memtable_bytes,
            max_immutable_memtables,
            block_bytes,
            sst_target_bytes,
            bloom_bits_per_key,
            block_cache_bytes,
            wal,
            compaction,
            l0_compaction_trigger,
            level_size_ratio,
            level1_bytes,
            levels,
            manifest_rollover_bytes,
            background,
            // `#[serde(skip)]`: serde fills it in with its default too.
            #[cfg(feature = "bugs")]
            bugs: Default::default(),
        })
    }

    fn sst(&mut self) -> Option<SstMeta> {
        self.expect(br#"{"number":"#)?;
        let number = self.u64()?;
        self.expect(br#","level":"#)?;
        let level = self.usize()?;
        self.expect(br#","size":"#)?;
        let size = self.u64()?;
        self.expect(br#","entries":"#)?;
        let entries = self.u64()?;
        self.expect(br#","smallest":"#)?;
        let smallest = self.key()?;
        self.expect(br#","largest":"#)?;
        let largest = self.key()?;
        self.expect(br#","epoch":"#)?;
        let epoch = self.u64()?;
        self.expect(b"}")?;
        Some(SstMeta {
            number,
            level,
            size,
            entries,
            smallest,
            largest,
            epoch,
        })
    }

    fn state(&mut self) -> Option<VersionState> {
        self.expect(br#"{"levels":"#)?;
        let levels = self.list(|r| r.list(Reader::sst))?;
        self.expect(br#","log_number":"#)?;
        let log_number = self.u64()?;
        self.expect(br#","next_file_number":"#)?;
        let next_file_number = self.u64()?;
        self.expect(br#","last_sequence":"#)?;
        let last_sequence = self.u64()?;
        self.expect(b"}")?;
        Some(VersionState {
            levels,
            log_number,
            next_file_number,
            last_sequence,
        })
    }

    /// Steps over the name of an edit's field if it comes next, after a comma unless it is the
    /// edit's `first` field.
    fn field(&mut self, first: &mut bool, name: &[u8]) -> bool {
        let start = self.pos;
        if (*first || self.eat(b",")) && self.eat(name) {
            *first = false;
            return true;
        }
        self.pos = start;
        false
    }

    /// An edit: the fields it sets, in declaration order.
    fn edit(&mut self) -> Option<VersionEdit> {
        self.expect(b"{")?;
        let mut edit = VersionEdit::default();
        let first = &mut true;
        if self.field(first, br#""log_number":"#) {
            edit.log_number = Some(self.u64()?);
        }
        if self.field(first, br#""next_file_number":"#) {
            edit.next_file_number = Some(self.u64()?);
        }
        if self.field(first, br#""last_sequence":"#) {
            edit.last_sequence = Some(self.u64()?);
        }
        if self.field(first, br#""added":"#) {
            edit.added = self.list(Reader::sst)?;
        }
        if self.field(first, br#""removed":"#) {
            edit.removed = self.list(|r| {
                r.expect(br#"{"level":"#)?;
                let level = r.usize()?;
                r.expect(br#","number":"#)?;
                let number = r.u64()?;
                r.expect(b"}")?;
                Some(crate::version::RemovedSst { level, number })
            })?;
        }
        self.expect(b"}")?;
        Some(edit)
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
        encode_snapshot(&mut writer.frame, options, state)?;
        writer.write_frame(sync)?;
        Ok(writer)
    }

    /// Appends an edit record; with `sync`, it is durable on return.
    pub fn append_edit(&mut self, edit: &VersionEdit, sync: bool) -> Result<()> {
        encode_edit(&mut self.frame, edit)?;
        self.write_frame(sync)
    }

    /// Seals the record encoded in `frame` after its header room and writes it (and, with
    /// `sync`, its commit frame).
    fn write_frame(&mut self, sync: bool) -> Result<()> {
        let frame = &mut self.frame;
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
        let payload = &bytes[frame.payload];
        let record = match parse_written(payload) {
            Some(record) => record,
            None => parse_record(payload)
                .map_err(|e| Error::corruption(&path, offset, format!("bad MANIFEST record: {e}")))?
                .into_record()
                .map_err(|reason| Error::corruption(&path, offset, reason))?,
        };
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
                    .apply_owned(edit)
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

    /// A thread that only appends edits never prunes the SST cache through a snapshot; it stays
    /// bounded, and what is written is still serde's encoding.
    #[test]
    fn the_sst_json_cache_of_a_thread_writing_only_edits_stays_bounded() {
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut frame = Vec::new();
                for number in 0..(SST_JSON_MAX as u64 + 10) {
                    let edit = VersionEdit {
                        added: vec![SstMeta {
                            number,
                            level: 0,
                            size: 10,
                            entries: 1,
                            smallest: number.to_be_bytes().to_vec(),
                            largest: number.to_be_bytes().to_vec(),
                            epoch: number,
                        }],
                        ..Default::default()
                    };
                    encode_edit(&mut frame, &edit).unwrap();
                    let serde = serde_json::to_vec(&RecordRef::Edit { edit: &edit }).unwrap();
                    assert_eq!(frame[log_frame::HEADER_BYTES..], serde[..]);
                    assert!(SST_JSON.with_borrow(|json| json.len()) <= SST_JSON_MAX);
                }
            });
        });
    }

    #[test]
    fn written_records_read_back_the_same_way_serde_reads_them() {
        let mut state = VersionState::empty(3);
        state.levels[1].push(SstMeta {
            number: 4,
            level: 1,
            size: 100,
            entries: 3,
            smallest: b"\0a".to_vec(),
            largest: b"z\xff".to_vec(),
            epoch: 2,
        });
        state.last_sequence = 9;
        let other = Options {
            wal: false,
            ..Options::default()
        };
        let edit = VersionEdit {
            log_number: Some(3),
            added: state.levels[1].clone(),
            ..Default::default()
        };
        let mut frame = Vec::new();
        let body = |frame: &Vec<u8>| frame[log_frame::HEADER_BYTES..].to_vec();
        // Twice each, and switching back and forth, so a cached opening is checked too.
        for options in [Options::default(), Options::default(), other.clone(), other] {
            let mut moved = state.clone();
            let mut sst = moved.levels[1].remove(0);
            sst.level = 2;
            moved.levels[2].push(sst.clone());
            moved.levels[0].push(SstMeta {
                number: 6,
                level: 0,
                ..sst
            });
            moved.log_number = 3;
            for state in [VersionState::empty(2), state.clone(), moved, state.clone()] {
                encode_snapshot(&mut frame, &options, &state).unwrap();
                let expected = ManifestRecord::Snapshot {
                    options: options.clone(),
                    state: state.clone(),
                };
                let serde = serde_json::to_vec(&RecordRef::Snapshot {
                    options: &options,
                    state: &state,
                })
                .unwrap();
                assert_eq!(body(&frame), serde);
                assert_eq!(serde_json::to_vec(&expected).unwrap(), serde);
                assert_eq!(read_back(&body(&frame)), expected);
            }
        }
        let mut moved = state.levels[1][0].clone();
        moved.level = 2;
        let full = VersionEdit {
            log_number: Some(u64::MAX),
            next_file_number: Some(12),
            last_sequence: Some(0),
            added: vec![
                moved.clone(),
                SstMeta {
                    number: 11,
                    ..moved.clone()
                },
            ],
            removed: vec![
                crate::version::RemovedSst {
                    level: 1,
                    number: 4,
                },
                crate::version::RemovedSst {
                    level: 0,
                    number: 1_000_000_007,
                },
            ],
        };
        let removed_only = VersionEdit {
            removed: full.removed.clone(),
            ..Default::default()
        };
        for edit in [VersionEdit::default(), edit, full, removed_only] {
            encode_edit(&mut frame, &edit).unwrap();
            let expected = ManifestRecord::Edit { edit: edit.clone() };
            let serde = serde_json::to_vec(&RecordRef::Edit { edit: &edit }).unwrap();
            assert_eq!(body(&frame), serde);
            assert_eq!(serde_json::to_vec(&expected).unwrap(), serde);
            assert_eq!(read_back(&body(&frame)), expected);
        }
    }

    /// What serde makes of `json`, and whether [`parse_written`] reads it too; when it does, it
    /// must read the same record serde does.
    fn fast_agrees(json: &[u8]) -> bool {
        let serde = parse_record(json)
            .map_err(|e| e.to_string())
            .and_then(|raw| raw.into_record().map_err(str::to_string));
        match parse_written(json) {
            Some(fast) => {
                assert_eq!(
                    serde.as_ref(),
                    Ok(&fast),
                    "{}",
                    String::from_utf8_lossy(json)
                );
                true
            }
            None => false,
        }
    }

    /// Records as the encoders write them, with options, keys and numbers at their edges.
    fn written_records() -> Vec<Vec<u8>> {
        let sst = |number: u64, level: usize, smallest: &[u8], largest: &[u8]| SstMeta {
            number,
            level,
            size: number * 1000,
            entries: number + 7,
            smallest: smallest.to_vec(),
            largest: largest.to_vec(),
            epoch: number / 2,
        };
        let mut state = VersionState::empty(4);
        state.levels[0].push(sst(9, 0, b"", b"\xff\x00"));
        state.levels[0].push(sst(0, 0, b"a", b"a"));
        state.levels[2].push(sst(u64::MAX, 2, b"\x00\x01\xfe", b"zz\x80"));
        state.log_number = 10;
        state.next_file_number = u64::MAX;
        state.last_sequence = 123_456_789;
        let tuned = Options {
            memtable_bytes: 1,
            max_immutable_memtables: usize::MAX,
            bloom_bits_per_key: u32::MAX,
            wal: false,
            compaction: crate::options::CompactionStyle::Tiered,
            background: crate::options::Background::Inline,
            levels: 32,
            ..Options::default()
        };
        let mut records = Vec::new();
        let mut frame = Vec::new();
        std::thread::scope(|s| {
            s.spawn(|| {
                for options in [Options::default(), tuned] {
                    for state in [
                        VersionState::empty(1),
                        VersionState::default(),
                        state.clone(),
                    ] {
                        encode_snapshot(&mut frame, &options, &state).unwrap();
                        records.push(frame[log_frame::HEADER_BYTES..].to_vec());
                    }
                }
                let full = VersionEdit {
                    log_number: Some(0),
                    next_file_number: Some(u64::MAX),
                    last_sequence: Some(17),
                    added: state.all().cloned().collect(),
                    removed: vec![
                        crate::version::RemovedSst {
                            level: 0,
                            number: 3,
                        },
                        crate::version::RemovedSst {
                            level: 6,
                            number: 0,
                        },
                    ],
                };
                let mut edits = vec![VersionEdit::default(), full.clone()];
                for drop in 0..5 {
                    let mut edit = full.clone();
                    match drop {
                        0 => edit.log_number = None,
                        1 => edit.next_file_number = None,
                        2 => edit.last_sequence = None,
                        3 => edit.added.clear(),
                        _ => edit.removed.clear(),
                    }
                    edits.push(edit);
                }
                for edit in edits {
                    encode_edit(&mut frame, &edit).unwrap();
                    records.push(frame[log_frame::HEADER_BYTES..].to_vec());
                }
            });
        });
        records
    }

    #[test]
    fn every_record_we_write_is_read_without_serde_as_serde_reads_it() {
        for record in written_records() {
            assert!(fast_agrees(&record), "{}", String::from_utf8_lossy(&record));
        }
    }

    /// Other spellings serde reads (or refuses) go to serde; none is read differently.
    #[test]
    fn records_spelled_otherwise_are_left_to_serde() {
        let sst = r#"{"number":1,"level":0,"size":2,"entries":3,"smallest":"61","largest":"62","epoch":4}"#;
        let edit = |body: &str| format!(r#"{{"record":"edit","edit":{{{body}}}}}"#);
        let accepted = [
            edit(""),
            edit(r#""log_number":0"#),
            edit(&format!(r#""added":[{sst}]"#)),
            edit(&format!(r#""added":[{}]"#, sst.replace("62", "6A"))),
            edit(r#""added":[]"#),
        ];
        for json in accepted {
            assert!(fast_agrees(json.as_bytes()), "{json}");
        }
        let refused = [
            edit(r#""log_number":01"#),
            edit(r#""log_number":-1"#),
            edit(r#""log_number":1.0"#),
            edit(r#""log_number":1e2"#),
            edit(r#""log_number":18446744073709551616"#),
            edit(r#""log_number":null"#),
            edit(r#""log_number": 1"#),
            edit(r#""next_file_number":1,"log_number":1"#),
            edit(r#""log_number":1,"log_number":1"#),
            edit(r#""log_number":1,"other":1"#),
            edit(r#""removed":[{"number":1,"level":0}]"#),
            edit(r#""removed":[{"level":0,"number":1},]"#),
            edit(&format!(r#""added":[{}]"#, sst.replace("62", "6"))),
            edit(&format!(r#""added":[{}]"#, sst.replace("62", "6g"))),
            edit(&format!(
                r#""added":[{}]"#,
                sst.replace("62", r"\u0036\u0032")
            )),
            edit(&format!(r#""added":[{}]"#, sst.replace(r#""62""#, "98"))),
            format!("{} ", edit("")),
            format!(" {}", edit("")),
            format!("{}}}", edit("")),
            edit("").replace(r#""edit":{"#, r#""edit" :{"#),
            r#"{"edit":{},"record":"edit"}"#.to_string(),
            r#"{"record":"edit"}"#.to_string(),
            r#"{"record":"snapshot","edit":{}}"#.to_string(),
        ];
        for json in refused {
            assert!(!fast_agrees(json.as_bytes()), "{json}");
        }
    }

    /// Damaged copies of written records: whatever the fast reader takes, serde reads the same.
    #[test]
    fn damaged_records_are_never_read_differently_from_serde() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        const BYTES: &[u8] = b"0123456789abcdefABCDEF\"\\{}[],: -.eEnulltrx";
        let mut accepted = 0;
        for record in written_records() {
            for _ in 0..4000 {
                let mut bad = record.clone();
                for _ in 0..rng.random_range(1..3) {
                    let at = rng.random_range(0..bad.len());
                    let byte = BYTES[rng.random_range(0..BYTES.len())];
                    match rng.random_range(0..4) {
                        0 => bad[at] = byte,
                        1 => bad.insert(at, byte),
                        2 => {
                            bad.remove(at);
                        }
                        _ => bad.truncate(at),
                    }
                    if bad.is_empty() {
                        break;
                    }
                }
                accepted += usize::from(fast_agrees(&bad));
            }
        }
        assert!(accepted > 1000, "{accepted}");
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
