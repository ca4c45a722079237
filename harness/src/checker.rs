//! The checker of DESIGN section 4.
//!
//! After a crash the recovered state must equal the model after the first k writes for some
//! `lower <= k <= N` (`lower` is D, or 0 when damage makes any prefix acceptable). Checking is
//! linear: start from the base state, keep the set of keys where the model differs from the
//! recovered state, apply the writes one at a time updating only the keys they touch, and accept
//! at the first k >= lower where the set is empty. When no k fits, the mismatch is classified
//! (phantom, torn batch, resurrected delete, lost durable write, or not a prefix) and the keys
//! that differ at the closest allowed k are reported.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{History, Mutation, State};

pub use crate::outcome::{KeyDiff, Violation, ViolationKind};

/// The checker's answer for one recovered state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The recovered state equals the model after `k` writes.
    Accepted {
        k: usize,
    },
    Rejected(Violation),
}

/// Checks a recovered state against the history: accepted iff it equals the model after k
/// writes for some `lower <= k <= N`.
pub fn check_recovery(history: &History, recovered: &State, lower: usize) -> Verdict {
    let n = history.issued();
    let lower = lower.min(n);
    // The model borrows its keys and values from the history (a recovery is checked at every
    // crash, and values run to kilobytes, so copying them would dominate the check).
    let mut model: BTreeMap<&str, &str> = history
        .base
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let recovered_value = |key: &str| recovered.get(key).map(String::as_str);
    let mut mismatch: BTreeSet<&str> = BTreeSet::new();
    for key in model
        .keys()
        .copied()
        .chain(recovered.keys().map(String::as_str))
    {
        if model.get(key).copied() != recovered_value(key) {
            mismatch.insert(key);
        }
    }
    let mut below_lower_match = None;
    let mut closest = (usize::MAX, lower);
    for k in 0..=n {
        if k > 0 {
            for m in &history.writes[k - 1].mutations {
                let key = m.key();
                match m.value_after() {
                    Some(value) => model.insert(key, value),
                    None => model.remove(key),
                };
                if model.get(key).copied() == recovered_value(key) {
                    mismatch.remove(key);
                } else {
                    mismatch.insert(key);
                }
            }
        }
        if k >= lower {
            if mismatch.is_empty() {
                return Verdict::Accepted { k };
            }
            if mismatch.len() < closest.0 {
                closest = (mismatch.len(), k);
            }
        } else if mismatch.is_empty() {
            below_lower_match = Some(k);
        }
    }
    Verdict::Rejected(classify(
        history,
        recovered,
        lower,
        closest.1,
        below_lower_match,
    ))
}

/// Names what is wrong with a rejected state.
fn classify(
    history: &History,
    recovered: &State,
    lower: usize,
    closest_k: usize,
    below_lower_match: Option<usize>,
) -> Violation {
    let n = history.issued();
    let expected = history.state_after(closest_k);
    let diffs = diff_states(&expected, recovered);
    // An exact prefix below D is the most precise diagnosis: nothing is wrong but its length.
    let (kind, message) = if let Some(k) = below_lower_match {
        (
            ViolationKind::LostDurable,
            format!(
                "the recovered state is the model after {k} writes, but {lower} were durable \
                 (writes {}..{lower} were acknowledged as durable and lost)",
                k + 1
            ),
        )
    } else if let Some(d) = find_phantom(history, recovered) {
        (ViolationKind::Phantom, d)
    } else if let Some(d) = find_torn_batch(history, recovered) {
        (ViolationKind::TornBatch, d)
    } else if let Some(d) = find_resurrected(history, &diffs) {
        (ViolationKind::Resurrected, d)
    } else if all_older(history, &diffs, lower) {
        (
            ViolationKind::LostDurable,
            format!(
                "keys hold values older than the {lower} durable writes allow; durable writes \
                 were lost"
            ),
        )
    } else {
        (
            ViolationKind::NotAPrefix,
            format!(
                "the recovered state equals no prefix of the history in {lower}..={n} writes \
                 (a hole or a reordering)"
            ),
        )
    };
    Violation {
        kind,
        message,
        diffs,
        bounds: Some((lower, n)),
        closest_k: Some(closest_k),
    }
}

/// The keys where two states differ, in key order.
pub fn diff_states(expected: &State, recovered: &State) -> Vec<KeyDiff> {
    let keys: BTreeSet<&String> = expected.keys().chain(recovered.keys()).collect();
    keys.into_iter()
        .filter(|k| expected.get(*k) != recovered.get(*k))
        .map(|k| KeyDiff {
            key: k.clone(),
            expected: expected.get(k).cloned(),
            recovered: recovered.get(k).cloned(),
        })
        .collect()
}

