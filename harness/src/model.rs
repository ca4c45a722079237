//! The reference model: the history of issued writes and the states it implies.
//!
//! The history starts from a base state (empty, or the state a previous recovery was accepted
//! at) and lists every write issued since, with its outcome. `durable` is D, the number of
//! writes made durable by a successful durability point; the history's length is N.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The state of the store as the model sees it: key -> value.
pub type State = BTreeMap<String, String>;

/// Bytes a store returned, as model text: the buffer itself when it is UTF-8 (workload keys and
/// values always are), a lossy copy otherwise, so a store's garbage still compares unequal.
pub fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A store's scan as a model state.
pub fn state_of(pairs: Vec<(Vec<u8>, Vec<u8>)>) -> State {
    pairs.into_iter().map(|(k, v)| (text(k), text(v))).collect()
}

/// One mutation of a write (a batch has several).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Mutation {
    Put { key: String, value: String },
    Delete { key: String },
}

impl Mutation {
    /// The key this mutation touches.
    pub fn key(&self) -> &str {
        match self {
            Mutation::Put { key, .. } | Mutation::Delete { key } => key,
        }
    }

    /// Applies the mutation to a state.
    pub fn apply(&self, state: &mut State) {
        match self {
            Mutation::Put { key, value } => {
                state.insert(key.clone(), value.clone());
            }
            Mutation::Delete { key } => {
                state.remove(key);
            }
        }
    }

    /// The value the key holds after this mutation.
    pub fn value_after(&self) -> Option<&str> {
        match self {
            Mutation::Put { value, .. } => Some(value),
            Mutation::Delete { .. } => None,
        }
    }
}

/// What became of an issued write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The store returned Ok.
    Acked,
    /// The store returned an error other than a power cut (it may still be on disk).
    Failed,
    /// The power went during the call.
    InFlight,
}

/// One issued write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteRecord {
    /// The position of the write among all writes of the run (stable across recoveries).
    pub id: u64,
    /// The mutations, applied atomically.
    pub mutations: Vec<Mutation>,
    /// Whether the write asked to be durable on return.
    pub sync: bool,
    pub outcome: Outcome,
}

/// The writes issued since the base state, and the durable watermark.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The state every write applies on top of.
    pub base: State,
    /// The writes issued since `base`, in order.
    pub writes: Vec<WriteRecord>,
    /// D: the first `durable` writes are durable.
    pub durable: usize,
    /// The id the next write gets.
    pub next_id: u64,
    /// The state after every issued write, kept up to date (what reads must see while running).
    pub live: State,
    /// The state the store was created with (empty for a new store).
    #[serde(default)]
    pub origin: State,
    /// Every write an earlier recovery accepted, in order: `base` is `origin` after them. Kept
    /// so a recovery can be judged against the whole history since the store was created, not
    /// only against the writes since the last accepted recovery (see [`History::whole`]).
    #[serde(default)]
    pub accepted: Vec<WriteRecord>,
    /// How many of `accepted` (a prefix) are durable: all of those a crash recovery read back
    /// from the rebooted disk, but after a clean reopen only those a durability point covered
    /// (a store whose close promises nothing keeps them only while the power stays on).
    #[serde(default)]
    pub accepted_durable: usize,
    /// How many times the window moved ([`History::rebase_from`], [`History::whole`]): two
    /// moments with the same `rebases` and D judge any recovered state alike, except that a later
    /// one also accepts the writes issued since (what exploration's dedup relies on).
    #[serde(default)]
    pub rebases: u64,
}

impl History {
    /// An empty history on an empty store.
    pub fn new() -> History {
        History::default()
    }

    /// A history starting from `base`.
    pub fn from_base(base: State) -> History {
        History {
            live: base.clone(),
            origin: base.clone(),
            base,
            ..History::default()
        }
    }

    /// N: how many writes were issued since the base.
    pub fn issued(&self) -> usize {
        self.writes.len()
    }

    /// Records a write about to be issued (outcome in flight until told otherwise) and returns
    /// its position.
    pub fn issue(&mut self, mutations: Vec<Mutation>, sync: bool) -> usize {
        for m in &mutations {
            m.apply(&mut self.live);
        }
        self.issue_leaving_live(mutations, sync)
    }

    /// [`History::issue`] without `live`: the caller applies the write to `live` itself (the
    /// runner does once the store call is back, moving in the copy the store read with
    /// [`History::apply_to_live`] instead of cloning the history's).
    pub(crate) fn issue_leaving_live(&mut self, mutations: Vec<Mutation>, sync: bool) -> usize {
        self.writes.push(WriteRecord {
            id: self.next_id,
            mutations,
            sync,
            outcome: Outcome::InFlight,
        });
        self.next_id += 1;
        self.writes.len() - 1
    }

    /// Applies a mutation to `live`, taking its key and value as they are.
    pub(crate) fn apply_to_live(&mut self, m: Mutation) {
        match m {
            Mutation::Put { key, value } => {
                self.live.insert(key, value);
            }
            Mutation::Delete { key } => {
                self.live.remove(&key);
            }
        }
    }

    /// Sets the outcome of the write at `pos`.
    pub fn settle(&mut self, pos: usize, outcome: Outcome) {
        if let Some(w) = self.writes.get_mut(pos) {
            w.outcome = outcome;
        }
    }

