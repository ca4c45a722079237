//! On-disk formats: journal records and the snapshot.
//!
//! A journal record is `len: u32 LE | crc32c(body): u32 LE | body`, the body being
//! `kind: u8 | seq: u64 | synced_upto: u64 | ops`. `synced_upto` is the journal offset the writer
//! knew to be durable (the end of its last successful fsync) when it wrote the record: a valid
//! record whose `synced_upto` lies past a bad spot proves the bad spot was durable, i.e. damage
//! rather than a torn or reordered unsynced tail.
//!
//! A batch record (`kind` 1) carries `count: u32` and then each op: `tag: u8` (1 put, 2 delete),
//! `klen: u32`, key, and for a put `vlen: u32`, value. Commit records (`kind` 2) and pad records
//! (`kind` 3) carry no ops, only zero filler: after each durability point's fsync a pad runs up
//! to the next [`SECTOR`] edge and two commit records fill a sector each, then a second fsync
//! makes them durable, so the newest durable batch is vouched for from sectors of their own.
//!
//! The snapshot is `magic | seq: u64 | count: u64 | (klen: u32, key, vlen: u32, value)* |
//! crc32c(everything before): u32`.

use std::collections::BTreeMap;

use powercut::Mutation;

pub const KIND_BATCH: u8 = 1;
pub const KIND_COMMIT: u8 = 2;
pub const KIND_PAD: u8 = 3;

/// The sector size the layout is built around: commit records fill whole sectors of their own,
/// so that no sector holds both a commit record and any byte of the batches it vouches for.
pub const SECTOR: u64 = 512;

/// The smallest record (a pad record with no filler).
pub const MIN_RECORD: u64 = (HEADER + BODY_FIXED) as u64;

const HEADER: usize = 8;
const BODY_FIXED: usize = 1 + 8 + 8;
/// No record of this store comes anywhere near this; a larger length field is garbage.
const MAX_BODY: usize = 1 << 24;

const TAG_PUT: u8 = 1;
const TAG_DELETE: u8 = 2;

const SNAPSHOT_MAGIC: &[u8; 8] = b"KVSNAP1\n";

/// One operation of a decoded batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

/// A decoded journal record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub kind: u8,
    pub seq: u64,
    pub synced_upto: u64,
    pub ops: Vec<Op>,
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u32(
        out,
        u32::try_from(b.len()).expect("key or value over 4 GiB"),
    );
    out.extend_from_slice(b);
}

/// Encodes a batch record (`kind` 1) or, with an empty `batch`, a commit record (`kind` 2).
pub fn encode_record(kind: u8, seq: u64, synced_upto: u64, batch: &[Mutation]) -> Vec<u8> {
    let mut body = Vec::with_capacity(BODY_FIXED + 4 + batch.len() * 32);
    body.push(kind);
    put_u64(&mut body, seq);
    put_u64(&mut body, synced_upto);
    if kind == KIND_BATCH {
        put_batch(&mut body, batch);
    }
    frame(body)
}

/// A record of exactly `total` bytes (at least [`MIN_RECORD`]) and no ops: a pad record
/// (`KIND_PAD`, filler up to a sector edge) or a sector-sized commit record (`KIND_COMMIT`).
pub fn encode_filler(kind: u8, total: u64, seq: u64, synced_upto: u64) -> Vec<u8> {
    assert!(
        kind != KIND_BATCH && total >= MIN_RECORD,
        "filler of {total} bytes"
    );
    let mut body = Vec::with_capacity(total as usize - HEADER);
    body.push(kind);
    put_u64(&mut body, seq);
    put_u64(&mut body, synced_upto);
    body.resize(total as usize - HEADER, 0);
    frame(body)
}

fn frame(body: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body.len());
    put_u32(
        &mut out,
        u32::try_from(body.len()).expect("record too large"),
    );
    put_u32(&mut out, crc32c::crc32c(&body));
    out.extend_from_slice(&body);
    out
}

fn put_batch(body: &mut Vec<u8>, batch: &[Mutation]) {
    {
        put_u32(body, u32::try_from(batch.len()).expect("batch too large"));
        for m in batch {
            match m {
                Mutation::Put { key, value } => {
                    body.push(TAG_PUT);
                    put_bytes(body, key.as_bytes());
                    put_bytes(body, value.as_bytes());
                }
                Mutation::Delete { key } => {
                    body.push(TAG_DELETE);
                    put_bytes(body, key.as_bytes());
                }
            }
        }
    }
}

/// A little cursor that fails (returns `None`) instead of panicking on short input.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = self.u32()? as usize;
        Some(self.take(n)?.to_vec())
    }
    fn done(&self) -> bool {
        self.pos == self.buf.len()
    }
}

