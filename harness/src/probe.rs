//! Learning which roles of files a store has, so faults are drawn only against those.
//!
//! A store that does not list its roles ([`Store::file_roles`]) is run once per configuration
//! on a fresh `SimFs` through a short fixed workload (writes, a sync, a flush, a compaction, a
//! close and a reopen), and every file it wrote is classified with [`Store::file_kind`]. The
//! probe depends only on the configuration, so it keeps every seed deterministic; the answer is
//! cached per thread.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use faultfs::{EventOp, SimFs};

use crate::model::Mutation;
use crate::store::{Background, Env, FileKind, Store, config_to_json};

thread_local! {
    static CACHE: RefCell<BTreeMap<(String, String), Vec<FileKind>>> =
        const { RefCell::new(BTreeMap::new()) };
}

/// The roles of the files `S` has under `config`, in [`FileKind::ALL`] order.
pub fn roles_of<S: Store>(config: &S::Config) -> Vec<FileKind> {
    if let Some(roles) = S::file_roles(config) {
        return roles;
    }
    let key = (
        S::name().to_string(),
        config_to_json::<S>(config).to_string(),
    );
    if let Some(hit) = CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return hit;
    }
    let roles = probe::<S>(config);
    CACHE.with(|c| c.borrow_mut().insert(key, roles.clone()));
    roles
}

/// Runs the probe workload and classifies every file written.
fn probe<S: Store>(config: &S::Config) -> Vec<FileKind> {
    let sim = SimFs::new();
    sim.set_file_kinds(Some(S::file_kind));
    let env = Env {
        fs: Arc::new(sim.clone()),
        dir: PathBuf::from(crate::runner::DB_DIR),
        background: Background::Inline,
        assumptions: S::assumptions(config),
    };
    // Errors only end the probe early: whatever was written so far still counts.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for round in 0..2 {
            let Ok(mut store) = S::open(&env, config) else {
                return;
            };
            for i in 0..48u32 {
                let m = Mutation::Put {
                    key: format!("probe{:03}", i % 24),
                    value: format!("{round}-{i}-{}", "v".repeat(64)),
                };
                let _ = store.write(std::slice::from_ref(&m), i % 8 == 7);
            }
            let _ = store.sync();
            let _ = store.flush();
            let _ = store.compact();
            let _ = store.close();
        }
    }));
    let mut roles = BTreeSet::new();
    sim.with_events(|events| {
        for e in events {
            if let EventOp::Create { path } | EventOp::Write { path, .. } = &e.op {
                roles.insert(S::file_kind(Path::new(path)));
            }
        }
    });
    FileKind::ALL
        .into_iter()
        .filter(|k| roles.contains(k))
        .collect()
}
