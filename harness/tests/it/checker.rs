//! The checker on hand-made histories: every allowed prefix is accepted, and each kind of wrong
//! recovery is rejected with its name.

use powercut::checker::check_recovery;
use powercut::model::State;
use powercut::{History, Mutation, Outcome, Verdict, ViolationKind};

fn put(k: &str, v: &str) -> Mutation {
    Mutation::Put {
        key: k.into(),
        value: v.into(),
    }
}

fn del(k: &str) -> Mutation {
    Mutation::Delete { key: k.into() }
}

fn state(pairs: &[(&str, &str)]) -> State {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// a=1, b=2, c=3, delete a, batch {d=4, e=5}; the first two durable.
fn history() -> History {
    let mut h = History::new();
    for (i, w) in [
        vec![put("a", "1")],
        vec![put("b", "2")],
        vec![put("c", "3")],
        vec![del("a")],
        vec![put("d", "4"), put("e", "5")],
    ]
    .into_iter()
    .enumerate()
    {
        let pos = h.issue(w, false);
        h.settle(pos, Outcome::Acked);
        if i == 1 {
            h.mark_all_durable();
        }
    }
    h
}

fn rejected(h: &History, s: &State) -> ViolationKind {
    match check_recovery(h, s, h.durable) {
        Verdict::Rejected(v) => v.kind,
        Verdict::Accepted { k } => panic!("accepted at {k}: {s:?}"),
    }
}

#[test]
fn every_prefix_from_d_to_n_is_accepted() {
    let h = history();
    for k in h.durable..=h.issued() {
        assert_eq!(
            check_recovery(&h, &h.state_after(k), h.durable),
            Verdict::Accepted { k }
        );
    }
}

#[test]
fn a_prefix_below_d_is_a_lost_durable_write() {
    let h = history();
    assert_eq!(
        rejected(&h, &state(&[("a", "1")])),
        ViolationKind::LostDurable
    );
    assert_eq!(rejected(&h, &state(&[])), ViolationKind::LostDurable);
}

#[test]
fn any_prefix_is_accepted_when_the_lower_bound_is_zero() {
    let h = history();
    assert_eq!(
        check_recovery(&h, &state(&[("a", "1")]), 0),
        Verdict::Accepted { k: 1 }
    );
}

#[test]
fn a_hole_is_rejected() {
    // c=3 survived but the delete of a (write 4) did not, while the batch (write 5) did.
    let h = history();
    let s = state(&[("a", "1"), ("b", "2"), ("d", "4"), ("e", "5")]);
    assert_eq!(rejected(&h, &s), ViolationKind::NotAPrefix);
}

#[test]
fn a_reordering_is_rejected() {
    let mut h = History::new();
    h.issue(vec![put("x", "1")], false);
    h.issue(vec![put("y", "2")], false);
    // y without x: write 2 reached the disk before write 1.
    assert_eq!(
        rejected(&h, &state(&[("y", "2")])),
        ViolationKind::NotAPrefix
    );
}

#[test]
fn a_resurrected_delete_is_rejected() {
    let mut h = history();
    h.mark_all_durable();
    let mut s = h.state_after(h.issued());
    s.insert("a".into(), "1".into());
    assert_eq!(rejected(&h, &s), ViolationKind::Resurrected);
}

#[test]
fn a_torn_batch_is_rejected() {
    let h = history();
    let s = state(&[("b", "2"), ("c", "3"), ("d", "4")]);
    assert_eq!(rejected(&h, &s), ViolationKind::TornBatch);
}

#[test]
fn a_phantom_value_is_rejected() {
    let h = history();
    let s = state(&[("a", "1"), ("b", "2x")]);
    assert_eq!(rejected(&h, &s), ViolationKind::Phantom);
    let s = state(&[("a", "1"), ("b", "2"), ("zz", "1")]);
    assert_eq!(rejected(&h, &s), ViolationKind::Phantom);
}

#[test]
fn the_report_lists_the_keys_that_differ_at_the_closest_prefix() {
    let h = history();
    let Verdict::Rejected(v) = check_recovery(&h, &state(&[("a", "1")]), h.durable) else {
        panic!("accepted")
    };
    assert_eq!(v.closest_k, Some(2));
    assert_eq!(v.diffs.len(), 1);
    assert_eq!(v.diffs[0].key, "b");
    assert_eq!(v.diffs[0].expected.as_deref(), Some("2"));
    assert_eq!(v.diffs[0].recovered, None);
}

#[test]
fn a_rebased_history_checks_against_its_new_base() {
    let mut h = history();
    h.rebase(3);
    let pos = h.issue(vec![put("f", "6")], true);
    h.settle(pos, Outcome::Acked);
    h.mark_all_durable();
    let base = state(&[("a", "1"), ("b", "2"), ("c", "3")]);
    assert_eq!(rejected(&h, &base), ViolationKind::LostDurable);
    let mut after = base;
    after.insert("f".into(), "6".into());
    assert_eq!(
        check_recovery(&h, &after, h.durable),
        Verdict::Accepted { k: 1 }
    );
}
