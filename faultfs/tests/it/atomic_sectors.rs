//! The atomic-sector device model: what a cut sector can hold when the device writes a sector
//! all or nothing, and a canary per claim showing that the default (tearing) device breaks it.
//!
//! The story these guard: a B-tree rewrites its 320-byte header in place, inside one 512-byte
//! sector, and trusts the device to write that sector atomically (SQLite's ATOMIC512). A crash
//! model that fills the cut sector with zeros or garbage reports a corruption such a device never
//! produces; one that tears nothing would hide the corruption a tearing device does produce.

use std::collections::BTreeSet;
use std::path::Path;

use faultfs::{CrashPolicy, DiskImage, Fs, SimFs};

use crate::util::{content, durable_file, seeds};

const SECTOR: u32 = 512;
const HEADER_AT: usize = 96;
const HEADER_LEN: usize = 320;

/// Two durable sectors of a recognisable pattern.
fn old_bytes() -> Vec<u8> {
    (0..2 * SECTOR as usize).map(|i| (i % 251) as u8).collect()
}

fn new_header() -> Vec<u8> {
    vec![b'N'; HEADER_LEN]
}

/// The file with the new header in place of the old one.
fn new_bytes() -> Vec<u8> {
    let mut bytes = old_bytes();
    bytes[HEADER_AT..HEADER_AT + HEADER_LEN].copy_from_slice(&new_header());
    bytes
}

/// A durable two-sector file whose header (inside sector 0) is rewritten in place, not synced.
fn header_rewrite(atomic: bool) -> SimFs {
    let fs = SimFs::new();
    fs.set_atomic_sectors(atomic);
    durable_file(&fs, "db", &old_bytes());
    let file = fs.open(Path::new("db")).unwrap();
    file.write_at(HEADER_AT as u64, &new_header()).unwrap();
    fs
}

/// Whether the file holds the old header or the new one and nothing else changed.
fn old_or_new(bytes: &[u8]) -> bool {
    bytes == old_bytes() || bytes == new_bytes()
}

/// The files named `name` in every image.
fn files_in(images: &[DiskImage], name: &str) -> Vec<Vec<u8>> {
    images
        .iter()
        .map(|image| image.file(name).unwrap().to_vec())
        .collect()
}

#[test]
fn atomic_sectors_torn_header_rewrite_leaves_the_old_or_the_new_header_and_nothing_else() {
    let mut saw = BTreeSet::new();
    for seed in 0..seeds(300) {
        let fs = header_rewrite(true);
        fs.reboot(CrashPolicy::Torn { sector: SECTOR }, seed);
        let got = content(&fs, "db").unwrap();
        assert!(
            old_or_new(&got),
            "seed {seed} left a header the device never wrote"
        );
        saw.insert(got == new_bytes());
    }
    assert_eq!(saw.len(), 2, "the seeds did not reach both outcomes");
}

#[test]
fn tearing_sectors_torn_header_rewrite_shows_zeros_or_garbage_for_some_seed() {
    // The canary of the test above: on the default device the same crash tears the header.
    let torn = (0..seeds(300)).any(|seed| {
        let fs = header_rewrite(false);
        fs.reboot(CrashPolicy::Torn { sector: SECTOR }, seed);
        !old_or_new(&content(&fs, "db").unwrap())
    });
    assert!(torn, "no seed tore the header on a tearing device");
}

#[test]
fn atomic_sectors_enumerated_header_rewrite_disks_hold_only_the_old_or_the_new_header() {
    for policy in [
        CrashPolicy::Torn { sector: SECTOR },
        CrashPolicy::Reorder { sector: SECTOR },
    ] {
        let files = files_in(&header_rewrite(true).crash_images(policy, 1000), "db");
        assert_eq!(files.len(), 2, "{policy}");
        assert!(files.iter().all(|f| old_or_new(f)), "{policy}");
    }
}

#[test]
fn tearing_sectors_enumerated_header_rewrite_disks_include_a_torn_header() {
    let files = files_in(
        &header_rewrite(false).crash_images(CrashPolicy::Torn { sector: SECTOR }, 1000),
        "db",
    );
    assert!(files.iter().any(|f| !old_or_new(f)));
}

