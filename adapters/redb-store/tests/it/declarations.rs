//! What `RedbStore` declares to Powercut: file roles, configurations, disk assumptions, defects
//! and the error classes, each as its module doc says.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use powercut::store::config_from_json;
use powercut::{DamageRule, FileKind, Store, StoreError};
use redb_store::{
    CommitDurability, KvError, NAME_NOT_SYNCED, NON_DURABLE_COMMITS, RedbConfig, RedbStore,
};

#[test]
fn the_database_file_and_its_creating_name_are_data_and_nothing_else_is() {
    assert_eq!(
        RedbStore::file_kind(Path::new("db/data.redb")),
        FileKind::Data
    );
    assert_eq!(
        RedbStore::file_kind(Path::new("db/data.redb.creating")),
        FileKind::Data
    );
    assert_eq!(RedbStore::file_kind(Path::new("db/LOCK")), FileKind::Other);
    assert_eq!(RedbStore::file_kind(Path::new("db")), FileKind::Other);
    assert_eq!(
        RedbStore::file_roles(&RedbConfig::default()),
        Some(vec![FileKind::Data])
    );
}

#[test]
fn a_configuration_with_an_unknown_field_is_refused() {
    let err = config_from_json::<RedbStore>(&serde_json::json!({ "wal": false }))
        .expect_err("redb has no WAL switch");
    assert!(err.contains("wal"), "{err}");
    let partial = config_from_json::<RedbStore>(&serde_json::json!({ "quick_repair": true }))
        .expect("a known field");
    assert!(partial.quick_repair && !partial.two_phase_commit);
}

#[test]
fn seeds_draw_every_commit_mode_cache_and_check_and_always_keep_the_promise() {
    let mut seen = BTreeSet::new();
    for seed in 0..200 {
        let c = RedbStore::draw_config(&mut powercut::swarm::config_stream(seed));
        assert!(c.keeps_durability_promise(), "seed {seed}: {c:?}");
        seen.insert((
            c.two_phase_commit,
            c.quick_repair,
            c.check_integrity_on_open,
            c.cache_size_bytes,
        ));
    }
    let modes: BTreeSet<_> = seen.iter().map(|s| (s.0, s.1)).collect();
    let checks: BTreeSet<_> = seen.iter().map(|s| s.2).collect();
    let caches: BTreeSet<_> = seen.iter().map(|s| s.3).collect();
    assert_eq!(modes.len(), 4, "{modes:?}");
    assert_eq!(checks.len(), 2);
    assert!(caches.contains(&0) && caches.len() == 4, "{caches:?}");
}

#[test]
fn sectors_are_atomic_and_damage_rolls_back_only_under_one_phase_commit() {
    let checked = RedbConfig {
        check_integrity_on_open: true,
        ..RedbConfig::default()
    };
    let one_phase = RedbStore::assumptions(&checked);
    assert!(one_phase.atomic_sectors);
    assert_eq!(one_phase.damage, DamageRule::Rollback);
    // Opened without its integrity check, redb trusts the primary slot: damage is unchecked.
    assert_eq!(
        RedbStore::assumptions(&RedbConfig::default()).damage,
        DamageRule::Unchecked
    );
    for config in [
        RedbConfig {
            two_phase_commit: true,
            ..checked.clone()
        },
        RedbConfig {
            quick_repair: true,
            ..checked.clone()
        },
    ] {
        let a = RedbStore::assumptions(&config);
        assert!(a.atomic_sectors);
        assert_eq!(a.damage, DamageRule::Strict, "{config:?}");
    }
}

#[test]
fn each_defect_breaks_the_promise_and_an_unknown_one_is_refused() {
    let names: Vec<&str> = RedbStore::defects().iter().map(|d| d.name).collect();
    assert_eq!(names, [NON_DURABLE_COMMITS, NAME_NOT_SYNCED]);
    for name in names {
        let mut config = RedbConfig::default();
        RedbStore::enable_defect(&mut config, name).expect("a known defect");
        assert!(!config.keeps_durability_promise(), "{name}");
        // The store still promises the full contract: that is what makes the defect a lie.
        assert_eq!(
            RedbStore::durability(&config),
            RedbStore::durability(&RedbConfig::default())
        );
    }
    let mut canary = RedbConfig::default();
    RedbStore::enable_defect(&mut canary, NON_DURABLE_COMMITS).expect("the canary");
    assert_eq!(canary.durable_writes, CommitDurability::None);
    let err = RedbStore::enable_defect(&mut RedbConfig::default(), "fast_mode")
        .expect_err("no such defect");
    assert!(err.contains(NON_DURABLE_COMMITS), "{err}");
}

#[test]
fn every_error_class_maps_onto_its_store_error() {
    let file = PathBuf::from("db/data.redb");
    let io = |kind| std::io::Error::new(kind, "x");
    let cases = [
        (
            KvError::PowerLoss {
                context: "c".into(),
                source: faultfs::power_loss_error(),
            },
            "power",
        ),
        (
            KvError::Damaged {
                file: file.clone(),
                detail: "d".into(),
            },
            "damaged",
        ),
        (KvError::Poisoned { first: "f".into() }, "poisoned"),
        (
            KvError::Io {
                context: "c".into(),
                source: io(std::io::ErrorKind::Other),
            },
            "io",
        ),
        (KvError::Other("o".into()), "other"),
    ];
    for (err, class) in cases {
        let mapped = StoreError::from(err);
        let got = match &mapped {
            StoreError::PowerLoss(_) => "power",
            StoreError::Damaged { file: f, .. } => {
                assert_eq!(f, &file);
                "damaged"
            }
            StoreError::Poisoned(_) => "poisoned",
            StoreError::Io(_) => "io",
            StoreError::Other(_) => "other",
        };
        assert_eq!(got, class, "{mapped}");
    }
}

/// The `#[test]` a report prints names the store as a test outside the crate can (the store
/// module is private), and what it runs passes here, written the way the snippet writes it.
#[test]
fn the_printed_test_snippet_names_the_store_by_its_public_path() {
    let case = powercut::Case::new::<RedbStore>(vec![powercut::Step::Put {
        key: "k".into(),
        value: "v".into(),
        sync: true,
    }]);
    let snippet = powercut::shrink::test_snippet::<RedbStore>("snippet_path", &case);
    assert!(
        snippet.contains("powercut::run_scenario::<redb_store::RedbStore>(&scenario)"),
        "{snippet}"
    );
    let json = snippet
        .split("r##\"")
        .nth(1)
        .and_then(|rest| rest.split("\"##").next())
        .expect("the snippet embeds its scenario");
    let scenario = powercut::Scenario::parse(json, Path::new("snippet_path.json")).expect("parses");
    let outcome = powercut::run_scenario::<redb_store::RedbStore>(&scenario).expect("runs");
    assert!(
        outcome.passed(),
        "{:?}",
        outcome.report.map(|r| r.to_string())
    );
}
