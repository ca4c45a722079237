//! The write-ahead log: one file per memtable, one frame (see [`crate::log_frame`]) per record.
//!
//! A frame's payload starts with a kind byte:
//!
//! ```text
//! kind u8        0 = commit (see log_frame::COMMIT_PAYLOAD), 1 = header, 2 = batch
//! header:        start_seq u64   the sequence number the WAL's first batch gets
//! batch:         seq u64         the sequence number of its first operation
//!                count u32       number of operations (each takes the next sequence number)
//!                then per operation:
//!                  tag u8                       1 = put, 2 = delete
//!                  key_len u32, key bytes
//!                  value_len u32, value bytes   (puts only)
//! ```
//!
//! All integers little-endian. A batch is one frame, so after a crash it is whole or absent.
//! Every WAL begins with a header, written when the WAL is created, right after the previous WAL
//! was synced. Sequence numbers chain: a batch's `seq` is the previous batch's `seq + count`
//! (the header's `start_seq` for the first). Recovery checks that chain from the MANIFEST's last
//! sequence number through every WAL, so records lost in the middle (a misdirected write, a
//! MANIFEST that lost edits whose WALs are gone) are refused instead of leaving a hole.

use std::path::{Path, PathBuf};

use faultfs::{File, Fs};

use crate::batch::{BatchOp, Ops};
use crate::error::{Error, IoContext, Result};
use crate::log_frame::{self, LogEnd};

const TAG_PUT: u8 = 1;
const TAG_DELETE: u8 = 2;

const KIND_HEADER: u8 = 1;
const KIND_BATCH: u8 = 2;

/// One record of a WAL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WalRecord {
    /// The first record of every WAL: the sequence number its first batch gets.
    Header { start_seq: u64 },
    /// An atomic batch whose first operation has sequence number `seq`.
    Batch { seq: u64, ops: Vec<BatchOp> },
}

/// Encodes a WAL header payload.
pub fn encode_header(start_seq: u64, out: &mut Vec<u8>) {
    out.push(KIND_HEADER);
    out.extend_from_slice(&start_seq.to_le_bytes());
}

/// Encodes a batch whose first operation has sequence number `seq` as a WAL payload.
pub fn encode_batch(seq: u64, ops: &[BatchOp], out: &mut Vec<u8>) {
    encode_ops(seq, Ops::Batch(ops), out);
}

/// Encodes borrowed operations exactly as [`encode_batch`] encodes the same batch.
fn encode_ops(seq: u64, ops: Ops<'_>, out: &mut Vec<u8>) {
    out.push(KIND_BATCH);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&(ops.len() as u32).to_le_bytes());
    for (key, value) in ops.iter() {
        match value {
            Some(value) => {
                out.push(TAG_PUT);
                put_bytes(out, key);
                put_bytes(out, value);
            }
            None => {
                out.push(TAG_DELETE);
                put_bytes(out, key);
            }
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The bytes a writer's buffer has room for from the start: a batch of a few small writes.
const BUFFER_START: usize = 4 << 10;

/// Decodes a WAL payload, or says what is wrong with it.
pub fn decode_record(payload: &[u8]) -> std::result::Result<WalRecord, &'static str> {
    let (&kind, mut rest) = payload.split_first().ok_or("empty WAL record")?;
    match kind {
        KIND_HEADER => {
            let start_seq = take_u64(&mut rest)?;
            if !rest.is_empty() {
                return Err("trailing bytes after WAL header");
            }
            Ok(WalRecord::Header { start_seq })
        }
        KIND_BATCH => {
            let seq = take_u64(&mut rest)?;
            let ops = decode_ops(rest)?;
            Ok(WalRecord::Batch { seq, ops })
        }
        _ => Err("unknown WAL record kind"),
    }
}

/// Decodes the operations of a batch payload (after its kind and sequence number).
fn decode_ops(mut payload: &[u8]) -> std::result::Result<Vec<BatchOp>, &'static str> {
    let count = take_u32(&mut payload)?;
    let mut ops = Vec::with_capacity(count.min(1 << 16) as usize);
    for _ in 0..count {
        let (&tag, rest) = payload.split_first().ok_or("batch cut short")?;
        payload = rest;
        let key = take_bytes(&mut payload)?;
        ops.push(match tag {
            TAG_PUT => BatchOp::Put {
                key,
                value: take_bytes(&mut payload)?,
            },
            TAG_DELETE => BatchOp::Delete { key },
            _ => return Err("unknown operation tag"),
        });
    }
    if !payload.is_empty() {
        return Err("trailing bytes after batch");
    }
    Ok(ops)
}