/// The record starting at `pos`, and the offset just past it; `None` when the bytes there are
/// not one whole, checksummed, well-formed record.
pub fn decode_record_at(buf: &[u8], pos: usize) -> Option<(Record, usize)> {
    let mut c = Cursor { buf, pos };
    let len = c.u32()? as usize;
    if !(BODY_FIXED..=MAX_BODY).contains(&len) {
        return None;
    }
    let crc = c.u32()?;
    let body = c.take(len)?;
    let next = c.pos;
    if crc32c::crc32c(body) != crc {
        return None;
    }
    let mut b = Cursor { buf: body, pos: 0 };
    let kind = b.u8()?;
    let seq = b.u64()?;
    let synced_upto = b.u64()?;
    let mut ops = Vec::new();
    match kind {
        KIND_BATCH => {
            let count = b.u32()?;
            for _ in 0..count {
                match b.u8()? {
                    TAG_PUT => {
                        let k = b.bytes()?;
                        let v = b.bytes()?;
                        ops.push(Op::Put(k, v));
                    }
                    TAG_DELETE => ops.push(Op::Delete(b.bytes()?)),
                    _ => return None,
                }
            }
        }
        KIND_COMMIT | KIND_PAD => {
            let rest = b.take(body.len() - b.pos)?;
            if rest.iter().any(|&x| x != 0) {
                return None;
            }
        }
        _ => return None,
    }
    if !b.done() {
        return None;
    }
    Some((
        Record {
            kind,
            seq,
            synced_upto,
            ops,
        },
        next,
    ))
}

/// Encodes a full snapshot of `state` as of batch `seq`.
pub fn encode_snapshot(seq: u64, state: &State) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(SNAPSHOT_MAGIC);
    put_u64(&mut out, seq);
    put_u64(&mut out, state.len() as u64);
    for (k, v) in state {
        put_bytes(&mut out, k);
        put_bytes(&mut out, v);
    }
    let crc = crc32c::crc32c(&out);
    put_u32(&mut out, crc);
    out
}

/// The whole state, key to value.
pub type State = BTreeMap<Vec<u8>, Vec<u8>>;

/// Decodes a snapshot into its batch number and state; `Err` says what is wrong with it.
pub fn decode_snapshot(buf: &[u8]) -> Result<(u64, State), String> {
    if buf.len() < SNAPSHOT_MAGIC.len() + 8 + 8 + 4 {
        return Err(format!("{} bytes is too short for a snapshot", buf.len()));
    }
    let (content, crc) = buf.split_at(buf.len() - 4);
    let crc = u32::from_le_bytes(crc.try_into().map_err(|_| "bad crc field".to_string())?);
    if crc32c::crc32c(content) != crc {
        return Err("checksum mismatch".to_string());
    }
    if &content[..8] != SNAPSHOT_MAGIC {
        return Err("bad magic".to_string());
    }
    let mut c = Cursor {
        buf: content,
        pos: 8,
    };
    let malformed = || "checksummed but malformed".to_string();
    let seq = c.u64().ok_or_else(malformed)?;
    let count = c.u64().ok_or_else(malformed)?;
    let mut state = BTreeMap::new();
    for _ in 0..count {
        let k = c.bytes().ok_or_else(malformed)?;
        let v = c.bytes().ok_or_else(malformed)?;
        state.insert(k, v);
    }
    if !c.done() {
        return Err(malformed());
    }
    Ok((seq, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str, v: &str) -> Mutation {
        Mutation::Put {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn records_round_trip_and_reject_any_flipped_bit() {
        let batch = vec![put("a", "1"), Mutation::Delete { key: "b".into() }];
        let rec = encode_record(KIND_BATCH, 7, 99, &batch);
        let (r, next) = decode_record_at(&rec, 0).expect("decodes");
        assert_eq!(next, rec.len());
        assert_eq!((r.kind, r.seq, r.synced_upto), (KIND_BATCH, 7, 99));
        assert_eq!(
            r.ops,
            vec![
                Op::Put(b"a".to_vec(), b"1".to_vec()),
                Op::Delete(b"b".to_vec())
            ]
        );
        for bit in 0..rec.len() * 8 {
            let mut bad = rec.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_record_at(&bad, 0).is_none(), "bit {bit}");
        }
        for cut in 0..rec.len() {
            assert!(decode_record_at(&rec[..cut], 0).is_none(), "cut {cut}");
        }
    }

    #[test]
    fn fillers_have_the_asked_size_and_decode() {
        for total in [MIN_RECORD, 100, SECTOR] {
            let pad = encode_filler(KIND_PAD, total, 0, 3);
            assert_eq!(pad.len() as u64, total);
            let (r, next) = decode_record_at(&pad, 0).expect("decodes");
            assert_eq!((r.kind, r.synced_upto, next as u64), (KIND_PAD, 3, total));
        }
    }

    #[test]
    fn snapshot_round_trips_and_rejects_damage() {
        let mut state = BTreeMap::new();
        state.insert(b"k1".to_vec(), b"v1".to_vec());
        state.insert(b"k2".to_vec(), Vec::new());
        let snap = encode_snapshot(5, &state);
        assert_eq!(decode_snapshot(&snap), Ok((5, state)));
        let mut bad = snap.clone();
        bad[10] ^= 4;
        assert!(decode_snapshot(&bad).is_err());
        assert!(decode_snapshot(&snap[..snap.len() - 1]).is_err());
    }
}
