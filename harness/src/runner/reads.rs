//! Reads while running: every `get` and `scan` must match the live model (read-your-writes),
//! and scenario `expect` steps must hold.

use std::ops::Bound;

use super::Runner;
use crate::checker::{KeyDiff, Violation, ViolationKind, diff_states, read_mismatch};
use crate::model::State;
use crate::model::state_of;
use crate::store::Store;

impl<S: Store> Runner<'_, S> {
    pub(super) fn get(&mut self, key: &str) {
        let Some(store) = self.store.as_mut() else {
            return;
        };
        match store.get(key.as_bytes()) {
            Ok(got) => {
                let got = got.map(crate::model::text);
                // Compared under the lock, not copied out of it.
                let mismatch = {
                    let h = self.hist();
                    read_mismatch(key, h.live.get(key).map(String::as_str), got.as_deref())
                };
                if let Some(v) = mismatch {
                    self.fail(v);
                }
            }
            Err(e) => self.on_error(e, false),
        }
    }

    pub(super) fn scan(&mut self, start: Option<&str>, end: Option<&str>) {
        let Some(store) = self.store.as_mut() else {
            return;
        };
        let lower = start.map_or(Bound::Unbounded, |s| Bound::Included(s.as_bytes()));
        let upper = end.map_or(Bound::Unbounded, |s| Bound::Included(s.as_bytes()));
        match store.scan(lower, upper) {
            Ok(pairs) => {
                let in_range = |k: &String| {
                    start.is_none_or(|s| k.as_str() >= s) && end.is_none_or(|e| k.as_str() <= e)
                };
                // The usual answer, the live range itself in order, is seen without building either
                // side as a state; anything else is compared as states, as before.
                let exact = pairs
                    .iter()
                    .map(|(k, v)| (k.as_slice(), v.as_slice()))
                    .eq(self
                        .hist()
                        .live
                        .iter()
                        .filter(|(k, _)| in_range(k))
                        .map(|(k, v)| (k.as_bytes(), v.as_bytes())));
                if exact {
                    return;
                }
                let got = state_of(pairs);
                let want: State = self
                    .hist()
                    .live
                    .iter()
                    .filter(|(k, _)| in_range(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if got != want {
                    self.fail(Violation {
                        diffs: diff_states(&want, &got),
                        ..Violation::new(
                            ViolationKind::ReadYourWrites,
                            format!(
                                "scan({start:?}..={end:?}) while running did not match the writes"
                            ),
                        )
                    });
                }
            }
            Err(e) => self.on_error(e, false),
        }
    }

    pub(super) fn expect(&mut self, key: &str, value: Option<&str>) {
        if !self.ensure_open() {
            return;
        }
        let Some(store) = self.store.as_mut() else {
            return;
        };
        match store.get(key.as_bytes()) {
            Ok(got) => {
                let got = got.map(crate::model::text);
                if got.as_deref() != value {
                    self.fail(Violation {
                        diffs: vec![KeyDiff {
                            key: key.to_string(),
                            expected: value.map(str::to_string),
                            recovered: got,
                        }],
                        ..Violation::new(
                            ViolationKind::Expectation,
                            format!("expect {key:?} failed"),
                        )
                    });
                }
            }
            Err(e) => self.on_error(e, false),
        }
    }
}