fn take_u64(input: &mut &[u8]) -> std::result::Result<u64, &'static str> {
    let (head, rest) = input.split_at_checked(8).ok_or("record cut short")?;
    *input = rest;
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(head);
    Ok(u64::from_le_bytes(bytes))
}

fn take_u32(input: &mut &[u8]) -> std::result::Result<u32, &'static str> {
    let (head, rest) = input.split_at_checked(4).ok_or("batch cut short")?;
    *input = rest;
    Ok(u32::from_le_bytes([head[0], head[1], head[2], head[3]]))
}

fn take_bytes(input: &mut &[u8]) -> std::result::Result<Vec<u8>, &'static str> {
    let len = take_u32(input)? as usize;
    let (head, rest) = input.split_at_checked(len).ok_or("batch cut short")?;
    *input = rest;
    Ok(head.to_vec())
}

/// Appends batches to one WAL file. Not thread-safe by itself: the writer lock guards it.
#[derive(Debug)]
pub struct WalWriter {
    pub number: u64,
    path: PathBuf,
    file: Box<dyn File>,
    /// Bytes already handed to the file.
    written: u64,
    /// Bytes made durable by the last successful sync.
    synced: u64,
    /// Encoded frames not yet handed to the file.
    buffer: Vec<u8>,
    config: WalConfig,
}

/// How a WAL writer behaves: the defects of the catalog (issue 6) that live in
/// it (all off in the correct engine).
#[derive(Clone, Copy, Debug, Default)]
pub struct WalConfig {
    /// A failed fsync is tried again and, if that succeeds, taken for success.
    pub retry_failed_sync: bool,
    /// An existing file of the same name is removed and replaced.
    pub overwrite_existing: bool,
}

impl WalWriter {
    /// Creates a new WAL whose first batch will get sequence number `start_seq`. Its header
    /// reaches the file with the first batch (or at the first sync). The caller makes its name
    /// durable (sync_dir). `config` may switch on catalogued defects
    /// (issue 6).
    pub fn create(
        fs: &dyn Fs,
        path: PathBuf,
        number: u64,
        start_seq: u64,
        config: WalConfig,
    ) -> Result<WalWriter> {
        if config.overwrite_existing && fs.exists(&path).ctx("looking for", &path)? {
            fs.remove(&path).ctx("removing to reuse", &path)?;
        }
        let file = fs.create(&path).ctx("creating WAL", &path)?;
        // The header is encoded in place after room for its frame header, then sealed. The
        // buffer is emptied after every write but keeps its allocation: starting it at a page
        // spares the first appends to each new WAL a reallocation apiece.
        let mut buffer = Vec::with_capacity(BUFFER_START);
        buffer.resize(log_frame::HEADER_BYTES, 0);
        encode_header(start_seq, &mut buffer);
        log_frame::seal(&mut buffer, 0);
        Ok(WalWriter {
            number,
            path,
            file,
            written: 0,
            synced: 0,
            buffer,
            config,
        })
    }

    /// Appends one batch whose first operation has sequence number `seq` and hands it to the file
    /// before returning: visible, and kept by a process crash (kill -9 keeps the page cache), so
    /// an acknowledged write is lost only by a power cut before the next sync, which the contract
    /// allows. (An earlier version held frames in user space until 64 KiB piled up; the
    /// kill-test caught it losing acknowledged writes.)
    pub(crate) fn append(&mut self, seq: u64, ops: Ops<'_>) -> Result<()> {
        // The payload is encoded in place after a placeholder header, then sealed: one copy of
        // the caller's bytes, not two.
        let start = self.buffer.len();
        self.buffer.resize(start + log_frame::HEADER_BYTES, 0);
        encode_ops(seq, ops, &mut self.buffer);
        log_frame::seal(&mut self.buffer[start..], self.synced);
        self.write_buffer()
    }

