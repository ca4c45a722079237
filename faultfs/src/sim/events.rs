//! The event log: how operations are written down, and the digest that replays compare.

use std::borrow::Cow;
use std::fmt;
use std::io;

use xxhash_rust::xxh3::Xxh3;

use super::{
    ChangeKind, CrashPolicy, Event, EventOp, FaultClass, NamespaceOp, PieceFate, RebootDecision,
    RebootOutcome,
};
use crate::Phase;

impl fmt::Display for CrashPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CrashPolicy::Strict => f.write_str("strict"),
            CrashPolicy::KeepAll => f.write_str("keep_all"),
            CrashPolicy::Torn { sector } => write!(f, "torn(sector={sector})"),
            CrashPolicy::Reorder { sector } => write!(f, "reorder(sector={sector})"),
        }
    }
}

impl fmt::Display for EventOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventOp::Create { path } => write!(f, "create {path}"),
            EventOp::Open { path } => write!(f, "open {path}"),
            EventOp::Read { path, offset, len } => write!(f, "read {path} @{offset} +{len}"),
            EventOp::Write { path, offset, len } => write!(f, "write {path} @{offset} +{len}"),
            EventOp::SetLen { path, len } => write!(f, "set_len {path} {len}"),
            EventOp::Sync { path } => write!(f, "sync {path}"),
            EventOp::Rename { from, to } => write!(f, "rename {from} -> {to}"),
            EventOp::Remove { path } => write!(f, "remove {path}"),
            EventOp::List { path } => write!(f, "list {path}"),
            EventOp::CreateDir { path } => write!(f, "create_dir_all {path}"),
            EventOp::SyncDir { path } => write!(f, "sync_dir {path}"),
            EventOp::Exists { path } => write!(f, "exists {path}"),
            EventOp::Lock { path } => write!(f, "lock {path}"),
            EventOp::PowerOff => f.write_str("power_off"),
            EventOp::Reboot {
                policy,
                seed,
                outcome,
            } => write!(f, "reboot {policy} seed={seed} [{outcome}]"),
            EventOp::Damage { path, offset, what } => write!(f, "damage {path} @{offset}: {what}"),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} [{}] {} -> {}",
            self.index, self.phase, self.op, self.result
        )?;
        if let Some(fault) = self.fault {
            write!(f, " (fault: {fault:?})")?;
        }
        Ok(())
    }
}

/// The running digest of a log: every event is fed to xxh3 as it is logged, in a stable binary
/// encoding that names every field (a tag per operation, integers as little-endian u64, strings
/// length-prefixed), so `trace_hash` costs nothing however long the log, and no event is ever
/// formatted just to be hashed. Encoded records reach the hash in chunks of a few KiB (a
/// streaming hash gives the same digest however its input is cut, and a call per chunk costs
/// far less than a call per event).
#[derive(Clone)]
pub(crate) struct TraceHasher {
    hash: Xxh3,
    /// Encoded records not fed to `hash` yet.
    pending: Vec<u8>,
}

/// Encoded records are fed to the hash once this many bytes wait.
const FEED_BYTES: usize = 4 << 10;

impl Default for TraceHasher {
    fn default() -> Self {
        TraceHasher {
            hash: Xxh3::new(),
            pending: Vec::new(),
        }
    }
}

impl TraceHasher {
    /// Feeds one event.
    pub fn add(&mut self, event: &Event) {
        let b = &mut self.pending;
        let start = b.len();
        // Room for the record's length (filled in below), then the index and the phase, in one
        // append: fixed-size fields are grouped so a record costs a few appends, not one each.
        let mut head = [0u8; HEAD_BYTES];
        head[LEN_PREFIX_BYTES..HEAD_BYTES - 1].copy_from_slice(&event.index.to_le_bytes());
        head[HEAD_BYTES - 1] = phase_tag(event.phase);
        b.extend_from_slice(&head);
        encode_op(b, &event.op);
        if event.result == "ok" {
            // Nearly every result: its length and text in one append.
            b.extend_from_slice(&OK_RESULT);
        } else {
            put_str(b, &event.result);
        }
        b.push(event.fault.map_or(0, |c| fault_tag(c) + 1));
        // The whole record is length-prefixed, so no two logs share a byte stream.
        let len = (b.len() - start - LEN_PREFIX_BYTES) as u64;
        b[start..start + LEN_PREFIX_BYTES].copy_from_slice(&len.to_le_bytes());
        if b.len() >= FEED_BYTES {
            self.hash.update(b);
            b.clear();
        }
    }

