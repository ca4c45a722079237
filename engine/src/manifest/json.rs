//! The MANIFEST's records as JSON, written without going through serde for the parts that
//! repeat: every snapshot re-encodes every live SST, and serde_json spends most of that on
//! escaping each constant field name and on its generic plumbing.
//!
//! The output is byte for byte what `serde_json::to_vec` makes of the derived `Serialize` of
//! [`super::ManifestRecord`] (compact, fields in declaration order, `None` and empty lists of a
//! [`VersionEdit`] left out, keys as lowercase hex strings); the tests hold the two side by side.
//! The options are still encoded by serde_json (they change shape as fields are added), once
//! per distinct [`Options`] value on a thread. Reading stays with serde_json.

use std::cell::RefCell;

use crate::options::Options;
use crate::version::{SstMeta, VersionEdit, VersionState};

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

    proptest! {
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