/// Two unsynced writes into one durable sector of dots: `A` over 0..100, then `B` over 200..300.
fn two_writes_in_one_sector(atomic: bool) -> SimFs {
    let fs = SimFs::new();
    fs.set_atomic_sectors(atomic);
    durable_file(&fs, "page", &[b'.'; SECTOR as usize]);
    let file = fs.open(Path::new("page")).unwrap();
    file.write_at(0, &[b'A'; 100]).unwrap();
    file.write_at(200, &[b'B'; 100]).unwrap();
    fs
}

/// The sector with `A` and/or `B` written.
fn page(a: bool, b: bool) -> Vec<u8> {
    let mut bytes = vec![b'.'; SECTOR as usize];
    if a {
        bytes[..100].fill(b'A');
    }
    if b {
        bytes[200..300].fill(b'B');
    }
    bytes
}

#[test]
fn atomic_sectors_reorder_leaves_a_sector_as_it_was_at_some_moment_never_a_mix() {
    // The sector held old, old+A, old+A+B; it never held old+B.
    let moments = [page(false, false), page(true, false), page(true, true)];
    let policy = CrashPolicy::Reorder { sector: SECTOR };
    let mut files = files_in(
        &two_writes_in_one_sector(true).crash_images(policy, 100),
        "page",
    );
    files.sort();
    let mut expected = moments.to_vec();
    expected.sort();
    assert_eq!(files, expected);
    for seed in 0..seeds(200) {
        let fs = two_writes_in_one_sector(true);
        fs.reboot(policy, seed);
        let got = content(&fs, "page").unwrap();
        assert!(moments.contains(&got), "seed {seed}");
    }
}

#[test]
fn tearing_sectors_reorder_can_keep_a_later_write_to_a_sector_without_an_earlier_one() {
    // The canary of the test above.
    let policy = CrashPolicy::Reorder { sector: SECTOR };
    let files = files_in(
        &two_writes_in_one_sector(false).crash_images(policy, 100),
        "page",
    );
    assert!(files.contains(&page(false, true)));
}

#[test]
fn atomic_sectors_still_reorder_whole_sectors_and_tear_between_them() {
    // The model forbids mixes inside a sector, not losses across sectors: an append of three
    // sectors can lose the first and keep the last under Reorder, and keep only the first under
    // Torn.
    let fs = SimFs::new();
    fs.set_atomic_sectors(true);
    durable_file(&fs, "wal", b"");
    let file = fs.open(Path::new("wal")).unwrap();
    let data: Vec<u8> = [b'1', b'2', b'3']
        .iter()
        .flat_map(|b| vec![*b; SECTOR as usize])
        .collect();
    file.write_at(0, &data).unwrap();
    let sector = |bytes: &[u8], i: usize| bytes[i * 512..(i + 1) * 512].to_vec();
    let reordered = files_in(
        &fs.crash_images(CrashPolicy::Reorder { sector: SECTOR }, 100),
        "wal",
    );
    assert!(
        reordered.iter().any(|f| f.len() == data.len()
            && sector(f, 0) == [0; 512]
            && sector(f, 2) == [b'3'; 512])
    );
    let torn = files_in(
        &fs.crash_images(CrashPolicy::Torn { sector: SECTOR }, 100),
        "wal",
    );
    assert!(torn.contains(&vec![b'1'; 512]), "{}", torn.len());
    for f in &torn {
        assert!(
            f.is_empty() || data.starts_with(f),
            "Torn left a sector it never wrote"
        );
    }
}

#[test]
fn atomic_sectors_default_off_survive_a_reboot_and_are_copied_by_fork() {
    let fs = SimFs::new();
    assert!(!fs.atomic_sectors());
    fs.set_atomic_sectors(true);
    fs.reboot(CrashPolicy::Strict, 0);
    assert!(fs.atomic_sectors());
    assert!(fs.fork().atomic_sectors());
    let image = fs.durable_image();
    assert!(!SimFs::from_image(&image).atomic_sectors());
}
