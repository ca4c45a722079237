//! The history at a crash point, as exploration judges the disks of that point.
//!
//! A run's history changes a few times per step; exploration judges tens of thousands of disks
//! against it, on worker threads while the workload goes on. A [`Snapshot`] is taken once per
//! change of the history ([`Snapshots::of`]) and shared by every disk judged against it. It
//! copies only the window (its base, the writes since, D); the writes accepted before the window
//! and the origin change only when the window moves, so they are shared between snapshots, and
//! they matter only when the window alone rejects a state.
//!
//! Most disks recover to a state the window accepts. For those, a snapshot answers from digests
//! of the model after each write, compared with a digest of what the store's scan returned,
//! without building the recovered state as a map and walking the window over it; any state
//! whose digest matches no accepted prefix goes through [`judge`] in full, so every rejection,
//! rollback and message is exactly the checker's.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use xxhash_rust::xxh3::{xxh3_64, xxh3_128_with_seed};

use crate::checker::{Judgement, Verdict, check_recovery, judge};
use crate::model::{History, Mutation, Outcome, State, WriteRecord, state_of};

/// The history as disks are judged against it at one crash point.
pub(super) struct Snapshot {
    /// The history without `accepted`, `origin` and `live`.
    window: History,
    before: Arc<Before>,
    /// The digest of the model after each of the window's writes, 0..=N, made by the first
    /// disk judged against this snapshot.
    digests: OnceLock<Vec<u128>>,
}

/// The part of a history that changes only when its window moves.
struct Before {
    accepted: Vec<WriteRecord>,
    origin: State,
}

/// A digest of one key and its value; a state's digest is the wrapping sum over its entries, so
/// it does not depend on their order and follows a mutation by one subtraction and one addition.
/// A scan that returned a key twice sums both entries and so matches no model state.
fn entry(key: &[u8], value: &[u8]) -> u128 {
    xxh3_128_with_seed(value, xxh3_64(key))
}

impl Snapshot {
    fn of(history: &History, before: Arc<Before>) -> Snapshot {
        Snapshot {
            window: History {
                base: history.base.clone(),
                writes: history.writes.clone(),
                live: State::new(),
                origin: State::new(),
                accepted: Vec::new(),
                ..*history
            },
            before,
            digests: OnceLock::new(),
        }
    }

    /// D, as of this snapshot.
    pub(super) fn durable(&self) -> usize {
        self.window.durable
    }

    /// How many times the window had moved.
    pub(super) fn rebases(&self) -> u64 {
        self.window.rebases
    }

    fn digests(&self) -> &[u128] {
        self.digests.get_or_init(|| {
            let w = &self.window;
            let mut current: BTreeMap<&str, &str> = w
                .base
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let mut digest = current.iter().fold(0u128, |d, (k, v)| {
                d.wrapping_add(entry(k.as_bytes(), v.as_bytes()))
            });
            let mut out = Vec::with_capacity(w.writes.len() + 1);
            out.push(digest);
            for write in &w.writes {
                for m in &write.mutations {
                    let key = m.key();
                    let old = match m {
                        Mutation::Put { value, .. } => {
                            digest = digest.wrapping_add(entry(key.as_bytes(), value.as_bytes()));
                            current.insert(key, value)
                        }
                        Mutation::Delete { .. } => current.remove(key),
                    };
                    if let Some(old) = old {
                        digest = digest.wrapping_sub(entry(key.as_bytes(), old.as_bytes()));
                    }
                }
                out.push(digest);
            }
            out
        })
    }