    /// The digest of every event fed so far.
    pub fn digest(&self) -> u64 {
        if self.pending.is_empty() {
            return self.hash.digest();
        }
        let mut hash = self.hash.clone();
        hash.update(&self.pending);
        hash.digest()
    }
}

/// `put_str(b, "ok")`'s bytes.
const OK_RESULT: [u8; 10] = [2, 0, 0, 0, 0, 0, 0, 0, b'o', b'k'];

/// The bytes of the length that prefixes each record.
const LEN_PREFIX_BYTES: usize = std::mem::size_of::<u64>();

/// The bytes before a record's operation: its length, index and phase tag.
const HEAD_BYTES: usize = LEN_PREFIX_BYTES + 8 + 1;

fn put_u64(b: &mut Vec<u8>, n: u64) {
    b.extend_from_slice(&n.to_le_bytes());
}

/// Two integers in one append.
fn put_u64_pair(b: &mut Vec<u8>, first: u64, second: u64) {
    let mut pair = [0u8; 16];
    pair[..8].copy_from_slice(&first.to_le_bytes());
    pair[8..].copy_from_slice(&second.to_le_bytes());
    b.extend_from_slice(&pair);
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    put_u64(b, s.len() as u64);
    b.extend_from_slice(s.as_bytes());
}

/// A tag byte and one path: the tag and the path's length in one append.
fn tagged(b: &mut Vec<u8>, tag: u8, path: &str) {
    let mut head = [0u8; 9];
    head[0] = tag;
    head[1..].copy_from_slice(&(path.len() as u64).to_le_bytes());
    b.extend_from_slice(&head);
    b.extend_from_slice(path.as_bytes());
}

fn phase_tag(phase: Phase) -> u8 {
    match phase {
        Phase::Write => 0,
        Phase::Flush => 1,
        Phase::Compaction => 2,
        Phase::Rollover => 3,
        Phase::Recovery => 4,
        Phase::Create => 5,
    }
}

fn fault_tag(class: FaultClass) -> u8 {
    match class {
        FaultClass::ReadError => 0,
        FaultClass::WriteError => 1,
        FaultClass::SyncError => 2,
        FaultClass::NoSpace => 3,
        FaultClass::FsyncMarkClean => 4,
        FaultClass::FsyncReportLater => 5,
        FaultClass::FsyncRevert => 6,
        FaultClass::BitFlip => 7,
        FaultClass::TornSector => 8,
        FaultClass::MisdirectedWrite => 9,
        FaultClass::Truncate => 10,
    }
}

fn encode_policy(b: &mut Vec<u8>, policy: CrashPolicy) {
    match policy {
        CrashPolicy::Strict => b.push(0),
        CrashPolicy::KeepAll => b.push(1),
        CrashPolicy::Torn { sector } => {
            b.push(2);
            put_u64(b, u64::from(sector));
        }
        CrashPolicy::Reorder { sector } => {
            b.push(3);
            put_u64(b, u64::from(sector));
        }
    }
}

