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
    // The keys where the model after 0 writes (the base) differs from the recovered state. The
    // model itself need not be kept: after a mutation the model holds exactly the mutation's
    // value at its key, so only that key is compared.
    let mut mismatch = Mismatch::new(&history.base, recovered);
    let mut below_lower_match = None;
    let mut closest = (usize::MAX, lower);
    for k in 0..=n {
        if k > 0 {
            for m in &history.writes[k - 1].mutations {
                mismatch.apply(m);
            }
        }
        let differing = mismatch.len();
        if k >= lower {
            if differing == 0 {
                return Verdict::Accepted { k };
            }
            if differing < closest.0 {
                closest = (differing, k);
            }
        } else if differing == 0 {
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

/// The set of keys where the model differs from a recovered state, kept up to date as the model
/// takes one mutation after another.
///
/// Shaped for the walk over every write of the window, one look-up per mutation: the keys of the
/// base and of the recovered state are numbered once (a sorted list, found by binary search),
/// and only a key outside both goes to a map (the model holds it after a put the recovery does
/// not show).
struct Mismatch<'a> {
    /// Every key of the base or the recovered state, sorted.
    keys: Vec<&'a str>,
    /// Per key: its recovered value, and whether the model differs there.
    recovered: Vec<Option<&'a str>>,
    differs: Vec<bool>,
    /// How many of `differs` are set.
    differing: usize,
    /// Keys outside `keys` where the model holds a value (the recovered state has none).
    others: BTreeSet<&'a str>,
}

impl<'a> Mismatch<'a> {
    /// The keys where `base` and `recovered` differ (present in one only, or with other values),
    /// found in one merge of the two sorted maps.
    fn new(base: &'a State, recovered: &'a State) -> Mismatch<'a> {
        let cap = base.len().max(recovered.len());
        let mut m = Mismatch {
            keys: Vec::with_capacity(cap),
            recovered: Vec::with_capacity(cap),
            differs: Vec::with_capacity(cap),
            differing: 0,
            others: BTreeSet::new(),
        };
        let (mut x, mut y) = (base.iter().peekable(), recovered.iter().peekable());
        loop {
            let (key, got, differs) = match (x.peek().copied(), y.peek().copied()) {
                (Some((ka, va)), Some((kb, vb))) => match ka.cmp(kb) {
                    std::cmp::Ordering::Less => {
                        x.next();
                        (ka.as_str(), None, true)
                    }
                    std::cmp::Ordering::Greater => {
                        y.next();
                        (kb.as_str(), Some(vb.as_str()), true)
                    }
                    std::cmp::Ordering::Equal => {
                        let differs = va != vb;
                        x.next();
                        y.next();
                        (kb.as_str(), Some(vb.as_str()), differs)
                    }
                },
                (Some((ka, _)), None) => {
                    x.next();
                    (ka.as_str(), None, true)
                }
                (None, Some((kb, vb))) => {
                    y.next();
                    (kb.as_str(), Some(vb.as_str()), true)
                }
                (None, None) => return m,
            };
            m.keys.push(key);
            m.recovered.push(got);
            m.differs.push(differs);
            m.differing += usize::from(differs);
        }
    }

    /// The model takes mutation `m`: its key now differs iff the recovered value is not the one
    /// `m` leaves.
    fn apply(&mut self, m: &'a Mutation) {
        let key = m.key();
        let after = m.value_after();
        match self.keys.binary_search(&key) {
            Ok(i) => {
                let differs = after != self.recovered[i];
                if differs != self.differs[i] {
                    self.differs[i] = differs;
                    if differs {
                        self.differing += 1;
                    } else {
                        self.differing -= 1;
                    }
                }
            }
            Err(_) if after.is_some() => {
                self.others.insert(key);
            }
            Err(_) => {
                self.others.remove(key);
            }
        }
    }

    /// How many keys differ.
    fn len(&self) -> usize {
        self.differing + self.others.len()
    }
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

/// How [`judge`] answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// Within the window since the last accepted recovery: the model after `k` of its writes.
    Accepted {
        k: usize,
    },
    /// Only the whole history explains it: the model after `k` writes since the store was
    /// created, before the window began (writes an earlier recovery had accepted are gone),
    /// and the bound allowed it (they were not durable, or damage a torn tail can explain,
    /// truncation, ... struck).
    RolledBack {
        k: usize,
    },
    Rejected(Violation),
}

/// A read while the store runs must return what the live model holds (read-your-writes): the
/// rule seeded runs, scenarios, exploration and the kill-test's child all apply to a `get`.
pub fn read_mismatch(key: &str, want: Option<&str>, got: Option<&str>) -> Option<Violation> {
    if want == got {
        return None;
    }
    Some(Violation {
        diffs: vec![KeyDiff {
            key: key.to_string(),
            expected: want.map(str::to_string),
            recovered: got.map(str::to_string),
        }],
        ..Violation::new(
            ViolationKind::ReadYourWrites,
            format!("get({key:?}) while running returned {got:?}, the last write left {want:?}"),
        )
    })
}