    /// Judges what a store's full scan returned: the first prefix k at or above D whose model
    /// digest equals the scan's is accepted at k (what [`check_recovery`] would find, unless two
    /// 128-bit digests collide); anything else is judged in full.
    pub(super) fn judge_scan(&self, pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Judgement {
        let scanned = pairs
            .iter()
            .fold(0u128, |d, (k, v)| d.wrapping_add(entry(k, v)));
        let digests = self.digests();
        let lower = self.window.durable.min(digests.len() - 1);
        if let Some(k) = digests[lower..].iter().position(|d| *d == scanned) {
            return Judgement::Accepted { k: lower + k };
        }
        self.judge(&state_of(pairs))
    }

    /// What [`judge`] says of `recovered` against the whole history: it looks at the window
    /// first and at the writes before it only when the window rejects, so the whole history is
    /// put together only then.
    fn judge(&self, recovered: &State) -> Judgement {
        let lower = self.window.durable;
        if self.before.accepted.is_empty() {
            return judge(&self.window, recovered, lower, false);
        }
        if let Verdict::Accepted { k } = check_recovery(&self.window, recovered, lower) {
            return Judgement::Accepted { k };
        }
        let whole = History {
            accepted: self.before.accepted.clone(),
            origin: self.before.origin.clone(),
            ..self.window.clone()
        };
        judge(&whole, recovered, lower, false)
    }
}

/// What changes whenever the runner changes its history (it issues a write, settles the last
/// one, marks writes durable or moves the window), so a snapshot is taken once per change
/// rather than once per crash point.
type Revision = (u64, usize, usize, u64, usize, Option<Outcome>);

fn revision(h: &History) -> Revision {
    (
        h.next_id,
        h.durable,
        h.accepted_durable,
        h.rebases,
        h.accepted.len(),
        h.writes.last().map(|w| w.outcome),
    )
}

/// The latest snapshot and the part before the window it shares.
#[derive(Default)]
pub(super) struct Snapshots {
    latest: Option<(Revision, Arc<Snapshot>)>,
    before: Option<((u64, usize), Arc<Before>)>,
}

impl Snapshots {
    /// The snapshot of `history` as it is now: the latest one if the history has not changed.
    pub(super) fn of(&mut self, history: &History) -> Arc<Snapshot> {
        let now = revision(history);
        if let Some((r, s)) = &self.latest
            && *r == now
        {
            return s.clone();
        }
        let moved = (history.rebases, history.accepted.len());
        let before = match &self.before {
            Some((m, b)) if *m == moved => b.clone(),
            _ => {
                let b = Arc::new(Before {
                    accepted: history.accepted.clone(),
                    origin: history.origin.clone(),
                });
                self.before = Some((moved, b.clone()));
                b
            }
        };
        let s = Arc::new(Snapshot::of(history, before));
        self.latest = Some((now, s.clone()));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, value: &str) -> Mutation {
        Mutation::Put {
            key: key.into(),
            value: value.into(),
        }
    }

    fn pairs(state: &State) -> Vec<(Vec<u8>, Vec<u8>)> {
        state
            .iter()
            .map(|(k, v)| (k.clone().into_bytes(), v.clone().into_bytes()))
            .collect()
    }

    /// A history with a put, an overwrite, a delete and a batch, D after the second write.
    fn history() -> History {
        let mut h = History::from_base(State::from([("a".into(), "0".into())]));
        h.issue(vec![put("b", "1")], true);
        h.issue(vec![put("a", "2")], false);
        h.mark_all_durable();
        h.issue(vec![Mutation::Delete { key: "b".into() }], false);
        h.issue(vec![put("c", "3"), put("a", "4")], false);
        h
    }

    #[test]
    fn a_scan_is_judged_as_the_checker_judges_its_state() {
        let h = history();
        let snapshot = Snapshots::default().of(&h);
        // Every prefix, from below D (rejected: durable writes lost) to N, plus states that are
        // no prefix at all: a torn batch, a duplicated key, bytes that are not UTF-8.
        let mut candidates: Vec<Vec<(Vec<u8>, Vec<u8>)>> =
            (0..=h.issued()).map(|k| pairs(&h.state_after(k))).collect();
        let mut torn = h.state_after(3);
        torn.insert("c".into(), "3".into());
        candidates.push(pairs(&torn));
        let mut twice = pairs(&h.state_after(4));
        twice.push(twice[0].clone());
        candidates.push(twice);
        let mut garbage = pairs(&h.state_after(4));
        garbage[0].1 = vec![0xff, 0xfe];
        candidates.push(garbage);
        for scan in candidates {
            let expected = judge(&h, &state_of(scan.clone()), h.durable, false);
            assert_eq!(snapshot.judge_scan(scan.clone()), expected, "{scan:?}");
        }
    }

    #[test]
    fn a_snapshot_is_taken_again_only_when_the_history_changes() {
        let mut h = history();
        let mut snapshots = Snapshots::default();
        let first = snapshots.of(&h);
        assert!(Arc::ptr_eq(&first, &snapshots.of(&h)));
        let pos = h.issue(vec![put("d", "5")], false);
        let issued = snapshots.of(&h);
        assert!(!Arc::ptr_eq(&first, &issued));
        h.settle(pos, Outcome::Acked);
        let settled = snapshots.of(&h);
        assert!(!Arc::ptr_eq(&issued, &settled));
        h.mark_all_durable();
        assert_eq!(snapshots.of(&h).durable(), h.issued());
    }
}