/// A reboot's decisions: the sector model, then each decision with a tag byte and its fields in
/// declaration order.
fn encode_outcome(b: &mut Vec<u8>, outcome: &RebootOutcome) {
    // Ordered metadata adds a bit only when declared, so traces without it hash as before.
    b.push(u8::from(outcome.atomic_sectors) | (u8::from(outcome.ordered_metadata) << 1));
    put_u64(b, outcome.decisions.len() as u64);
    for decision in &outcome.decisions {
        match decision {
            RebootDecision::File {
                path,
                changes,
                pieces,
            } => {
                b.push(0);
                put_str(b, path);
                put_u64(b, *changes);
                put_u64(b, pieces.len() as u64);
                for piece in pieces {
                    put_u64(b, piece.offset);
                    put_u64(b, piece.len);
                    b.push(match piece.change {
                        ChangeKind::Write => 0,
                        ChangeKind::SetLen => 1,
                    });
                    b.push(match piece.fate {
                        PieceFate::Kept => 0,
                        PieceFate::Dropped => 1,
                        PieceFate::TornZeros => 2,
                        PieceFate::TornGarbage => 3,
                    });
                }
            }
            RebootDecision::Namespace { op, kept } => {
                b.push(1);
                match op {
                    NamespaceOp::Create { path } => tagged(b, 0, path),
                    NamespaceOp::Mkdir { path } => tagged(b, 1, path),
                    NamespaceOp::Rename { from, to } => {
                        b.push(2);
                        put_str(b, from);
                        put_str(b, to);
                    }
                    NamespaceOp::Remove { path } => tagged(b, 3, path),
                }
                b.push(u8::from(*kept));
            }
        }
    }
}

/// One operation: a tag byte, then its fields in declaration order.
fn encode_op(b: &mut Vec<u8>, op: &EventOp) {
    match op {
        EventOp::Create { path } => tagged(b, 0, path),
        EventOp::Open { path } => tagged(b, 1, path),
        EventOp::Read { path, offset, len } => {
            tagged(b, 2, path);
            put_u64_pair(b, *offset, *len);
        }
        EventOp::Write { path, offset, len } => {
            tagged(b, 3, path);
            put_u64_pair(b, *offset, *len);
        }
        EventOp::SetLen { path, len } => {
            tagged(b, 4, path);
            put_u64(b, *len);
        }
        EventOp::Sync { path } => tagged(b, 5, path),
        EventOp::Rename { from, to } => {
            tagged(b, 6, from);
            put_str(b, to);
        }
        EventOp::Remove { path } => tagged(b, 7, path),
        EventOp::List { path } => tagged(b, 8, path),
        EventOp::CreateDir { path } => tagged(b, 9, path),
        EventOp::SyncDir { path } => tagged(b, 10, path),
        EventOp::Exists { path } => tagged(b, 11, path),
        EventOp::Lock { path } => tagged(b, 12, path),
        EventOp::PowerOff => b.push(13),
        EventOp::Reboot {
            policy,
            seed,
            outcome,
        } => {
            b.push(14);
            encode_policy(b, *policy);
            put_u64(b, *seed);
            encode_outcome(b, outcome);
        }
        EventOp::Damage { path, offset, what } => {
            b.push(15);
            put_str(b, path);
            put_u64(b, *offset);
            put_str(b, what);
        }
    }
}

