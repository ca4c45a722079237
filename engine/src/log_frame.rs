//! The framing shared by the WAL and the MANIFEST: length-prefixed, checksummed records.
//!
//! ```text
//! offset  size  field
//! 0       4     crc32c of bytes 4 .. 16 + len (little-endian)
//! 4       4     len: payload length, > 0
//! 8       8     synced_upto: how many bytes of this log were durable when the frame was written
//! 16      len   payload
//! ```
//!
//! A log is read front to back. The first frame that does not decode ends the good prefix, and
//! then the question is whether the bad bytes are a torn tail (expected after a crash: cut away)
//! or damage inside durable data (refused as corruption, never cut away). `synced_upto` answers
//! it: a later valid frame whose `synced_upto` lies past the bad offset proves that the bad bytes
//! had been made durable before that frame was written, so a crash cannot explain them. Writes
//! that never reached a sync (a torn tail, or sectors lost out of order) can only be followed by
//! frames written before the next sync, whose `synced_upto` stops at or before the bad offset.
//! A zero-length frame is never valid, so a zero-filled tail is never mistaken for records.
//! After every sync the writer appends and syncs a one-byte commit frame whose `synced_upto`
//! covers everything before it: without it, damage to the last synced record would look exactly
//! like a torn tail and be cut silently. A damaged commit frame carries no data to lose.

use std::ops::Range;

/// Bytes before the payload.
pub const HEADER_BYTES: usize = 16;

/// The largest payload a frame may carry.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 30;

/// The payload of a commit frame: written (and synced) right after a sync, it carries no data and
/// only proves, through its `synced_upto`, that every frame before it was durable. Without it a
/// damaged last record could not be told from a torn tail. No WAL batch or MANIFEST record is
/// one zero byte long.
pub const COMMIT_PAYLOAD: &[u8] = &[0];

/// Appends a commit frame (see [`COMMIT_PAYLOAD`]).
pub fn encode_commit(synced_upto: u64, out: &mut Vec<u8>) {
    encode(COMMIT_PAYLOAD, synced_upto, out);
}

/// Appends one frame holding `payload` to `out`.
pub fn encode(payload: &[u8], synced_upto: u64, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + HEADER_BYTES, 0);
    out.extend_from_slice(payload);
    seal(&mut out[start..], synced_upto);
}

/// Fills in the header of `frame`: [`HEADER_BYTES`] placeholder bytes followed by the payload, so
/// a caller can encode a payload in place instead of copying it into a frame afterwards.
pub fn seal(frame: &mut [u8], synced_upto: u64) {
    let len = frame.len() - HEADER_BYTES;
    debug_assert!(len > 0 && len <= MAX_PAYLOAD_BYTES);
    frame[4..8].copy_from_slice(&(len as u32).to_le_bytes());
    frame[8..16].copy_from_slice(&synced_upto.to_le_bytes());
    let crc = crc32c::crc32c(&frame[4..]);
    frame[..4].copy_from_slice(&crc.to_le_bytes());
}

/// One decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Where the payload lies in the log.
    pub payload: Range<usize>,
    /// The frame's `synced_upto` field.
    pub synced_upto: u64,
    /// Where the next frame starts.
    pub next: usize,
}

/// Decodes the frame at `offset` of `log`, or says why there is none.
pub fn decode_at(log: &[u8], offset: usize) -> Result<Frame, &'static str> {
    let header = log
        .get(offset..offset + HEADER_BYTES)
        .ok_or("frame header cut short")?;
    let crc = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    let mut synced = [0u8; 8];
    synced.copy_from_slice(&header[8..16]);
    let synced_upto = u64::from_le_bytes(synced);
    if len == 0 {
        return Err("zero-length frame");
    }
    if len > MAX_PAYLOAD_BYTES {
        return Err("frame length out of range");
    }
    let end = offset + HEADER_BYTES + len;
    let covered = log.get(offset + 4..end).ok_or("frame payload cut short")?;
    if crc32c::crc32c(covered) != crc {
        return Err("frame checksum mismatch");
    }
    if synced_upto > offset as u64 {
        return Err("frame claims durable bytes beyond its own offset");
    }
    Ok(Frame {
        payload: offset + HEADER_BYTES..end,
        synced_upto,
        next: end,
    })
}

/// How reading a log ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogEnd {
    /// Every byte belonged to a valid frame.
    Clean,
    /// Bytes from `offset` on are a torn tail (a crash explains them); they are not records.
    TornTail { offset: u64, reason: &'static str },
}

/// Damage inside the durable part of a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    pub offset: u64,
    pub reason: String,
}

/// How forgiving a reader is. The correct engine uses the default (neither); each flag is a
/// defect from the catalog of issue 6, kept here so the harness can show it gets caught.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Leniency {
    /// Any bad frame is taken for a torn tail, even with valid durable frames after it.
    pub bad_is_torn: bool,
    /// Zero bytes where a frame should start are skipped as padding, and reading resumes at the
    /// next non-zero byte.
    pub zeros_are_padding: bool,
}