/// Every value each key ever held (base and puts), by key.
fn values_by_key(history: &History) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut map: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (k, v) in &history.base {
        map.entry(k).or_default().insert(v);
    }
    for w in &history.writes {
        for m in &w.mutations {
            if let Mutation::Put { key, value } = m {
                map.entry(key).or_default().insert(value);
            }
        }
    }
    map
}

fn find_phantom(history: &History, recovered: &State) -> Option<String> {
    let known = values_by_key(history);
    recovered.iter().find_map(|(k, v)| {
        let ok = known
            .get(k.as_str())
            .is_some_and(|set| set.contains(v.as_str()));
        (!ok).then(|| {
            format!(
                "key {k:?} holds {}, a value never written to it",
                crate::report::short_value(Some(v))
            )
        })
    })
}

/// Where a key's recovered value comes from: `Some(None)` the base, `Some(Some(i))` write i,
/// `None` nowhere known (or the key is absent).
fn origin(history: &History, key: &str, value: &str) -> Option<Option<usize>> {
    let from_write = history.writes.iter().enumerate().rev().find_map(|(i, w)| {
        w.mutations
            .iter()
            .any(|m| matches!(m, Mutation::Put { key: k, value: v } if k == key && v == value))
            .then_some(i)
    });
    match from_write {
        Some(i) => Some(Some(i)),
        None => (history.base.get(key).map(String::as_str) == Some(value)).then_some(None),
    }
}

/// A batch whose effect shows on one key while another key of it shows an older state.
fn find_torn_batch(history: &History, recovered: &State) -> Option<String> {
    for (i, w) in history.writes.iter().enumerate() {
        if w.mutations.len() < 2 {
            continue;
        }
        let applied = w.mutations.iter().find(|m| {
            matches!(m, Mutation::Put { key, value }
                if recovered.get(key) == Some(value) && last_in_batch(&w.mutations, m))
        });
        let Some(applied) = applied else { continue };
        for m in &w.mutations {
            if !last_in_batch(&w.mutations, m) {
                continue;
            }
            let key = m.key();
            if !shows_state_before(history, recovered, key, i) {
                continue;
            }
            return Some(format!(
                "batch #{} (write id {}) is torn: key {:?} shows its effect but key {key:?} \
                 shows the state from before it",
                i + 1,
                w.id,
                applied.key()
            ));
        }
    }
    None
}

/// Tells whether `m` is the last mutation of its key in the batch (the one that decides it).
fn last_in_batch(ops: &[Mutation], m: &Mutation) -> bool {
    ops.iter().rev().find(|o| o.key() == m.key()) == Some(m)
}

/// Tells whether `key` in the recovered state shows a value from before write `i`, one no
/// write at or after `i` explains.
fn shows_state_before(history: &History, recovered: &State, key: &str, i: usize) -> bool {
    let later_values: BTreeSet<Option<&str>> = history.writes[i..]
        .iter()
        .flat_map(|w| w.mutations.iter())
        .filter(|m| m.key() == key)
        .map(Mutation::value_after)
        .collect();
    let got = recovered.get(key).map(String::as_str);
    if later_values.contains(&got) {
        return false;
    }
    match got {
        None => true,
        Some(v) => {
            matches!(origin(history, key, v), Some(None)) || {
                matches!(origin(history, key, v), Some(Some(j)) if j < i)
            }
        }
    }
}

/// A key present after recovery whose every allowed model state has it deleted, holding a value
/// written before a delete.
fn find_resurrected(history: &History, diffs: &[KeyDiff]) -> Option<String> {
    diffs.iter().find_map(|d| {
        let (None, Some(v)) = (&d.expected, &d.recovered) else {
            return None;
        };
        let from = origin(history, &d.key, v)?;
        let start = from.map_or(0, |j| j + 1);
        let deleted_after = history.writes[start..].iter().any(|w| {
            w.mutations
                .iter()
                .any(|m| matches!(m, Mutation::Delete { key } if *key == d.key))
        });
        deleted_after.then(|| {
            format!(
                "key {:?} was deleted but came back with the older value {}",
                d.key,
                crate::report::short_value(Some(v))
            )
        })
    })
}

/// Tells whether every differing key holds a value the model held before write `lower`.
fn all_older(history: &History, diffs: &[KeyDiff], lower: usize) -> bool {
    !diffs.is_empty()
        && diffs.iter().all(|d| {
            let recovered = d.recovered.as_deref();
            (0..lower).any(|k| {
                let state = history.state_after(k);
                state.get(&d.key).map(String::as_str) == recovered
            })
        })
}
