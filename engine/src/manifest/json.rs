//! The MANIFEST's records as JSON, written without going through serde for the parts that
//! repeat: every snapshot re-encodes every live SST, and serde_json spends most of that on
//! escaping each constant field name and on its generic plumbing.
//!
//! The output is byte for byte what `serde_json::to_vec` makes of the derived `Serialize` of
//! [`super::ManifestRecord`] (compact, fields in declaration order, `None` and empty lists of a
//! [`VersionEdit`] left out, keys as lowercase hex strings); the tests hold the two side by side.
//! The options are still encoded by serde_json (they change shape as fields are added), once
//! per distinct [`Options`] value on a thread.
//!
//! [`read_record`] is the matching fast path for reading: it accepts only the exact form this
//! writer makes and gives up (`None`) on anything else, for serde_json to read (or refuse) as
//! before; whatever it accepts, serde_json reads to the same record (a proptest holds the two
//! side by side, on written records and on damaged ones).

use std::cell::RefCell;

use super::ManifestRecord;
use crate::options::Options;
use crate::version::{RemovedSst, SstMeta, VersionEdit, VersionState};

/// Appends `{"record":"edit","edit":{...}}`.
pub(super) fn write_edit(out: &mut Vec<u8>, edit: &VersionEdit) {
    out.reserve(64 + 160 * edit.added.len() + 32 * edit.removed.len());
    out.extend_from_slice(br#"{"record":"edit","edit":{"#);
    let mut fields = Fields::default();
    if let Some(n) = edit.log_number {
        fields.key(out, b"log_number");
        number(out, n);
    }
    if let Some(n) = edit.next_file_number {
        fields.key(out, b"next_file_number");
        number(out, n);
    }
    if let Some(n) = edit.last_sequence {
        fields.key(out, b"last_sequence");
        number(out, n);
    }
    if !edit.added.is_empty() {
        fields.key(out, b"added");
        metas(out, &edit.added);
    }
    if !edit.removed.is_empty() {
        fields.key(out, b"removed");
        out.push(b'[');
        for (i, r) in edit.removed.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(br#"{"level":"#);
            number(out, r.level as u64);
            out.extend_from_slice(br#","number":"#);
            number(out, r.number);
            out.push(b'}');
        }
        out.push(b']');
    }
    out.extend_from_slice(b"}}");
}

/// Appends `{"record":"snapshot","options":{...},"state":{...}}`.
pub(super) fn write_snapshot(
    out: &mut Vec<u8>,
    options: &Options,
    state: &VersionState,
) -> serde_json::Result<()> {
    out.extend_from_slice(br#"{"record":"snapshot","options":"#);
    options_json(options, out)?;
    out.extend_from_slice(br#","state":{"levels":["#);
    for (i, level) in state.levels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        metas(out, level);
    }
    out.extend_from_slice(br#"],"log_number":"#);
    number(out, state.log_number);
    out.extend_from_slice(br#","next_file_number":"#);
    number(out, state.next_file_number);
    out.extend_from_slice(br#","last_sequence":"#);
    number(out, state.last_sequence);
    out.extend_from_slice(b"}}");
    Ok(())
}

thread_local! {
    /// The last options encoded on this thread and their JSON: a process opens its databases
    /// with the same options again and again, and each open and MANIFEST rollover writes them.
    static OPTIONS_JSON: RefCell<Option<(Options, Vec<u8>)>> = const { RefCell::new(None) };
}

/// Appends serde_json's encoding of `options`, reusing the last one made on this thread when
/// the options are equal (equal options encode to equal bytes).
fn options_json(options: &Options, out: &mut Vec<u8>) -> serde_json::Result<()> {
    OPTIONS_JSON.with(|cell| {
        let mut cached = cell.borrow_mut();
        match &*cached {
            Some((cached_options, json)) if cached_options == options => {
                out.extend_from_slice(json);
            }
            _ => {
                let json = serde_json::to_vec(options)?;
                out.extend_from_slice(&json);
                *cached = Some((options.clone(), json));
            }
        }
        Ok(())
    })
}

/// Writes the commas between an object's fields.
#[derive(Default)]
struct Fields {
    any: bool,
}

impl Fields {
    fn key(&mut self, out: &mut Vec<u8>, name: &[u8]) {
        if self.any {
            out.push(b',');
        }
        self.any = true;
        out.push(b'"');
        out.extend_from_slice(name);
        out.extend_from_slice(b"\":");
    }
}

/// `[{...},{...}]` of [`SstMeta`]s.
fn metas(out: &mut Vec<u8>, metas: &[SstMeta]) {
    out.push(b'[');
    for (i, m) in metas.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.reserve(112 + 2 * (m.smallest.len() + m.largest.len()));
        out.extend_from_slice(br#"{"number":"#);
        number(out, m.number);
        out.extend_from_slice(br#","level":"#);
        number(out, m.level as u64);
        out.extend_from_slice(br#","size":"#);
        number(out, m.size);
        out.extend_from_slice(br#","entries":"#);
        number(out, m.entries);
        out.extend_from_slice(br#","smallest":""#);
        hex(out, &m.smallest);
        out.extend_from_slice(br#"","largest":""#);
        hex(out, &m.largest);
        out.extend_from_slice(br#"","epoch":"#);
        number(out, m.epoch);
        out.push(b'}');
    }
    out.push(b']');
}

/// A number in decimal, as serde_json writes integers.
fn number(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// A key as lowercase hex digits (what `version::hex_bytes` serializes; no escaping needed).
fn hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
}

/// Reads a record in exactly the form [`write_edit`] and [`write_snapshot`] make; `None` for
/// anything else (serde_json then reads it, or says what is wrong with it).
pub(super) fn read_record(json: &[u8]) -> Option<ManifestRecord> {
    let mut r = Reader { rest: json };
    let record = if r.eat(br#"{"record":"edit","edit":{"#) {
        let edit = r.edit_fields()?;
        r.expect(b"}")?;
        ManifestRecord::Edit { edit }
    } else {
        r.expect(br#"{"record":"snapshot","options":"#)?;
        let options = r.options()?;
        r.expect(br#","state":{"levels":["#)?;
        let mut levels = Vec::new();
        if !r.eat(b"]") {
            loop {
                levels.push(r.metas()?);
                if r.eat(b"]") {
                    break;
                }
                r.expect(b",")?;
            }
        }
        r.expect(br#","log_number":"#)?;
        let log_number = r.number()?;
        r.expect(br#","next_file_number":"#)?;
        let next_file_number = r.number()?;
        r.expect(br#","last_sequence":"#)?;
        let last_sequence = r.number()?;
        r.expect(b"}}")?;
        ManifestRecord::Snapshot {
            options,
            state: VersionState {
                levels,
                log_number,
                next_file_number,
                last_sequence,
            },
        }
    };
    r.rest.is_empty().then_some(record)
}

thread_local! {
    /// The last options JSON read on this thread and what it decoded to: every MANIFEST a
    /// process replays starts with the options it was opened with.
    static OPTIONS_READ: RefCell<Option<(Vec<u8>, Options)>> = const { RefCell::new(None) };
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl Reader<'_> {
    /// Consumes `literal` if the input continues with it.
    fn eat(&mut self, literal: &[u8]) -> bool {
        match self.rest.strip_prefix(literal) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, literal: &[u8]) -> Option<()> {
        self.eat(literal).then_some(())
    }

    /// A number as serde_json writes a u64: digits, no sign, no leading zero, no overflow.
    fn number(&mut self) -> Option<u64> {
        let len = self.rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let (digits, rest) = self.rest.split_at(len);
        if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
            return None;
        }
        let mut n = 0u64;
        for &d in digits {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        self.rest = rest;
        Some(n)
    }

    fn index(&mut self) -> Option<usize> {
        usize::try_from(self.number()?).ok()
    }

    /// `"..."` of lowercase hex digit pairs.
    fn hex(&mut self) -> Option<Vec<u8>> {
        self.expect(b"\"")?;
        let len = self.rest.iter().position(|&b| b == b'"')?;
        let (digits, rest) = self.rest.split_at(len);
        if digits.len() % 2 != 0 {
            return None;
        }
        let mut key = Vec::with_capacity(digits.len() / 2);
        for pair in digits.chunks_exact(2) {
            key.push(nibble(pair[0])? << 4 | nibble(pair[1])?);
        }
        self.rest = &rest[1..];
        Some(key)
    }

    /// The options object: read by serde_json (once per distinct JSON on a thread). It ends at
    /// its first `}`: the options hold no nested object, and if they ever do, the bytes after
    /// that `}` are not what [`read_record`] expects and it gives up.
    fn options(&mut self) -> Option<Options> {
        let end = self.rest.iter().position(|&b| b == b'}')? + 1;
        let (json, rest) = self.rest.split_at(end);
        let options = OPTIONS_READ.with(|cell| {
            let mut cached = cell.borrow_mut();
            match &*cached {
                Some((cached_json, options)) if cached_json.as_slice() == json => {
                    Some(options.clone())
                }
                _ => {
                    let options = serde_json::from_slice::<Options>(json).ok()?;
                    *cached = Some((json.to_vec(), options.clone()));
                    Some(options)
                }
            }
        })?;
        self.rest = rest;
        Some(options)
    }

    /// The fields of an edit after its `{`, through the closing `}`.
    fn edit_fields(&mut self) -> Option<VersionEdit> {
        let mut edit = VersionEdit::default();
        let mut any = false;
        // Each field is optional, in the order they are written.
        let mut key = |r: &mut Reader<'_>, name: &[u8]| -> bool {
            let before = r.rest;
            if any && !r.eat(b",") {
                return false;
            }
            if r.eat(b"\"") && r.eat(name) && r.eat(b"\":") {
                any = true;
                true
            } else {
                r.rest = before;
                false
            }
        };
        if key(self, b"log_number") {
            edit.log_number = Some(self.number()?);
        }
        if key(self, b"next_file_number") {
            edit.next_file_number = Some(self.number()?);
        }
        if key(self, b"last_sequence") {
            edit.last_sequence = Some(self.number()?);
        }
        if key(self, b"added") {
            edit.added = self.metas()?;
        }
        if key(self, b"removed") {
            self.expect(b"[")?;
            if !self.eat(b"]") {
                loop {
                    self.expect(br#"{"level":"#)?;
                    let level = self.index()?;
                    self.expect(br#","number":"#)?;
                    let number = self.number()?;
                    self.expect(b"}")?;
                    edit.removed.push(RemovedSst { level, number });
                    if self.eat(b"]") {
                        break;
                    }
                    self.expect(b",")?;
                }
            }
        }
        self.expect(b"}")?;
        Some(edit)
    }

    /// `[{...},{...}]` of [`SstMeta`]s.
    fn metas(&mut self) -> Option<Vec<SstMeta>> {
        self.expect(b"[")?;
        let mut metas = Vec::new();
        if self.eat(b"]") {
            return Some(metas);
        }
        loop {
            self.expect(br#"{"number":"#)?;
            let number = self.number()?;
            self.expect(br#","level":"#)?;
            let level = self.index()?;
            self.expect(br#","size":"#)?;
            let size = self.number()?;
            self.expect(br#","entries":"#)?;
            let entries = self.number()?;
            self.expect(br#","smallest":"#)?;
            let smallest = self.hex()?;
            self.expect(br#","largest":"#)?;
            let largest = self.hex()?;
            self.expect(br#","epoch":"#)?;
            let epoch = self.number()?;
            self.expect(b"}")?;
            metas.push(SstMeta {
                number,
                level,
                size,
                entries,
                smallest,
                largest,
                epoch,
            });
            if self.eat(b"]") {
                return Some(metas);
            }
            self.expect(b",")?;
        }
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::manifest::ManifestRecord;
    use crate::options::{Background, CompactionStyle};
    use crate::version::RemovedSst;

    fn meta() -> impl Strategy<Value = SstMeta> {
        (
            any::<u64>(),
            0usize..40,
            any::<u64>(),
            any::<u64>(),
            prop::collection::vec(any::<u8>(), 0..70),
            prop::collection::vec(any::<u8>(), 0..70),
            any::<u64>(),
        )
            .prop_map(
                |(number, level, size, entries, smallest, largest, epoch)| SstMeta {
                    number,
                    level,
                    size,
                    entries,
                    smallest,
                    largest,
                    epoch,
                },
            )
    }

    fn edit() -> impl Strategy<Value = VersionEdit> {
        (
            prop::option::of(any::<u64>()),
            prop::option::of(any::<u64>()),
            prop::option::of(any::<u64>()),
            prop::collection::vec(meta(), 0..4),
            prop::collection::vec(
                (0usize..40, any::<u64>()).prop_map(|(level, number)| RemovedSst { level, number }),
                0..4,
            ),
        )
            .prop_map(
                |(log_number, next_file_number, last_sequence, added, removed)| VersionEdit {
                    log_number,
                    next_file_number,
                    last_sequence,
                    added,
                    removed,
                },
            )
    }

    fn state() -> impl Strategy<Value = VersionState> {
        (
            prop::collection::vec(prop::collection::vec(meta(), 0..3), 0..8),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
        )
            .prop_map(|(levels, log_number, next_file_number, last_sequence)| {
                VersionState {
                    levels,
                    log_number,
                    next_file_number,
                    last_sequence,
                }
            })
    }

    fn options() -> impl Strategy<Value = Options> {
        (any::<u64>(), any::<bool>(), any::<bool>(), 2usize..32).prop_map(
            |(n, wal, tiered, levels)| Options {
                memtable_bytes: n as usize,
                sst_target_bytes: n / 3,
                wal,
                compaction: if tiered {
                    CompactionStyle::Tiered
                } else {
                    CompactionStyle::Leveled
                },
                background: if wal {
                    Background::Inline
                } else {
                    Background::Threads
                },
                levels,
                ..Options::default()
            },
        )
    }

    /// What serde_json reads `json` to, as [`super::super::replay`] reads it.
    fn serde_read(json: &[u8]) -> Option<ManifestRecord> {
        serde_json::from_slice::<super::super::RawRecord>(json)
            .ok()?
            .into_record()
            .ok()
    }

    fn record() -> impl Strategy<Value = ManifestRecord> {
        prop_oneof![
            edit().prop_map(|edit| ManifestRecord::Edit { edit }),
            (options(), state())
                .prop_map(|(options, state)| ManifestRecord::Snapshot { options, state }),
        ]
    }

    fn written(record: &ManifestRecord) -> Vec<u8> {
        let mut out = Vec::new();
        match record {
            ManifestRecord::Edit { edit } => write_edit(&mut out, edit),
            ManifestRecord::Snapshot { options, state } => {
                write_snapshot(&mut out, options, state).unwrap()
            }
        }
        out
    }

    proptest! {
        #[test]
        fn written_records_are_read_back_by_the_fast_path(record in record()) {
            let json = written(&record);
            prop_assert_eq!(read_record(&json), Some(record.clone()));
            prop_assert_eq!(serde_read(&json), Some(record));
        }

        #[test]
        fn the_fast_path_reads_damaged_records_as_serde_json_does_or_not_at_all(
            record in record(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
        ) {
            let mut json = written(&record);
            for (at, byte, how) in edits {
                if json.is_empty() {
                    break;
                }
                let at = at.index(json.len());
                // Mostly bytes that mean something in JSON, so damage often still parses.
                let byte = b"0123456789abcdef\",:{}[]- eEn.x"
                    .get(usize::from(byte) % 40)
                    .copied()
                    .unwrap_or(byte);
                match how {
                    0 => json[at] = byte,
                    1 => json.insert(at, byte),
                    _ => {
                        json.remove(at);
                    }
                }
            }
            if let Some(fast) = read_record(&json) {
                prop_assert_eq!(serde_read(&json), Some(fast));
            }
        }

        #[test]
        fn edits_are_written_as_serde_json_writes_them(edit in edit()) {
            let mut out = Vec::new();
            write_edit(&mut out, &edit);
            let expected = serde_json::to_vec(&ManifestRecord::Edit { edit }).unwrap();
            prop_assert_eq!(String::from_utf8(out).unwrap(), String::from_utf8(expected).unwrap());
        }

        #[test]
        fn snapshots_are_written_as_serde_json_writes_them(
            options in options(),
            other in options(),
            state in state(),
        ) {
            // Alternating options exercises both the cached and the fresh encoding.
            for options in [&options, &other, &options, &options] {
                let mut out = Vec::new();
                write_snapshot(&mut out, options, &state).unwrap();
                let expected = serde_json::to_vec(&ManifestRecord::Snapshot {
                    options: options.clone(),
                    state: state.clone(),
                })
                .unwrap();
                prop_assert_eq!(
                    String::from_utf8(out).unwrap(),
                    String::from_utf8(expected).unwrap()
                );
            }
        }
    }

    #[test]
    fn empty_edit_and_state_match_serde_json() {
        let mut out = Vec::new();
        write_edit(&mut out, &VersionEdit::default());
        assert_eq!(
            out,
            serde_json::to_vec(&ManifestRecord::Edit {
                edit: VersionEdit::default()
            })
            .unwrap()
        );
        let mut out = Vec::new();
        let state = VersionState::default();
        write_snapshot(&mut out, &Options::default(), &state).unwrap();
        assert_eq!(
            out,
            serde_json::to_vec(&ManifestRecord::Snapshot {
                options: Options::default(),
                state,
            })
            .unwrap()
        );
    }
}
