//! Cutting the power (section 2.2): nothing after the cut reaches the disk.

use std::path::Path;
use std::sync::{Arc, Mutex};

use faultfs::{CrashPolicy, EventOp, Fs, SimFs, is_power_loss};

use crate::util::{durable_file, read_all};

#[test]
fn operations_after_power_off_fail_with_power_loss() {
    let fs = SimFs::new();
    durable_file(&fs, "f", b"abc");
    let file = fs.open(Path::new("f")).unwrap();
    fs.power_off();
    assert!(!fs.is_powered());
    let mut buf = [0u8; 1];
    assert!(is_power_loss(&file.write_at(0, b"z").unwrap_err()));
    assert!(is_power_loss(&file.sync().unwrap_err()));
    assert!(is_power_loss(&file.read_exact_at(0, &mut buf).unwrap_err()));
    assert!(is_power_loss(&file.len().unwrap_err()));
    assert!(is_power_loss(&fs.create(Path::new("g")).unwrap_err()));
    assert!(is_power_loss(&fs.open(Path::new("f")).unwrap_err()));
    assert!(is_power_loss(
        &fs.rename(Path::new("f"), Path::new("g")).unwrap_err()
    ));
    assert!(is_power_loss(&fs.remove(Path::new("f")).unwrap_err()));
    assert!(is_power_loss(&fs.list(Path::new("")).unwrap_err()));
    assert!(is_power_loss(&fs.sync_dir(Path::new("")).unwrap_err()));
    assert!(is_power_loss(&fs.exists(Path::new("f")).unwrap_err()));
    assert!(is_power_loss(&fs.lock(Path::new("LOCK")).unwrap_err()));
    assert!(is_power_loss(
        &fs.create_dir_all(Path::new("d")).unwrap_err()
    ));
    fs.reboot(CrashPolicy::KeepAll, 1);
    assert_eq!(read_all(&fs, "f"), b"abc");
}

#[test]
fn handles_from_before_a_reboot_stay_dead() {
    let fs = SimFs::new();
    durable_file(&fs, "f", b"abc");
    let file = fs.open(Path::new("f")).unwrap();
    fs.reboot(CrashPolicy::Strict, 1);
    assert!(fs.is_powered());
    assert!(is_power_loss(&file.write_at(0, b"zzz").unwrap_err()));
    assert_eq!(read_all(&fs, "f"), b"abc");
}

#[test]
fn crash_after_ops_cuts_after_exactly_n_mutating_operations() {
    for n in 0..6u64 {
        let fs = SimFs::new();
        fs.crash_after_ops(n);
        let mut done = 0;
        let mut results = Vec::new();
        let file = fs.create(Path::new("f"));
        results.push(file.is_ok());
        if let Ok(file) = file {
            for i in 0..5u64 {
                // Reads are not mutating: they never use up the budget.
                let _ = file.len();
                results.push(file.write_at(i, b"x").is_ok());
            }
        }
        for ok in &results {
            if *ok {
                done += 1;
            } else {
                break;
            }
        }
        assert_eq!(done, n, "crash_after_ops({n})");
        assert!(!fs.is_powered());
        assert_eq!(fs.mutating_ops(), n);
    }
}

#[test]
fn a_failed_operation_after_the_cut_changes_nothing_durable() {
    let fs = SimFs::new();
    durable_file(&fs, "f", b"abc");
    let file = fs.open(Path::new("f")).unwrap();
    file.write_at(0, b"xyz").unwrap();
    fs.crash_after_ops(0);
    assert!(is_power_loss(&file.sync().unwrap_err()));
    fs.reboot(CrashPolicy::Strict, 1);
    assert_eq!(read_all(&fs, "f"), b"abc");
}

#[test]
fn reboot_releases_every_lock() {
    let fs = SimFs::new();
    let guard = fs.lock(Path::new("LOCK")).unwrap();
    assert_eq!(
        fs.lock(Path::new("LOCK")).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    fs.reboot(CrashPolicy::KeepAll, 1);
    let again = fs.lock(Path::new("LOCK")).unwrap();
    // The guard from before the reboot must not release the new holder's lock.
    drop(guard);
    assert!(fs.lock(Path::new("LOCK")).is_err());
    drop(again);
    assert!(fs.lock(Path::new("LOCK")).is_ok());
}

#[test]
fn mutation_hook_sees_every_mutating_operation_in_order() {
    let fs = SimFs::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    fs.set_mutation_hook(Some(Box::new(move |point| {
        sink.lock()
            .unwrap()
            .push((point.op_index, point.op.clone(), point.has_pending()));
    })));
    let file = fs.create(Path::new("f")).unwrap();
    file.write_at(0, b"x").unwrap();
    let _ = fs.list(Path::new("")).unwrap();
    file.sync().unwrap();
    fs.set_mutation_hook(None);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].0, 0);
    assert!(matches!(seen[0].1, EventOp::Create { .. }));
    assert!(!seen[0].2, "nothing pending before the first create");
    assert!(matches!(seen[2].1, EventOp::Sync { .. }));
    assert!(seen[2].2);
}

#[test]
fn concurrent_threads_share_one_disk() {
    let fs = SimFs::new();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let fs = fs.clone();
            std::thread::spawn(move || {
                let name = format!("t{t}");
                let file = fs.create(Path::new(&name)).unwrap();
                for i in 0..100u64 {
                    file.write_at(i, &[t as u8]).unwrap();
                }
                file.sync().unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(fs.list(Path::new("")).unwrap().len(), 4);
    assert_eq!(fs.mutating_ops(), 4 * 102);
}