    /// Hands the buffered frames to the file (visible, not durable).
    fn write_buffer(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.file
            .write_at(self.written, &self.buffer)
            .ctx("appending to WAL", &self.path)?;
        self.written += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// Writes the buffer and makes every appended batch durable.
    pub fn sync(&mut self) -> Result<()> {
        self.write_buffer()?;
        if self.synced == self.written {
            return Ok(());
        }
        // Protects every acknowledged batch of this WAL against a power cut: after this returns
        // they are on disk (the WAL's name was made durable when it was created).
        let mut result = self.file.sync();
        if result.is_err() && self.config.retry_failed_sync {
            result = self.file.sync();
        }
        result.ctx("syncing WAL", &self.path)?;
        self.synced = self.written;
        // The commit frame goes through the (empty) buffer, whose allocation is reused; the
        // buffer is emptied again whether or not the write succeeds.
        log_frame::encode_commit(self.synced, &mut self.buffer);
        let written = self.file.write_at(self.written, &self.buffer);
        let commit_len = self.buffer.len() as u64;
        self.buffer.clear();
        written.ctx("appending commit frame to WAL", &self.path)?;
        self.written += commit_len;
        // Protects the batches synced above against damage to the last of them being taken for
        // a torn tail and cut silently: the durable commit frame proves they were durable.
        self.file
            .sync()
            .ctx("syncing WAL commit frame", &self.path)?;
        self.synced = self.written;
        Ok(())
    }

    /// Tells whether appended batches are not yet durable.
    pub fn has_unsynced(&self) -> bool {
        !self.buffer.is_empty() || self.synced != self.written
    }
}

/// One record read back from a WAL, with the offset of its frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadRecord {
    pub offset: u64,
    pub record: WalRecord,
}

/// Reads a WAL back: its records in order, and where a torn tail (if any) begins.
pub fn replay(
    fs: &dyn Fs,
    path: &Path,
    leniency: log_frame::Leniency,
) -> Result<(Vec<ReadRecord>, LogEnd)> {
    let file = fs.open(path).ctx("opening WAL", path)?;
    let len = file.len().ctx("reading length of WAL", path)?;
    let mut bytes = vec![0u8; len as usize];
    file.read_exact_at(0, &mut bytes).ctx("reading WAL", path)?;
    let (frames, end) = log_frame::read_log(&bytes, leniency)
        .map_err(|d| Error::corruption(path, d.offset, d.reason))?;
    let mut records = Vec::with_capacity(frames.len());
    for frame in frames {
        let offset = (frame.payload.start - log_frame::HEADER_BYTES) as u64;
        let record = decode_record(&bytes[frame.payload.clone()])
            .map_err(|reason| Error::corruption(path, offset, reason.to_string()))?;
        records.push(ReadRecord { offset, record });
    }
    Ok((records, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<BatchOp> {
        vec![
            BatchOp::Put {
                key: b"k1".to_vec(),
                value: b"v1".to_vec(),
            },
            BatchOp::Delete {
                key: b"k2".to_vec(),
            },
            BatchOp::Put {
                key: Vec::new(),
                value: Vec::new(),
            },
        ]
    }

    #[test]
    fn batch_and_header_payloads_round_trip() {
        let mut out = Vec::new();
        encode_batch(42, &sample(), &mut out);
        assert_eq!(
            decode_record(&out).unwrap(),
            WalRecord::Batch {
                seq: 42,
                ops: sample()
            }
        );
        let mut out = Vec::new();
        encode_header(7, &mut out);
        assert_eq!(
            decode_record(&out).unwrap(),
            WalRecord::Header { start_seq: 7 }
        );
    }

    #[test]
    fn every_single_byte_flip_of_a_wal_record_is_detected() {
        let mut payload = Vec::new();
        encode_batch(1, &sample(), &mut payload);
        let mut record = Vec::new();
        log_frame::encode(&payload, 0, &mut record);
        for i in 0..record.len() {
            let mut bad = record.clone();
            bad[i] ^= 0x10;
            assert!(log_frame::decode_at(&bad, 0).is_err(), "flip at {i}");
        }
    }

    #[test]
    fn truncated_batch_payload_is_refused() {
        let mut out = Vec::new();
        encode_batch(1, &sample(), &mut out);
        for cut in 0..out.len() {
            assert!(decode_record(&out[..cut]).is_err());
        }
    }
}
