//! Listing the distinct post-crash disks of a crash point (what `powercut explore` walks).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use faultfs::{CrashPolicy, DiskImage, Fs, SimFs};

use crate::util::{POLICIES, disk, durable_file};

/// A small case: a log with three pending appends (two sectors each), a new file whose name is
/// pending, and a pending rename.
fn small_case() -> SimFs {
    let fs = SimFs::new();
    durable_file(&fs, "wal", b"");
    durable_file(&fs, "a", b"A");
    let wal = fs.open(Path::new("wal")).unwrap();
    for i in 0..3u64 {
        wal.write_at(i * 16, &[b'1' + i as u8; 16]).unwrap();
    }
    fs.create(Path::new("new")).unwrap();
    fs.rename(Path::new("a"), Path::new("b")).unwrap();
    fs
}

fn hashes(images: &[DiskImage]) -> Vec<u64> {
    images.iter().map(DiskImage::content_hash).collect()
}

#[test]
fn enumerated_disks_are_distinct_and_bounded() {
    let fs = small_case();
    for policy in POLICIES {
        for bound in [1, 3, 10, 1000] {
            let images = fs.crash_images(policy, bound);
            assert!(!images.is_empty() && images.len() <= bound);
            let distinct: BTreeSet<u64> = hashes(&images).into_iter().collect();
            assert_eq!(distinct.len(), images.len(), "{policy} bound {bound}");
        }
    }
    assert_eq!(fs.crash_images(CrashPolicy::Strict, 100).len(), 1);
    assert_eq!(fs.crash_images(CrashPolicy::KeepAll, 100).len(), 1);
    assert!(
        fs.crash_images(CrashPolicy::Torn { sector: 8 }, 0)
            .is_empty()
    );
}

#[test]
fn enumeration_starts_with_the_strict_and_keep_all_disks() {
    let fs = small_case();
    let strict = fs.crash_images(CrashPolicy::Strict, 1)[0].content_hash();
    let keep_all = fs.crash_images(CrashPolicy::KeepAll, 1)[0].content_hash();
    assert_ne!(strict, keep_all);
    for policy in [
        CrashPolicy::Torn { sector: 8 },
        CrashPolicy::Reorder { sector: 8 },
    ] {
        let images = fs.crash_images(policy, 1000);
        assert_eq!(images[0].content_hash(), strict, "{policy}");
        assert_eq!(images[1].content_hash(), keep_all, "{policy}");
    }
}

#[test]
fn every_sampled_reboot_appears_in_the_full_enumeration() {
    for policy in POLICIES {
        let all: BTreeSet<u64> = hashes(&small_case().crash_images(policy, 100_000))
            .into_iter()
            .collect();
        for seed in 0..300 {
            let fs = small_case();
            fs.reboot(policy, seed);
            let got = disk(&fs).content_hash();
            assert!(
                all.contains(&got),
                "{policy} seed {seed} left a disk the enumeration lacks"
            );
        }
    }
}

#[test]
fn enumeration_finds_more_disks_than_sampling_misses() {
    // Reorder over 6 sectors and 2 namespace operations: 2^8 subsets, all distinct here.
    let images = small_case().crash_images(CrashPolicy::Reorder { sector: 8 }, 100_000);
    assert_eq!(images.len(), 256);
    // Torn: the log has 3 writes of 2 sectors, the root a prefix of 2 operations.
    let torn = small_case().crash_images(CrashPolicy::Torn { sector: 8 }, 100_000);
    assert!(torn.len() > 20, "{}", torn.len());
}

#[test]
fn enumeration_changes_nothing() {
    let fs = small_case();
    let before = fs.trace_hash();
    let _ = fs.crash_images(CrashPolicy::Reorder { sector: 8 }, 50);
    assert_eq!(fs.trace_hash(), before);
    fs.reboot(CrashPolicy::KeepAll, 0);
    assert!(fs.exists(Path::new("b")).unwrap());
}

#[test]
fn from_image_brings_back_an_enumerated_disk() {
    let fs = small_case();
    for image in fs.crash_images(CrashPolicy::Torn { sector: 8 }, 30) {
        let copy = SimFs::from_image(&image);
        assert_eq!(disk(&copy), image);
        for (path, bytes) in image.files() {
            let file = copy.open(&path).unwrap();
            let mut buf = vec![0; bytes.len()];
            file.read_exact_at(0, &mut buf).unwrap();
            assert_eq!(buf, bytes);
        }
    }
}