/// Reads every valid frame of `log` in order (commit frames left out) and classifies what
/// follows them.
pub fn read_log(log: &[u8], leniency: Leniency) -> Result<(Vec<Frame>, LogEnd), Damage> {
    let mut frames = Vec::new();
    let mut pos = 0;
    while pos < log.len() {
        match decode_at(log, pos) {
            Ok(frame) => {
                pos = frame.next;
                if &log[frame.payload.clone()] != COMMIT_PAYLOAD {
                    frames.push(frame);
                }
            }
            Err(_) if leniency.zeros_are_padding && log[pos] == 0 => {
                match log[pos..].iter().position(|&b| b != 0) {
                    Some(skip) => pos += skip,
                    None => break,
                }
            }
            Err(reason) => {
                if !leniency.bad_is_torn
                    && let Some(proof) = later_durable_frame(log, pos)
                {
                    return Err(Damage {
                        offset: pos as u64,
                        reason: format!(
                            "{reason}, yet the valid frame at offset {proof} says the bytes up \
                             to here were already durable"
                        ),
                    });
                }
                return Ok((
                    frames,
                    LogEnd::TornTail {
                        offset: pos as u64,
                        reason,
                    },
                ));
            }
        }
    }
    Ok((frames, LogEnd::Clean))
}

/// Finds a valid frame after `bad` that was written after the bytes at `bad` were synced.
fn later_durable_frame(log: &[u8], bad: usize) -> Option<usize> {
    let last = log.len().checked_sub(HEADER_BYTES)?;
    (bad + 1..=last).find(|&q| {
        // Cheap filter first: only a frame claiming durability past `bad` proves anything.
        let mut synced = [0u8; 8];
        synced.copy_from_slice(&log[q + 8..q + 16]);
        let synced_upto = u64::from_le_bytes(synced);
        synced_upto > bad as u64 && synced_upto <= q as u64 && decode_at(log, q).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(payloads: &[&[u8]], synced: &[u64]) -> Vec<u8> {
        let mut out = Vec::new();
        for (p, s) in payloads.iter().zip(synced) {
            encode(p, *s, &mut out);
        }
        out
    }

    #[test]
    fn frames_round_trip() {
        let log = log_of(&[b"one", b"two two"], &[0, 0]);
        let (frames, end) = read_log(&log, Leniency::default()).unwrap();
        assert_eq!(end, LogEnd::Clean);
        assert_eq!(&log[frames[0].payload.clone()], b"one");
        assert_eq!(&log[frames[1].payload.clone()], b"two two");
    }

    #[test]
    fn every_single_byte_flip_of_a_frame_is_detected() {
        let log = log_of(&[b"payload bytes"], &[0]);
        for i in 0..log.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = log.clone();
                bad[i] ^= flip;
                assert!(decode_at(&bad, 0).is_err(), "flip at {i} undetected");
            }
        }
    }

    #[test]
    fn zero_filled_tail_is_torn_not_records() {
        let mut log = log_of(&[b"a"], &[0]);
        let good = log.len() as u64;
        log.extend_from_slice(&[0; 100]);
        let (frames, end) = read_log(&log, Leniency::default()).unwrap();
        assert_eq!(frames.len(), 1);
        assert!(matches!(end, LogEnd::TornTail { offset, .. } if offset == good));
    }

    #[test]
    fn damage_followed_by_a_frame_written_after_a_sync_is_corruption() {
        let mut log = Vec::new();
        encode(b"first", 0, &mut log);
        let second = log.len();
        encode(b"second", 0, &mut log);
        let synced = log.len() as u64;
        encode(b"third", synced, &mut log);
        log[second + HEADER_BYTES] ^= 0x40;
        let err = read_log(&log, Leniency::default()).unwrap_err();
        assert_eq!(err.offset, second as u64);
        // The defect treats the same bytes as a torn tail.
        let (frames, _) = read_log(
            &log,
            Leniency {
                bad_is_torn: true,
                ..Leniency::default()
            },
        )
        .unwrap();
        assert_eq!(frames.len(), 1);
    }

    #[test]
    fn hole_in_unsynced_bytes_is_a_torn_tail() {
        let mut log = Vec::new();
        encode(b"first", 0, &mut log);
        let second = log.len();
        encode(b"second", 0, &mut log);
        encode(b"third", 0, &mut log);
        for b in &mut log[second..second + 8] {
            *b = 0;
        }
        let (frames, end) = read_log(&log, Leniency::default()).unwrap();
        assert_eq!(frames.len(), 1);
        assert!(matches!(end, LogEnd::TornTail { offset, .. } if offset == second as u64));
    }
}

#[cfg(test)]
mod leniency_tests {
    use super::*;

    #[test]
    fn zeros_as_padding_reads_past_a_hole() {
        let mut log = Vec::new();
        encode(b"first", 0, &mut log);
        let second = log.len();
        encode(b"second", 0, &mut log);
        let third = log.len();
        encode(b"third", 0, &mut log);
        for b in &mut log[second..third] {
            *b = 0;
        }
        let (strict, _) = read_log(&log, Leniency::default()).unwrap();
        assert_eq!(strict.len(), 1);
        let lenient = Leniency {
            zeros_are_padding: true,
            ..Leniency::default()
        };
        let (frames, end) = read_log(&log, lenient).unwrap();
        assert_eq!(
            frames.len(),
            2,
            "the defect skips the hole and replays the third frame"
        );
        assert_eq!(end, LogEnd::Clean);
    }
}
