//! What each kind of commit leaves after a power cut, one scenario at a time.

use faultfs::{CrashPolicy, SimFs};
use redb_store::RedbConfig;

use crate::support::{all, open_sim, pairs, put};

/// The commit modes a durable write can use; each must keep the same promises.
fn honest_configs() -> Vec<RedbConfig> {
    vec![
        RedbConfig::default(),
        RedbConfig {
            two_phase_commit: true,
            ..RedbConfig::default()
        },
        RedbConfig {
            quick_repair: true,
            ..RedbConfig::default()
        },
    ]
}

#[test]
fn a_synced_write_survives_a_strict_power_cut_in_every_commit_mode() {
    for config in honest_configs() {
        let fs = SimFs::new();
        let mut kv = open_sim(&fs, &config).expect("open");
        kv.write(&[put("k", "v")], true).expect("synced write");
        fs.power_off();
        drop(kv);
        fs.reboot(CrashPolicy::Strict, 7);
        let kv = open_sim(&fs, &config).expect("reopen after the cut");
        assert_eq!(all(&kv).expect("scan"), pairs(&[("k", "v")]), "{config:?}");
    }
}

#[test]
fn an_unsynced_write_after_a_synced_one_rolls_back_to_the_synced_state_after_a_strict_cut() {
    for config in honest_configs() {
        let fs = SimFs::new();
        let mut kv = open_sim(&fs, &config).expect("open");
        kv.write(&[put("a", "1")], true).expect("synced write");
        kv.write(&[put("a", "2"), put("b", "2")], false)
            .expect("unsynced write");
        assert_eq!(all(&kv).expect("scan"), pairs(&[("a", "2"), ("b", "2")]));
        fs.power_off();
        drop(kv);
        fs.reboot(CrashPolicy::Strict, 7);
        let kv = open_sim(&fs, &config).expect("reopen after the cut");
        assert_eq!(all(&kv).expect("scan"), pairs(&[("a", "1")]), "{config:?}");
    }
}

/// redb keeps a non-durable commit's pages in its own write buffer and writes no header for it,
/// so not even a process kill (every write handed to the kernel survives) keeps it.
#[test]
fn an_unsynced_write_is_lost_even_when_every_write_reaches_the_disk() {
    let config = RedbConfig::default();
    let fs = SimFs::new();
    let mut kv = open_sim(&fs, &config).expect("open");
    kv.write(&[put("a", "1")], true).expect("synced write");
    kv.write(&[put("b", "2")], false).expect("unsynced write");
    fs.power_off();
    drop(kv);
    fs.reboot(CrashPolicy::KeepAll, 7);
    let kv = open_sim(&fs, &config).expect("reopen after the kill");
    assert_eq!(all(&kv).expect("scan"), pairs(&[("a", "1")]));
}

#[test]
fn sync_makes_every_earlier_unsynced_write_durable() {
    for config in honest_configs() {
        let fs = SimFs::new();
        let mut kv = open_sim(&fs, &config).expect("open");
        kv.write(&[put("a", "1")], false).expect("unsynced write");
        kv.write(&[put("b", "2")], false).expect("unsynced write");
        kv.sync().expect("sync");
        fs.power_off();
        drop(kv);
        fs.reboot(CrashPolicy::Strict, 7);
        let kv = open_sim(&fs, &config).expect("reopen after the cut");
        assert_eq!(
            all(&kv).expect("scan"),
            pairs(&[("a", "1"), ("b", "2")]),
            "{config:?}"
        );
    }
}

#[test]
fn a_clean_close_makes_unsynced_writes_durable() {
    let config = RedbConfig::default();
    let fs = SimFs::new();
    let mut kv = open_sim(&fs, &config).expect("open");
    kv.write(&[put("a", "1")], false).expect("unsynced write");
    kv.close().expect("close");
    fs.reboot(CrashPolicy::Strict, 7);
    let kv = open_sim(&fs, &config).expect("reopen after the cut");
    assert_eq!(all(&kv).expect("scan"), pairs(&[("a", "1")]));
}

/// The canary acknowledges a synced write without making it durable; one power cut shows it.
#[test]
fn the_canary_loses_a_synced_write_in_a_strict_power_cut() {
    let config = RedbConfig::canary();
    let fs = SimFs::new();
    let mut kv = open_sim(&fs, &config).expect("open");
    kv.write(&[put("a", "1")], true)
        .expect("synced write (not really)");
    kv.sync().expect("sync (not really)");
    fs.power_off();
    drop(kv);
    fs.reboot(CrashPolicy::Strict, 7);
    let kv = open_sim(&fs, &config).expect("reopen after the cut");
    assert_eq!(all(&kv).expect("scan"), Vec::new());
}
