//! Sequence continuity at recovery: the WALs must continue exactly where the SSTs stop.
//!
//! Every write gets the next sequence number. A flush edit records the newest sequence number
//! its SST holds (`VersionState::last_sequence`), every WAL begins with a header naming the
//! sequence number of its first batch, and every batch carries its own. So in a healthy
//! directory the records to replay form one unbroken chain: the oldest WAL to replay starts at
//! the MANIFEST's last sequence number + 1, each batch follows the one before, and each WAL
//! starts where the previous one ended (the previous WAL was synced before the next was made).
//!
//! A break in the chain is a hole that no crash can cause. Replaying across it would recover
//! later writes without earlier ones, so it is refused, naming the file that is provably
//! damaged:
//! - the oldest WAL starts past the MANIFEST's last sequence number: the writes in between are
//!   in no WAL and in no SST the MANIFEST names, so the MANIFEST lost edits (a truncation) or a
//!   WAL it still needs is gone: the MANIFEST is named;
//! - a WAL starts past where the previous WAL ended: the previous WAL lost records;
//! - a WAL's first record is not its header, a second header appears, or a batch does not
//!   follow the one before: the WAL was overwritten in place (a misdirected write).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::wal::{ReadRecord, WalRecord};

/// The records of one WAL, as read back.
pub(super) struct WalLog {
    pub path: PathBuf,
    pub records: Vec<ReadRecord>,
}

/// Checks that the batches of `logs` (oldest WAL first) continue the SSTs' `last_sequence`
/// without a gap or an overlap. Returns the sequence number of the newest batch (or
/// `last_sequence` when there is none). `manifest` is named when the MANIFEST is to blame.
pub(super) fn check_chain(manifest: &Path, last_sequence: u64, logs: &[WalLog]) -> Result<u64> {
    let mut expected = last_sequence + 1;
    // The WAL the chain last went through, to blame when the next one starts too late.
    let mut previous: Option<&Path> = None;
    for log in logs {
        let Some((first, rest)) = log.records.split_first() else {
            // Never written to, or only a torn tail: nothing to replay, nothing it proves.
            continue;
        };
        let WalRecord::Header { start_seq } = first.record else {
            return Err(Error::corruption(
                &log.path,
                first.offset,
                "the WAL does not begin with its header but with a batch: its start was \
                 overwritten by later records, so the batches it first held are lost",
            ));
        };
        if start_seq != expected {
            return Err(start_mismatch(
                manifest,
                last_sequence,
                previous,
                log,
                start_seq,
                expected,
            ));
        }
        for r in rest {
            match &r.record {
                WalRecord::Header { .. } => {
                    return Err(Error::corruption(
                        &log.path,
                        r.offset,
                        "a second WAL header in the middle of the WAL: it was overwritten",
                    ));
                }
                WalRecord::Batch { seq, ops } => {
                    if *seq != expected {
                        return Err(Error::corruption(
                            &log.path,
                            r.offset,
                            format!(
                                "batch with sequence number {seq} where {expected} was expected: \
                                 {}",
                                if *seq > expected {
                                    "the batches in between are missing"
                                } else {
                                    "it repeats sequence numbers of earlier batches"
                                }
                            ),
                        ));
                    }
                    expected = seq + ops.len() as u64;
                }
            }
        }
        previous = Some(&log.path);
    }
    Ok(expected - 1)
}