#[test]
fn mutation_hook_sees_every_crash_point_with_its_images() {
    let fs = SimFs::new();
    let points = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&points);
    fs.set_mutation_hook(Some(Box::new(move |point| {
        let images = point.crash_images(CrashPolicy::Torn { sector: 8 }, 16);
        sink.lock().unwrap().push((point.op_index, images.len()));
    })));
    durable_file(&fs, "wal", b"0123456789abcdef");
    let wal = fs.open(Path::new("wal")).unwrap();
    wal.write_at(16, &[1; 16]).unwrap();
    wal.sync().unwrap();
    fs.set_mutation_hook(None);
    let points = points.lock().unwrap();
    let indexes: Vec<u64> = points.iter().map(|p| p.0).collect();
    assert_eq!(indexes, vec![0, 1, 2, 3, 4, 5]);
    // Before the first op nothing is pending; before the last sync a 2-sector write is.
    assert_eq!(points[0].1, 1);
    assert!(points[5].1 > 2);
}

#[test]
fn forked_disk_diverges_from_its_original() {
    let fs = small_case();
    let fork = fs.fork();
    fork.reboot(CrashPolicy::Strict, 0);
    assert!(fs.is_powered());
    assert!(fs.exists(Path::new("new")).unwrap());
    assert!(!fork.exists(Path::new("new")).unwrap());
}

/// Images list their paths in `Path` order (where `a/x` sorts before `a.b`, unlike in byte
/// order) whichever way they were built, so the same disk compares and hashes equal.
#[test]
fn images_list_paths_in_path_order() {
    let fs = SimFs::new();
    fs.create_dir_all(Path::new("a/b")).unwrap();
    fs.create_dir_all(Path::new("a.d")).unwrap();
    for (i, name) in ["a.b", "a-c", "a/x", "a/b/y", "a/b.z", "a.d/w", "b", "A"]
        .into_iter()
        .enumerate()
    {
        let f = fs.create(Path::new(name)).unwrap();
        f.write_at(0, &[i as u8; 3]).unwrap();
        f.sync().unwrap();
    }
    for dir in ["", "a", "a/b", "a.d"] {
        fs.sync_dir(Path::new(dir)).unwrap();
    }
    fs.create(Path::new("a/b/pending")).unwrap();
    let mut images = vec![fs.durable_image()];
    images.extend(fs.crash_images(CrashPolicy::KeepAll, 10));
    for image in images {
        let paths: Vec<&Path> = image.paths().collect();
        let mut sorted = paths.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(paths, sorted);
        let dirs: Vec<&Path> = image.dir_paths().collect();
        assert_eq!(dirs, [Path::new("a"), Path::new("a/b"), Path::new("a.d")]);
        let rebuilt = DiskImage::from_files(image.files());
        assert!(rebuilt == image);
        assert_eq!(rebuilt.content_hash(), image.content_hash());
        for path in &paths {
            assert_eq!(image.file(path), rebuilt.file(path));
            assert!(image.file(path).is_some());
        }
        assert_eq!(image.file("a/nothing"), None);
    }
}

/// Pending writes that later changes overwrite or cut keep their own bytes: a crash can still
/// leave each of them as it was written, whatever the live bytes hold now.
#[test]
fn pending_writes_keep_their_bytes_when_later_changes_overwrite_or_cut_them() {
    let fs = SimFs::new();
    durable_file(&fs, "f", b"");
    let f = fs.open(Path::new("f")).unwrap();
    f.write_at(0, b"aaaaaaaa").unwrap();
    f.write_at(4, b"bbbbbbbb").unwrap();
    f.write_at(2, b"cc").unwrap();
    f.set_len(6).unwrap();
    f.write_at(6, b"dd").unwrap();
    let mut read = [0u8; 8];
    f.read_exact_at(0, &mut read).unwrap();
    assert_eq!(&read, b"aaccbbdd");
    let contents = |policy| -> BTreeSet<Vec<u8>> {
        fs.crash_images(policy, 10_000)
            .iter()
            .filter_map(|image| image.file("f").map(<[u8]>::to_vec))
            .collect()
    };
    let torn = contents(CrashPolicy::Torn { sector: 4 });
    for expected in [
        &b""[..],
        b"aaaaaaaa",
        b"aaaabbbbbbbb",
        b"aaccbbbbbbbb",
        b"aaccbb",
        b"aaccbbdd",
    ] {
        assert!(
            torn.contains(expected),
            "{:?}",
            String::from_utf8_lossy(expected)
        );
    }
    let keep_all = contents(CrashPolicy::KeepAll);
    assert_eq!(keep_all, BTreeSet::from([b"aaccbbdd".to_vec()]));
    f.sync().unwrap();
    assert_eq!(fs.durable_image().file("f"), Some(&b"aaccbbdd"[..]));
}