/// Judges a recovered state against the whole history since the store was created, not only
/// against the writes since the last accepted recovery: `lower` is D within the window, and
/// `lenient` (damage, truncation, a misdirected write, a lying fsync) allows any prefix of the
/// whole history. A state that is an exact prefix of the whole history from before the window
/// is a rollback: allowed when lenient, and otherwise reported for what it is, lost durable
/// writes (not a phantom or a hole, as the window alone would call it).
pub fn judge(history: &History, recovered: &State, lower: usize, lenient: bool) -> Judgement {
    let window = check_recovery(history, recovered, lower);
    let Verdict::Rejected(v) = window else {
        let Verdict::Accepted { k } = window else {
            unreachable!("a verdict is accepted or rejected")
        };
        return Judgement::Accepted { k };
    };
    if history.accepted.is_empty() {
        return Judgement::Rejected(v);
    }
    let whole = history.whole();
    let Verdict::Accepted { k } = check_recovery(&whole, recovered, 0) else {
        return Judgement::Rejected(v);
    };
    let before = history.accepted.len();
    if k >= before {
        // Inside the window after all: the window's own verdict (a loss below D) stands.
        return Judgement::Rejected(v);
    }
    // Back past the window but not past what was durable (writes a clean reopen read back
    // from a store whose close promises nothing), or after damage that allows any prefix.
    if lenient || k >= whole.durable {
        return Judgement::RolledBack { k };
    }
    let lost = whole.durable - k;
    let message = format!(
        "the recovered state is the model after {k} writes since the store was created, a clean \
         prefix, but an earlier recovery had accepted {before} and {} more were durable: {lost} \
         durable writes were lost (write ids {}..={})",
        history.durable,
        whole.writes.get(k).map_or(0, |w| w.id),
        whole
            .writes
            .get(whole.durable.saturating_sub(1))
            .map_or(0, |w| w.id)
    );
    Judgement::Rejected(Violation {
        kind: ViolationKind::LostDurable,
        message,
        diffs: diff_states(&whole.state_after(whole.durable), recovered),
        bounds: Some((whole.durable, whole.issued())),
        closest_k: Some(whole.durable),
    })
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

#[cfg(test)]
mod whole_history_tests {
    use super::*;
    use crate::model::Outcome;

    fn put(k: &str, v: &str) -> Vec<Mutation> {
        vec![Mutation::Put {
            key: k.into(),
            value: v.into(),
        }]
    }

    /// Three writes accepted by a reopen, then two more, the last one durable.
    fn history() -> History {
        let mut h = History::new();
        for (k, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
            let p = h.issue(put(k, v), false);
            h.settle(p, Outcome::Acked);
        }
        h.mark_all_durable();
        h.rebase(3);
        for (k, v) in [("d", "4"), ("e", "5")] {
            let p = h.issue(put(k, v), true);
            h.settle(p, Outcome::Acked);
        }
        h.mark_all_durable();
        h
    }

    fn state(pairs: &[(&str, &str)]) -> State {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_truncation_back_past_the_last_reopen_is_a_rollback_not_a_violation() {
        let j = judge(&history(), &state(&[("a", "1")]), 0, true);
        assert_eq!(j, Judgement::RolledBack { k: 1 });
    }

    #[test]
    fn a_hole_across_the_last_reopen_still_fails_after_truncation() {
        let j = judge(&history(), &state(&[("a", "1"), ("c", "3")]), 0, true);
        assert!(matches!(j, Judgement::Rejected(_)), "{j:?}");
    }

    #[test]
    fn losing_writes_an_earlier_recovery_accepted_is_lost_durable_not_a_phantom() {
        let h = history();
        // The window alone (base a,b,c) calls this a hole or a phantom-free mismatch.
        assert!(matches!(
            check_recovery(&h, &state(&[("a", "1"), ("b", "2")]), h.durable),
            Verdict::Rejected(_)
        ));
        let Judgement::Rejected(v) = judge(&h, &state(&[("a", "1"), ("b", "2")]), h.durable, false)
        else {
            panic!("a rollback without damage is a violation")
        };
        assert_eq!(v.kind, ViolationKind::LostDurable, "{}", v.message);
        assert_eq!(v.bounds, Some((5, 5)));
    }
}

#[cfg(test)]
mod reopen_tests {
    use super::*;
    use crate::model::Outcome;

    /// A store whose close promises nothing: two writes read back by a clean reopen, then a
    /// power cut that loses them is within its contract.
    #[test]
    fn writes_a_clean_reopen_read_back_are_not_durable_unless_close_promised_it() {
        let mut h = History::new();
        for (k, v) in [("a", "1"), ("b", "2")] {
            let p = h.issue(
                vec![Mutation::Put {
                    key: k.into(),
                    value: v.into(),
                }],
                false,
            );
            h.settle(p, Outcome::Acked);
        }
        h.rebase_from(2, false);
        assert_eq!(
            judge(&h, &State::new(), h.durable, false),
            Judgement::RolledBack { k: 0 }
        );
        // The same writes read back from a rebooted disk are durable: losing them is a loss.
        let mut on_disk = h.clone();
        on_disk.accepted_durable = 2;
        assert!(matches!(
            judge(&on_disk, &State::new(), 0, false),
            Judgement::Rejected(v) if v.kind == ViolationKind::LostDurable
        ));
    }
}