/// The error for a WAL whose header does not continue the chain.
fn start_mismatch(
    manifest: &Path,
    last_sequence: u64,
    previous: Option<&Path>,
    log: &WalLog,
    start_seq: u64,
    expected: u64,
) -> Error {
    let wal = log.path.display();
    match previous {
        _ if start_seq < expected => Error::corruption(
            &log.path,
            0,
            format!(
                "the WAL begins at sequence number {start_seq}, but writes up to {} are already \
                 in SSTs or earlier WALs: the WAL repeats them",
                expected - 1
            ),
        ),
        None => Error::corruption(
            manifest,
            0,
            format!(
                "the MANIFEST's SSTs end at sequence number {last_sequence}, but the oldest WAL \
                 to replay, {wal}, begins at {start_seq}: writes {expected}..{} are in no SST it \
                 names and in no WAL, so the MANIFEST lost edits (was it truncated?) or a WAL \
                 it needs is gone",
                start_seq - 1
            ),
        ),
        Some(prev) => Error::corruption(
            prev,
            0,
            format!(
                "this WAL ends at sequence number {}, but the next WAL, {wal}, begins at \
                 {start_seq} (it was created after this one was synced): writes {expected}..{} \
                 were lost from this WAL",
                expected - 1,
                start_seq - 1
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::BatchOp;

    fn header(start_seq: u64) -> ReadRecord {
        ReadRecord {
            offset: 0,
            record: WalRecord::Header { start_seq },
        }
    }

    fn batch(offset: u64, seq: u64, n: usize) -> ReadRecord {
        let ops = (0..n)
            .map(|i| BatchOp::Delete { key: vec![i as u8] })
            .collect();
        ReadRecord {
            offset,
            record: WalRecord::Batch { seq, ops },
        }
    }

    fn log(name: &str, records: Vec<ReadRecord>) -> WalLog {
        WalLog {
            path: PathBuf::from(name),
            records,
        }
    }

    fn blamed(err: Error) -> (String, u64) {
        match err {
            Error::Corruption { file, offset, .. } => (file.display().to_string(), offset),
            other => panic!("not corruption: {other}"),
        }
    }

    const M: &str = "MANIFEST-000003";

    #[test]
    fn wals_that_continue_the_manifest_and_each_other_are_accepted() {
        let logs = [
            log(
                "5.wal",
                vec![header(11), batch(20, 11, 2), batch(60, 13, 1)],
            ),
            log("6.wal", vec![header(14), batch(20, 14, 3)]),
            // Created by a memtable switch, never written to.
            log("8.wal", vec![]),
        ];
        assert_eq!(check_chain(Path::new(M), 10, &logs).unwrap(), 16);
        assert_eq!(check_chain(Path::new(M), 10, &[]).unwrap(), 10);
    }

    #[test]
    fn a_wal_starting_past_the_manifest_blames_the_manifest() {
        let logs = [log("7.wal", vec![header(15), batch(20, 15, 1)])];
        let (file, _) = blamed(check_chain(Path::new(M), 10, &logs).unwrap_err());
        assert_eq!(file, M);
    }

    #[test]
    fn a_wal_starting_past_the_previous_one_blames_the_previous_one() {
        let logs = [
            log("5.wal", vec![header(11), batch(20, 11, 2)]),
            log("6.wal", vec![header(20)]),
        ];
        let (file, _) = blamed(check_chain(Path::new(M), 10, &logs).unwrap_err());
        assert_eq!(file, "5.wal");
    }

    #[test]
    fn a_wal_overwritten_at_its_start_or_middle_blames_the_wal() {
        let no_header = [log("5.wal", vec![batch(0, 14, 1), batch(40, 15, 1)])];
        assert_eq!(
            blamed(check_chain(Path::new(M), 10, &no_header).unwrap_err()),
            ("5.wal".into(), 0)
        );
        let gap = [log(
            "5.wal",
            vec![header(11), batch(20, 11, 1), batch(50, 13, 1)],
        )];
        assert_eq!(
            blamed(check_chain(Path::new(M), 10, &gap).unwrap_err()),
            ("5.wal".into(), 50)
        );
        let repeat = [log(
            "5.wal",
            vec![header(11), batch(20, 11, 2), batch(50, 12, 1)],
        )];
        assert_eq!(
            blamed(check_chain(Path::new(M), 10, &repeat).unwrap_err()),
            ("5.wal".into(), 50)
        );
        let overlap = [log("5.wal", vec![header(9), batch(20, 9, 1)])];
        assert_eq!(
            blamed(check_chain(Path::new(M), 10, &overlap).unwrap_err()),
            ("5.wal".into(), 0)
        );
    }

    #[test]
    fn empty_batches_take_no_sequence_number() {
        let logs = [log(
            "5.wal",
            vec![header(11), batch(20, 11, 0), batch(40, 11, 1)],
        )];
        assert_eq!(check_chain(Path::new(M), 10, &logs).unwrap(), 11);
    }
}
