//! Several simulated disks, each with its own SQLite database, on several threads at once: each
//! connection must reach its own file system through the one process-wide VFS.

use std::thread;

use faultfs::{CrashPolicy, SimFs};
use sqlite_store::{DeviceAssumptions, Journal, Sync, VfsMount};

use crate::common::{config, contents, open_sim, put, states};

fn one_disk(i: u64) -> u64 {
    let journal = if i.is_multiple_of(2) {
        Journal::Delete
    } else {
        Journal::Wal
    };
    let cfg = config(journal, Sync::Full);
    let fs = SimFs::with_seed(i);
    let batches: Vec<_> = (0..30)
        .map(|n| vec![put(&format!("t{i}-k{}", n % 5), &format!("t{i}-v{n}"))])
        .collect();
    let expected = states(&batches).pop().unwrap_or_default();
    let mut kv = open_sim(&fs, &cfg, DeviceAssumptions::default()).expect("open");
    let token = kv.mount().token();
    for batch in &batches {
        kv.write(batch, true).expect("write");
    }
    assert_eq!(contents(&mut kv).expect("scan"), expected);
    fs.power_off();
    drop(kv);
    fs.reboot(CrashPolicy::Strict, i);
    let mut kv = open_sim(&fs, &cfg, DeviceAssumptions::default()).expect("reopen");
    assert_eq!(contents(&mut kv).expect("scan"), expected, "disk {i}");
    kv.close().expect("close");
    token
}

#[test]
fn databases_on_separate_simulated_disks_run_on_threads_at_once() {
    let tokens: Vec<u64> = thread::scope(|s| {
        let handles: Vec<_> = (0..6).map(|i| s.spawn(move || one_disk(i))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread panicked"))
            .collect()
    });
    for token in tokens {
        assert!(!VfsMount::is_mounted(token), "mount {token} leaked");
    }
}