    /// A durability point returned Ok: every write issued so far is durable.
    pub fn mark_all_durable(&mut self) {
        self.durable = self.writes.len();
        self.accepted_durable = self.accepted.len();
    }

    /// The state after the first `k` writes.
    pub fn state_after(&self, k: usize) -> State {
        let mut state = self.base.clone();
        for w in self.writes.iter().take(k) {
            for m in &w.mutations {
                m.apply(&mut state);
            }
        }
        state
    }

    /// A recovery was accepted at prefix `k`: the state after `k` writes becomes the new base.
    /// Writes after `k` are gone for good.
    pub fn rebase(&mut self, k: usize) {
        self.rebase_from(k, true);
    }

    /// [`History::rebase`], saying whether the accepted state was read back from a rebooted
    /// disk (`on_disk`: every accepted write is durable now) or from a live one after a clean
    /// reopen (only the writes a durability point covered are).
    pub fn rebase_from(&mut self, k: usize, on_disk: bool) {
        let state = self.state_after(k);
        self.rebase_onto(k, on_disk, state);
    }

    /// [`History::rebase_from`] when the caller already holds the state after `k` writes (the
    /// state a recovery was accepted at equals it): it becomes the base as it is, instead of
    /// being rebuilt by applying the accepted writes once more.
    pub fn rebase_onto(&mut self, k: usize, on_disk: bool, state_after_k: State) {
        self.live = state_after_k.clone();
        self.move_window(k, on_disk, state_after_k);
    }

    /// [`History::rebase_onto`] for a history whose `live` is what [`History::issue`] keeps it:
    /// the state after every issued write. Only the keys the writes after `k` touched are put
    /// back to their state after `k`, instead of `live` being copied whole from the new base
    /// (most recoveries lose no write, and then `live` is already right).
    pub(crate) fn rebase_onto_live(&mut self, k: usize, on_disk: bool, state_after_k: State) {
        for w in self.writes.get(k..).unwrap_or_default() {
            for m in &w.mutations {
                let key = m.key();
                match state_after_k.get(key) {
                    Some(value) => {
                        self.live.insert(key.to_string(), value.clone());
                    }
                    None => {
                        self.live.remove(key);
                    }
                }
            }
        }
        self.move_window(k, on_disk, state_after_k);
    }

    /// Everything of a rebase but `live`: the writes up to `k` join the accepted ones, the rest
    /// are gone, and `state_after_k` becomes the base.
    fn move_window(&mut self, k: usize, on_disk: bool, state_after_k: State) {
        let before = self.accepted.len();
        if on_disk {
            self.accepted_durable = before + k;
        } else if self.accepted_durable == before {
            self.accepted_durable = before + k.min(self.durable);
        }
        let mut writes = std::mem::take(&mut self.writes);
        writes.truncate(k);
        self.accepted.extend(writes);
        self.base = state_after_k;
        self.durable = 0;
        self.rebases += 1;
    }

    /// The whole history since the store was created as one window: every accepted write and
    /// every write since, on top of `origin`. Its D counts the accepted writes that were durable
    /// (losing those later loses writes the store had kept).
    pub fn whole(&self) -> History {
        let mut writes = self.accepted.clone();
        writes.extend(self.writes.iter().cloned());
        History {
            base: self.origin.clone(),
            durable: if self.durable > 0 {
                self.accepted.len() + self.durable
            } else {
                self.accepted_durable
            },
            writes,
            next_id: self.next_id,
            live: self.live.clone(),
            origin: self.origin.clone(),
            accepted: Vec::new(),
            accepted_durable: 0,
            rebases: self.rebases + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str, v: &str) -> Mutation {
        Mutation::Put {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn rebasing_onto_the_state_after_k_writes_equals_rebasing_to_k() {
        for on_disk in [false, true] {
            let mut a = History::new();
            a.issue(vec![put("a", "1")], false);
            a.mark_all_durable();
            a.issue(vec![put("b", "2"), put("a", "3")], false);
            a.issue(vec![put("c", "4")], false);
            let mut b = a.clone();
            let state = a.state_after(2);
            a.rebase_from(2, on_disk);
            b.rebase_onto(2, on_disk, state);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn rebasing_with_the_live_state_kept_equals_rebasing_onto_a_copy() {
        for k in 0..=4 {
            for on_disk in [false, true] {
                let mut a = History::new();
                a.issue(vec![put("a", "1"), put("b", "1")], false);
                a.mark_all_durable();
                a.issue(
                    vec![put("b", "2"), Mutation::Delete { key: "a".into() }],
                    false,
                );
                a.issue(vec![put("c", "3")], false);
                a.issue(
                    vec![put("a", "4"), Mutation::Delete { key: "c".into() }],
                    false,
                );
                let mut b = a.clone();
                let state = a.state_after(k);
                a.rebase_onto(k, on_disk, state.clone());
                b.rebase_onto_live(k, on_disk, state);
                assert_eq!(a, b, "k {k}");
            }
        }
    }

    #[test]
    fn rebase_keeps_the_accepted_prefix_and_forgets_the_rest() {
        let mut h = History::new();
        h.issue(vec![put("a", "1")], false);
        h.issue(vec![put("b", "2")], false);
        h.mark_all_durable();
        h.issue(vec![put("c", "3")], false);
        h.rebase(2);
        assert_eq!(h.base.len(), 2);
        assert_eq!(h.issued(), 0);
        assert_eq!(h.durable, 0);
        assert_eq!(h.next_id, 3);
    }
}
