//! CURRENT: names the live MANIFEST.
//!
//! ```text
//! MANIFEST-000123\n
//! 1a2b3c4d\n          crc32c of the name, 8 lowercase hex digits
//! ```
//!
//! It is never written in place: the next CURRENT goes to `CURRENT.tmp`, is synced, renamed over
//! CURRENT, and the directory is synced, so after a crash CURRENT is the old one or the new one.

use std::path::Path;

use faultfs::Fs;

use crate::error::{Error, IoContext, Result};
use crate::filename::{self, CURRENT, CURRENT_TMP, FileKind};

pub fn encode(manifest_number: u64) -> Vec<u8> {
    let name = filename::manifest_name(manifest_number);
    // `format!("{name}\n{crc:08x}\n")`, sized once and without the formatting machinery.
    let mut bytes = Vec::with_capacity(name.len() + 10);
    bytes.extend_from_slice(name.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(&crc_hex(name.as_bytes()));
    bytes.push(b'\n');
    bytes
}

/// The crc32c of `name` as 8 lowercase hex digits (what `{:08x}` writes).
fn crc_hex(name: &[u8]) -> [u8; 8] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let crc = crc32c::crc32c(name);
    let mut hex = [0u8; 8];
    for (i, digit) in hex.iter_mut().enumerate() {
        *digit = DIGITS[((crc >> (28 - 4 * i)) & 0xf) as usize];
    }
    hex
}

/// The MANIFEST number a CURRENT file names, or why its bytes are not a valid CURRENT.
pub fn decode(bytes: &[u8]) -> std::result::Result<u64, &'static str> {
    decode_checked(bytes, true)
}

/// [`decode`], with the checksum check switchable (off only for the catalogued defect).
fn decode_checked(bytes: &[u8], verify: bool) -> std::result::Result<u64, &'static str> {
    let text = std::str::from_utf8(bytes).map_err(|_| "CURRENT is not UTF-8")?;
    let mut lines = text.split('\n');
    let name = lines.next().ok_or("CURRENT is empty")?;
    let crc = lines.next().ok_or("CURRENT has no checksum line")?;
    if lines.next() != Some("") || lines.next().is_some() {
        return Err("CURRENT is not exactly two lines");
    }
    if verify && crc.as_bytes() != crc_hex(name.as_bytes()) {
        return Err("CURRENT checksum mismatch");
    }
    match filename::parse(name) {
        Some(FileKind::Manifest(n)) => Ok(n),
        _ => Err("CURRENT does not name a MANIFEST"),
    }
}

/// Reads CURRENT: `None` when there is none (a database never fully created). `verify` is off
/// only for the catalogued defect that trusts CURRENT without its checksum.
pub fn read(fs: &dyn Fs, dir: &Path, verify: bool) -> Result<Option<u64>> {
    let path = filename::join(dir, CURRENT);
    if !fs.exists(&path).ctx("looking for", &path)? {
        return Ok(None);
    }
    let file = fs.open(&path).ctx("opening", &path)?;
    let len = file.len().ctx("reading length of", &path)?;
    if len > 4096 {
        return Err(Error::corruption(&path, 0, "CURRENT is too long"));
    }
    let mut bytes = vec![0u8; len as usize];
    file.read_exact_at(0, &mut bytes).ctx("reading", &path)?;
    decode_checked(&bytes, verify)
        .map(Some)
        .map_err(|reason| Error::corruption(&path, 0, reason))
}

/// Points CURRENT at MANIFEST `manifest_number` atomically and durably.
/// `in_place` is the defect that overwrites CURRENT directly (issue 6).
pub fn install(fs: &dyn Fs, dir: &Path, manifest_number: u64, in_place: bool) -> Result<()> {
    let bytes = encode(manifest_number);
    let current = filename::join(dir, CURRENT);
    if in_place {
        let file = if fs.exists(&current).ctx("looking for", &current)? {
            fs.open(&current).ctx("opening", &current)?
        } else {
            fs.create(&current).ctx("creating", &current)?
        };
        file.set_len(0).ctx("truncating", &current)?;
        file.write_at(0, &bytes).ctx("writing", &current)?;
        // The defect still syncs (protecting the finished bytes and a newly created name);
        // what it lacks is atomicity: a power cut between the truncation and this sync can
        // leave CURRENT empty or half-written.
        file.sync().ctx("syncing", &current)?;
        return fs.sync_dir(dir).ctx("syncing directory", dir);
    }
    let tmp = filename::join(dir, CURRENT_TMP);
    if fs.exists(&tmp).ctx("looking for", &tmp)? {
        fs.remove(&tmp).ctx("removing leftover", &tmp)?;
    }
    let file = fs.create(&tmp).ctx("creating", &tmp)?;
    file.write_at(0, &bytes).ctx("writing", &tmp)?;
    // Protects against the rename below becoming durable before the bytes it exposes: after a
    // power cut CURRENT would be empty or garbage and the database could not be opened.
    file.sync().ctx("syncing", &tmp)?;
    fs.rename(&tmp, &current)
        .ctx("renaming CURRENT.tmp over", &current)?;
    // Protects against a power cut bringing back the old CURRENT after the caller goes on to
    // remove the MANIFEST it names.
    fs.sync_dir(dir).ctx("syncing directory", dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_round_trips() {
        assert_eq!(decode(&encode(42)), Ok(42));
    }

    #[test]
    fn encode_writes_what_format_writes() {
        for n in [0, 1, 42, 999_999, 1_000_000, u64::MAX] {
            let name = filename::manifest_name(n);
            let expected = format!("{name}\n{:08x}\n", crc32c::crc32c(name.as_bytes()));
            assert_eq!(encode(n), expected.into_bytes());
        }
    }

    #[test]
    fn every_single_byte_flip_of_current_is_detected() {
        let good = encode(1234);
        for i in 0..good.len() {
            for flip in [0x01u8, 0x20, 0x80] {
                let mut bad = good.clone();
                bad[i] ^= flip;
                assert!(decode(&bad).is_err(), "flip {flip:#x} at {i}");
            }
        }
    }

    #[test]
    fn truncated_current_is_refused() {
        let good = encode(7);
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err());
        }
    }
}
