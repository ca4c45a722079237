//! Helpers shared by the tests.

use std::path::Path;

use faultfs::{CrashPolicy, DiskImage, File, Fs, SimFs};

/// Creates `path` with `data`, syncs the data and the parent directory.
pub fn durable_file(fs: &dyn Fs, path: &str, data: &[u8]) {
    let file = fs.create(Path::new(path)).unwrap();
    file.write_at(0, data).unwrap();
    file.sync().unwrap();
    let parent = Path::new(path).parent().unwrap_or(Path::new(""));
    fs.sync_dir(parent).unwrap();
}

/// The whole content of a file as the fs shows it now.
pub fn read_all(fs: &dyn Fs, path: &str) -> Vec<u8> {
    let file = fs.open(Path::new(path)).unwrap();
    read_file(file.as_ref())
}

fn read_file(file: &dyn File) -> Vec<u8> {
    let len = file.len().unwrap() as usize;
    let mut buf = vec![0; len];
    file.read_exact_at(0, &mut buf).unwrap();
    buf
}

/// The content of `path` if it exists.
pub fn content(fs: &SimFs, path: &str) -> Option<Vec<u8>> {
    if fs.exists(Path::new(path)).unwrap() {
        Some(read_all(fs, path))
    } else {
        None
    }
}

/// How many seeds slow sweeps run (POWERCUT_SEEDS, default `default`).
pub fn seeds(default: u64) -> u64 {
    std::env::var("POWERCUT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The disk as it is now, once nothing is pending (after a reboot).
pub fn disk(fs: &SimFs) -> DiskImage {
    fs.durable_image()
}

/// Every policy, with small sectors so short writes still split.
pub const POLICIES: [CrashPolicy; 4] = [
    CrashPolicy::Strict,
    CrashPolicy::KeepAll,
    CrashPolicy::Torn { sector: 8 },
    CrashPolicy::Reorder { sector: 8 },
];