/// The result column of an event: `ok`, `power_loss`, an errno name, or the error kind. The
/// common results are static text, so logging them allocates nothing.
pub(crate) fn result_name<T>(result: &io::Result<T>) -> Cow<'static, str> {
    match result {
        Ok(_) => Cow::Borrowed("ok"),
        Err(e) if crate::is_power_loss(e) => Cow::Borrowed("power_loss"),
        Err(e) => match crate::os_error_code(e) {
            Some(libc::EIO) => Cow::Borrowed("EIO"),
            Some(libc::ENOSPC) => Cow::Borrowed("ENOSPC"),
            Some(code) => Cow::Owned(format!("errno {code}")),
            None => Cow::Owned(format!("{:?}", e.kind())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FilePiece, RebootDecision};

    /// A reboot event whose one file piece has `fate`.
    fn reboot(fate: PieceFate, atomic_sectors: bool) -> Event {
        Event {
            index: 0,
            phase: Phase::Write,
            op: EventOp::Reboot {
                policy: CrashPolicy::Torn { sector: 512 },
                seed: 1,
                outcome: RebootOutcome {
                    atomic_sectors,
                    ordered_metadata: false,
                    decisions: vec![RebootDecision::File {
                        path: "f".into(),
                        changes: 1,
                        pieces: vec![FilePiece {
                            offset: 0,
                            len: 512,
                            change: ChangeKind::Write,
                            fate,
                        }],
                    }],
                },
            },
            result: Cow::Borrowed("ok"),
            fault: None,
        }
    }

    fn digest(event: &Event) -> u64 {
        let mut h = TraceHasher::default();
        h.add(event);
        h.digest()
    }

    /// The record of one event, written out field by field as the format describes it.
    fn record(index: u64, phase: u8, op: &[u8], result: &str, fault: u8) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&index.to_le_bytes());
        body.push(phase);
        body.extend_from_slice(op);
        body.extend_from_slice(&(result.len() as u64).to_le_bytes());
        body.extend_from_slice(result.as_bytes());
        body.push(fault);
        let mut out = (body.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&body);
        out
    }

    /// A tag byte, then strings length-prefixed and integers as little-endian u64.
    fn op_bytes(tag: u8, strings: &[&str], numbers: &[u64]) -> Vec<u8> {
        let mut out = vec![tag];
        for s in strings {
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        for n in numbers {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out
    }

    #[test]
    fn the_ok_result_is_encoded_like_any_text() {
        let mut b = Vec::new();
        put_str(&mut b, "ok");
        assert_eq!(b, OK_RESULT);
    }

    #[test]
    fn records_are_encoded_as_the_format_says() {
        let event = |index, op, result: &'static str, fault| Event {
            index,
            phase: Phase::Flush,
            op,
            result: Cow::Borrowed(result),
            fault,
        };
        let events = [
            event(
                0,
                EventOp::Write {
                    path: "db/000001.sst".into(),
                    offset: 4096,
                    len: 77,
                },
                "ok",
                None,
            ),
            event(
                1,
                EventOp::Rename {
                    from: "db/CURRENT.tmp".into(),
                    to: "db/CURRENT".into(),
                },
                "ok",
                None,
            ),
            event(
                2,
                EventOp::SetLen {
                    path: "db/LOG".into(),
                    len: 9,
                },
                "EIO",
                Some(FaultClass::NoSpace),
            ),
            event(
                3,
                EventOp::Read {
                    path: "a".into(),
                    offset: 1,
                    len: 2,
                },
                "ok",
                None,
            ),
            event(4, EventOp::Sync { path: "a".into() }, "ok", None),
        ];
        let ops = [
            op_bytes(3, &["db/000001.sst"], &[4096, 77]),
            op_bytes(6, &["db/CURRENT.tmp", "db/CURRENT"], &[]),
            op_bytes(4, &["db/LOG"], &[9]),
            op_bytes(2, &["a"], &[1, 2]),
            op_bytes(5, &["a"], &[]),
        ];
        let mut hasher = TraceHasher::default();
        let mut expected = Vec::new();
        for (event, op) in events.iter().zip(&ops) {
            hasher.add(event);
            let fault = event.fault.map_or(0, |c| fault_tag(c) + 1);
            expected.extend(record(event.index, 1, op, &event.result, fault));
        }
        assert_eq!(hasher.digest(), xxhash_rust::xxh3::xxh3_64(&expected));
    }

    #[test]
    fn the_trace_hash_covers_every_piece_fate_and_the_sector_model() {
        let fates = [
            PieceFate::Kept,
            PieceFate::Dropped,
            PieceFate::TornZeros,
            PieceFate::TornGarbage,
        ];
        let mut seen = std::collections::BTreeSet::new();
        for fate in fates {
            for atomic in [false, true] {
                seen.insert(digest(&reboot(fate, atomic)));
            }
        }
        assert_eq!(seen.len(), fates.len() * 2);
    }
}
