//! Properties tying the crash model together on random operation sequences: `KeepAll` leaves
//! exactly what was visible before the cut, a disk with nothing pending survives every policy
//! unchanged, and every sampled reboot is one of the enumerated disks.

use std::collections::BTreeSet;
use std::path::Path;

use faultfs::{CrashPolicy, DiskImage, Fs, SimFs};
use proptest::prelude::*;

const FILES: [&str; 4] = ["a", "b", "d/x", "d/y"];

#[derive(Clone, Debug)]
enum Op {
    Create(usize),
    Write(usize, u64, u8, usize),
    SetLen(usize, u64),
    Sync(usize),
    Rename(usize, usize),
    Remove(usize),
    MakeDir,
    SyncDir(bool),
}

fn op() -> impl Strategy<Value = Op> {
    let file = 0..FILES.len();
    prop_oneof![
        file.clone().prop_map(Op::Create),
        (file.clone(), 0..24u64, any::<u8>(), 1..20usize)
            .prop_map(|(f, o, b, n)| Op::Write(f, o, b, n)),
        (file.clone(), 0..32u64).prop_map(|(f, l)| Op::SetLen(f, l)),
        file.clone().prop_map(Op::Sync),
        (file.clone(), file.clone()).prop_map(|(a, b)| Op::Rename(a, b)),
        file.prop_map(Op::Remove),
        Just(Op::MakeDir),
        any::<bool>().prop_map(Op::SyncDir),
    ]
}

fn apply(fs: &SimFs, op: &Op) {
    let path = |i: usize| Path::new(FILES[i]);
    // Errors (missing files, taken names) are part of the random walk; they change nothing.
    let _ = (|| -> std::io::Result<()> {
        match op {
            Op::Create(f) => fs.create(path(*f)).map(|_| ()),
            Op::Write(f, o, b, n) => fs.open(path(*f))?.write_at(*o, &vec![*b; *n]),
            Op::SetLen(f, l) => fs.open(path(*f))?.set_len(*l),
            Op::Sync(f) => fs.open(path(*f))?.sync(),
            Op::Rename(a, b) => fs.rename(path(*a), path(*b)),
            Op::Remove(f) => fs.remove(path(*f)),
            Op::MakeDir => fs.create_dir_all(Path::new("d")),
            Op::SyncDir(root) => fs.sync_dir(Path::new(if *root { "" } else { "d" })),
        }
    })();
}

/// What the fs shows now, as an image.
fn live_view(fs: &SimFs) -> DiskImage {
    let mut files = Vec::new();
    for dir in ["", "d"] {
        let Ok(names) = fs.list(Path::new(dir)) else {
            continue;
        };
        for name in names {
            let path = Path::new(dir).join(&name);
            if let Ok(file) = fs.open(&path) {
                let mut buf = vec![0; file.len().unwrap() as usize];
                file.read_exact_at(0, &mut buf).unwrap();
                files.push((path, buf));
            }
        }
    }
    DiskImage::from_files(files)
}

fn run(ops: &[Op]) -> SimFs {
    let fs = SimFs::new();
    for op in ops {
        apply(&fs, op);
    }
    fs
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::util::seeds(64) as u32))]

    #[test]
    fn keep_all_leaves_exactly_the_live_view(ops in prop::collection::vec(op(), 1..30)) {
        let fs = run(&ops);
        let mut live = live_view(&fs).files();
        let fork = fs.fork();
        fork.reboot(CrashPolicy::KeepAll, 0);
        let mut after = live_view(&fork).files();
        // An empty "d" shows as no files in both; compare files only.
        live.sort();
        after.sort();
        prop_assert_eq!(after, live);
        let image = &fs.crash_images(CrashPolicy::KeepAll, 1)[0];
        prop_assert_eq!(image.files(), live_view(&fork).files());
    }

    #[test]
    fn a_disk_with_nothing_pending_survives_every_policy(ops in prop::collection::vec(op(), 1..30), seed in any::<u64>()) {
        let fs = run(&ops);
        fs.reboot(CrashPolicy::Strict, 0);
        let before = fs.durable_image();
        for policy in crate::util::POLICIES {
            let fork = fs.fork();
            fork.reboot(policy, seed);
            prop_assert_eq!(fork.durable_image(), before.clone());
        }
    }

    #[test]
    fn every_sampled_reboot_is_an_enumerated_disk(ops in prop::collection::vec(op(), 1..8), seed in 0..1000u64) {
        let fs = run(&ops);
        for policy in [CrashPolicy::Torn { sector: 16 }, CrashPolicy::Reorder { sector: 16 }] {
            let all: BTreeSet<u64> = fs
                .crash_images(policy, 1 << 20)
                .iter()
                .map(DiskImage::content_hash)
                .collect();
            let fork = fs.fork();
            fork.reboot(policy, seed);
            prop_assert!(all.contains(&fork.durable_image().content_hash()), "{policy}");
        }
    }
}

/// In-place rewrites of a durable file of four 16-byte sectors, none synced.
fn rewrites() -> impl Strategy<Value = Vec<(u64, u8, usize)>> {
    prop::collection::vec(
        (0..64u64).prop_flat_map(|at| (Just(at), 1..=u8::MAX, 1..=(64 - at as usize))),
        1..6,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::util::seeds(64) as u32))]

    #[test]
    fn under_atomic_sectors_every_sector_holds_bytes_it_really_held(writes in rewrites(), seed in 0..1000u64) {
        let fs = SimFs::new();
        fs.set_atomic_sectors(true);
        let file = fs.create(Path::new("f")).unwrap();
        file.write_at(0, &[0xEE; 64]).unwrap();
        file.sync().unwrap();
        fs.sync_dir(Path::new("")).unwrap();
        // The file at every moment: durable, then after each write.
        let mut moments = vec![vec![0xEE; 64]];
        for (at, byte, len) in &writes {
            file.write_at(*at, &vec![*byte; *len]).unwrap();
            let mut next = moments.last().unwrap().clone();
            next[*at as usize..*at as usize + len].fill(*byte);
            moments.push(next);
        }
        for policy in [CrashPolicy::Torn { sector: 16 }, CrashPolicy::Reorder { sector: 16 }] {
            let fork = fs.fork();
            fork.reboot(policy, seed);
            let mut disks = fs.crash_images(policy, 1 << 16);
            disks.push(fork.durable_image());
            for disk in &disks {
                let got = disk.file("f").unwrap();
                prop_assert_eq!(got.len(), 64);
                for s in 0..4 {
                    let range = s * 16..(s + 1) * 16;
                    prop_assert!(
                        moments.iter().any(|m| m[range.clone()] == got[range.clone()]),
                        "{} left sector {} as {:?}", policy, s, &got[range.clone()]
                    );
                }
            }
        }
    }

    #[test]
    fn under_atomic_sectors_every_sampled_reboot_is_an_enumerated_disk(ops in prop::collection::vec(op(), 1..8), seed in 0..1000u64) {
        let fs = run(&ops);
        fs.set_atomic_sectors(true);
        for policy in [CrashPolicy::Torn { sector: 16 }, CrashPolicy::Reorder { sector: 16 }] {
            let all: BTreeSet<u64> = fs
                .crash_images(policy, 1 << 20)
                .iter()
                .map(DiskImage::content_hash)
                .collect();
            let fork = fs.fork();
            fork.reboot(policy, seed);
            prop_assert!(all.contains(&fork.durable_image().content_hash()), "{policy}");
        }
    }
}
