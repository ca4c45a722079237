//! Writes, reads and scans come back as written, on the simulator and on a real directory.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use faultfs::{Fs, SimFs, StdFs};
use redb_store::{RedbConfig, RedbKv};

use crate::support::{all, del, open_sim, pairs, put};

/// Runs the same script on any file system: puts, an overwrite, a delete, reads, bounded scans,
/// then a close and a reopen that must see the same pairs.
fn round_trip_on(fs: Arc<dyn Fs>, dir: &Path, config: &RedbConfig) {
    let mut kv = RedbKv::open(fs.clone(), dir, config).expect("open a new store");
    assert_eq!(kv.get(b"a").expect("get before any write"), None);
    assert_eq!(all(&kv).expect("scan before any write"), Vec::new());

    kv.write(&[put("b", "2"), put("a", "1"), put("c", "3")], false)
        .expect("unsynced batch");
    kv.write(&[put("b", "two"), del("c"), put("d", "4")], true)
        .expect("synced batch");
    assert_eq!(kv.get(b"b").expect("get b").as_deref(), Some(&b"two"[..]));
    assert_eq!(kv.get(b"c").expect("get c"), None);
    let expected = pairs(&[("a", "1"), ("b", "two"), ("d", "4")]);
    assert_eq!(all(&kv).expect("scan all"), expected);
    assert_eq!(
        kv.scan(Bound::Excluded(b"a"), Bound::Included(b"d"))
            .expect("bounded scan"),
        pairs(&[("b", "two"), ("d", "4")])
    );
    assert_eq!(
        kv.scan(Bound::Included(b"d"), Bound::Excluded(b"a"))
            .expect("inverted scan"),
        Vec::new()
    );
    kv.close().expect("close");

    let kv = RedbKv::open(fs, dir, config).expect("reopen");
    assert_eq!(all(&kv).expect("scan after reopen"), expected);
}

#[test]
fn round_trip_on_the_simulator_survives_close_and_reopen() {
    let fs: Arc<dyn Fs> = Arc::new(SimFs::new());
    round_trip_on(fs, Path::new("nested/db"), &RedbConfig::default());
}

#[test]
fn round_trip_on_a_real_directory_survives_close_and_reopen() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new(tmp.path()).expect("StdFs"));
    round_trip_on(fs, Path::new("db"), &RedbConfig::default());
}

#[test]
fn round_trip_holds_under_every_commit_mode() {
    for config in [
        RedbConfig {
            two_phase_commit: true,
            ..RedbConfig::default()
        },
        RedbConfig {
            quick_repair: true,
            ..RedbConfig::default()
        },
        RedbConfig {
            check_integrity_on_open: true,
            cache_size_bytes: 64 * 1024,
            ..RedbConfig::default()
        },
    ] {
        let fs: Arc<dyn Fs> = Arc::new(SimFs::new());
        round_trip_on(fs, Path::new("db"), &config);
    }
}

#[test]
fn a_second_open_of_the_same_directory_is_refused_while_the_first_is_open() {
    let fs = SimFs::new();
    let _first = open_sim(&fs, &RedbConfig::default()).expect("first open");
    let second = open_sim(&fs, &RedbConfig::default()).expect_err("second open");
    assert_eq!(second.class(), redb_store::ErrorClass::Other, "{second}");
}

#[test]
fn the_config_round_trips_through_serde_and_defaults_to_redbs_defaults() {
    let config = RedbConfig::default();
    assert!(!config.two_phase_commit && !config.quick_repair);
    assert_eq!(
        config.durable_writes,
        redb_store::CommitDurability::Immediate
    );
    assert!(config.keeps_durability_promise());
    assert!(!RedbConfig::canary().keeps_durability_promise());
    let json = serde_json::to_string(&RedbConfig::canary()).expect("serialize");
    let back: RedbConfig = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, RedbConfig::canary());
    let partial: RedbConfig =
        serde_json::from_str(r#"{"two_phase_commit": true}"#).expect("missing fields default");
    assert!(partial.two_phase_commit && partial.keeps_durability_promise());
}
