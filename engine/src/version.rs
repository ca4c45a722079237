//! Versions: which SSTs make up the database, level by level, and the edits that change it.
//!
//! [`VersionState::apply`] is a pure function: the MANIFEST is replayed through it at recovery
//! and every flush or compaction goes through it while running, so both paths agree.

use serde::{Deserialize, Serialize};

/// Metadata of one SST as the MANIFEST records it: enough to rebuild levels without reading it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SstMeta {
    pub number: u64,
    pub level: usize,
    pub size: u64,
    pub entries: u64,
    #[serde(with = "hex_bytes")]
    pub smallest: Vec<u8>,
    #[serde(with = "hex_bytes")]
    pub largest: Vec<u8>,
    /// Age of the newest data inside (the WAL number of the newest memtable it came from);
    /// orders L0 files, newest first.
    pub epoch: u64,
}

impl RemovedSst {
    /// Appends exactly the JSON serde_json writes for this retirement (see
    /// [`SstMeta::write_json`]).
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"{"level":"#);
        push_u64(out, self.level as u64);
        out.extend_from_slice(br#","number":"#);
        push_u64(out, self.number);
        out.push(b'}');
    }
}

impl SstMeta {
    pub fn overlaps(&self, smallest: &[u8], largest: &[u8]) -> bool {
        self.smallest.as_slice() <= largest && smallest <= self.largest.as_slice()
    }

    /// Appends exactly the JSON `serde_json::to_writer` writes for this SST (fields in
    /// declaration order, keys as lowercase hex strings), without going through serde: every
    /// MANIFEST snapshot and edit encodes SSTs, and the generic path spent most of its time
    /// in per-field dispatch. A test holds the two encodings equal.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"{"number":"#);
        push_u64(out, self.number);
        out.extend_from_slice(br#","level":"#);
        push_u64(out, self.level as u64);
        out.extend_from_slice(br#","size":"#);
        push_u64(out, self.size);
        out.extend_from_slice(br#","entries":"#);
        push_u64(out, self.entries);
        out.extend_from_slice(br#","smallest":""#);
        hex_bytes::push_hex(out, &self.smallest);
        out.extend_from_slice(br#"","largest":""#);
        hex_bytes::push_hex(out, &self.largest);
        out.extend_from_slice(br#"","epoch":"#);
        push_u64(out, self.epoch);
        out.push(b'}');
    }
}

/// Appends `n` in decimal, as JSON writes an unsigned integer.
pub(crate) fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// An SST that an edit retires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedSst {
    pub level: usize,
    pub number: u64,
}

/// One change to the set of SSTs, logged in the MANIFEST before it takes effect.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionEdit {
    /// WALs numbered below this are fully flushed and never replayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_number: Option<u64>,
    /// No file number below this will be handed out again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_file_number: Option<u64>,
    /// Every write with a sequence number up to this is now in the SSTs (a flush's newest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sequence: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<SstMeta>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<RemovedSst>,
}

/// The set of live SSTs and the log bookkeeping, without any open file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionState {
    /// `levels[0]` newest first by epoch; deeper levels sorted by smallest key, disjoint.
    pub levels: Vec<Vec<SstMeta>>,
    pub log_number: u64,
    pub next_file_number: u64,
    /// The sequence number of the newest write the SSTs hold: the WALs to replay must continue
    /// from the next one.
    #[serde(default)]
    pub last_sequence: u64,
}

impl VersionState {
    pub fn empty(levels: usize) -> VersionState {
        VersionState {
            levels: vec![Vec::new(); levels],
            log_number: 0,
            next_file_number: 1,
            last_sequence: 0,
        }
    }

    /// The state after `edit`, or why the edit cannot apply to this state.
    pub fn apply(&self, edit: &VersionEdit) -> Result<VersionState, String> {
        let mut next = self.clone();
        next.apply_in_place(edit)?;
        Ok(next)
    }

    /// Whether `edit` applies to this state: exactly when [`VersionState::apply`] succeeds, so
    /// a caller can check an edit, log it, and then apply it in place without a copy.
    pub fn check_edit(&self, edit: &VersionEdit) -> Result<(), String> {
        let count =
            |level: &[SstMeta], number: u64| level.iter().filter(|m| m.number == number).count();
        for (i, r) in edit.removed.iter().enumerate() {
            let level = self.levels.get(r.level).ok_or_else(|| {
                format!(
                    "edit removes SST {} from missing level {}",
                    r.number, r.level
                )
            })?;
            // Each earlier removal of the same SST from the same level took one listing.
            let earlier = edit.removed[..i].iter().filter(|p| *p == r).count();
            if count(level, r.number) <= earlier {
                return Err(format!(
                    "edit removes SST {} not in level {}",
                    r.number, r.level
                ));
            }
        }
        for (i, m) in edit.added.iter().enumerate() {
            let listed: usize = self.levels.iter().map(|l| count(l, m.number)).sum();
            let removed = edit.removed.iter().filter(|r| r.number == m.number).count();
            let added_before = edit.added[..i].iter().any(|a| a.number == m.number);
            if listed > removed || added_before {
                return Err(format!("edit adds SST {} twice", m.number));
            }
            if m.smallest > m.largest {
                return Err(format!(
                    "edit adds SST {} with smallest > largest",
                    m.number
                ));
            }
        }
        if let Some(seq) = edit.last_sequence
            && seq < self.last_sequence
        {
            return Err(format!(
                "edit moves the last sequence number back from {} to {seq}",
                self.last_sequence
            ));
        }
        Ok(())
    }

    /// [`VersionState::apply`] without the copy, for a caller that drops the state if the edit
    /// does not apply (MANIFEST replay refuses the whole MANIFEST then).
    pub fn apply_in_place(&mut self, edit: &VersionEdit) -> Result<(), String> {
        self.apply_parts(edit, edit.added.clone())
    }

    /// [`VersionState::apply_in_place`] for a caller done with the edit: the SSTs it adds move
    /// into the state instead of being copied (two key buffers each).
    pub fn apply_owned(&mut self, mut edit: VersionEdit) -> Result<(), String> {
        let added = std::mem::take(&mut edit.added);
        self.apply_parts(&edit, added)
    }

    /// Applies `edit` with `added` as the SSTs it adds (its own `added` is not read).
    fn apply_parts(&mut self, edit: &VersionEdit, added: Vec<SstMeta>) -> Result<(), String> {
        let next = self;
        let next_file = added.iter().map(|m| m.number + 1).max();
        for r in &edit.removed {
            let level = next.levels.get_mut(r.level).ok_or_else(|| {
                format!(
                    "edit removes SST {} from missing level {}",
                    r.number, r.level
                )
            })?;
            let at = level
                .iter()
                .position(|m| m.number == r.number)
                .ok_or_else(|| format!("edit removes SST {} not in level {}", r.number, r.level))?;
            level.remove(at);
        }
        for m in added {
            if next.contains(m.number) {
                return Err(format!("edit adds SST {} twice", m.number));
            }
            if m.smallest > m.largest {
                return Err(format!(
                    "edit adds SST {} with smallest > largest",
                    m.number
                ));
            }
            if next.levels.len() <= m.level {
                next.levels.resize(m.level + 1, Vec::new());
            }
            let level = m.level;
            next.levels[level].push(m);
        }
        next.levels[0].sort_by(|a, b| b.epoch.cmp(&a.epoch).then(b.number.cmp(&a.number)));
        for level in next.levels.iter_mut().skip(1) {
            level.sort_by(|a, b| a.smallest.cmp(&b.smallest));
        }
        if let Some(n) = edit.log_number {
            next.log_number = next.log_number.max(n);
        }
        if let Some(n) = edit.next_file_number {
            next.next_file_number = next.next_file_number.max(n);
        }
        if let Some(seq) = edit.last_sequence {
            if seq < next.last_sequence {
                return Err(format!(
                    "edit moves the last sequence number back from {} to {seq}",
                    next.last_sequence
                ));
            }
            next.last_sequence = seq;
        }
        if let Some(n) = next_file {
            next.next_file_number = next.next_file_number.max(n);
        }
        Ok(())
    }

    pub fn contains(&self, number: u64) -> bool {
        self.all().any(|m| m.number == number)
    }

    /// Every live SST, level by level.
    pub fn all(&self) -> impl Iterator<Item = &SstMeta> {
        self.levels.iter().flatten()
    }

    pub fn level_bytes(&self, level: usize) -> u64 {
        self.levels
            .get(level)
            .map_or(0, |l| l.iter().map(|m| m.size).sum())
    }

    /// Broken level invariants, if any: deeper levels sorted and disjoint, every SST at its level.
    pub fn check_levels(&self) -> Result<(), String> {
        for (li, level) in self.levels.iter().enumerate() {
            for m in level {
                if m.level != li {
                    return Err(format!(
                        "SST {} recorded at level {} sits in level {li}",
                        m.number, m.level
                    ));
                }
                if m.smallest > m.largest {
                    return Err(format!("SST {} has smallest > largest", m.number));
                }
            }
            if li == 0 {
                continue;
            }
            for pair in level.windows(2) {
                if pair[0].largest >= pair[1].smallest {
                    return Err(format!(
                        "L{li} SSTs {} and {} overlap or are out of order",
                        pair[0].number, pair[1].number
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Keys as hex strings in the JSON, so the MANIFEST stays readable.
pub(crate) mod hex_bytes {
    // Keys in MANIFEST edits are lowercase hex strings, so the JSON stays readable and exact.

    use std::fmt;

    use serde::de::{Error, Visitor};
    use serde::{Deserializer, Serializer};

    const DIGITS: &[u8; 16] = b"0123456789abcdef";

    /// The two digits of every byte, so encoding a byte is one copy instead of two lookups.
    const PAIRS: [[u8; 2]; 256] = {
        let mut pairs = [[0u8; 2]; 256];
        let mut b = 0;
        while b < 256 {
            pairs[b] = [DIGITS[b >> 4], DIGITS[b & 0x0f]];
            b += 1;
        }
        pairs
    };

    /// Appends the lowercase hex digits of `bytes`.
    pub(crate) fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
        out.reserve(bytes.len() * 2);
        for b in bytes {
            out.extend_from_slice(&PAIRS[usize::from(*b)]);
        }
    }

    /// Keys up to this long are encoded on the stack instead of in a new String.
    const STACK_KEY_BYTES: usize = 64;

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let mut stack = [0u8; STACK_KEY_BYTES * 2];
        let mut heap = Vec::new();
        let out: &mut [u8] = if bytes.len() <= STACK_KEY_BYTES {
            &mut stack[..bytes.len() * 2]
        } else {
            heap.resize(bytes.len() * 2, 0);
            &mut heap
        };
        for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
            pair.copy_from_slice(&PAIRS[usize::from(*b)]);
        }
        match std::str::from_utf8(out) {
            Ok(text) => s.serialize_str(text),
            Err(e) => Err(serde::ser::Error::custom(format!("hex key: {e}"))),
        }
    }

    /// The value of every hex digit (either case), and `NOT_HEX` for every other byte.
    pub(crate) const NIBBLES: [u8; 256] = {
        let mut nibbles = [NOT_HEX; 256];
        let mut d = 0;
        while d < 10 {
            nibbles[b'0' as usize + d] = d as u8;
            d += 1;
        }
        let mut d = 0;
        while d < 6 {
            nibbles[b'a' as usize + d] = 10 + d as u8;
            nibbles[b'A' as usize + d] = 10 + d as u8;
            d += 1;
        }
        nibbles
    };

    /// What [`NIBBLES`] holds for a byte that is not a hex digit.
    pub(crate) const NOT_HEX: u8 = 0xff;

    /// Decodes hex `digits` (an even number of them), or `None` at the first byte that is not a
    /// hex digit.
    pub(crate) fn decode(digits: &[u8]) -> Option<Vec<u8>> {
        // Sized up front: collecting into an Option would grow the key byte by byte.
        let mut key = Vec::with_capacity(digits.len() / 2);
        for pair in digits.chunks_exact(2) {
            let (hi, lo) = (NIBBLES[usize::from(pair[0])], NIBBLES[usize::from(pair[1])]);
            if (hi | lo) == NOT_HEX {
                return None;
            }
            key.push(hi << 4 | lo);
        }
        Some(key)
    }

    /// Decodes the key from the string in place: deserializing a `Cow<str>` (or a `String`)
    /// first copied every key into a new String, only to drop it after decoding.
    struct HexVisitor;

    impl Visitor<'_> for HexVisitor {
        type Value = Vec<u8>;

        /// What `String`'s own visitor says, so a key of the wrong type is refused in the same
        /// words.
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<E: Error>(self, s: &str) -> Result<Vec<u8>, E> {
            let digits = s.as_bytes();
            if !digits.len().is_multiple_of(2) {
                return Err(E::custom("odd-length hex key"));
            }
            decode(digits).ok_or_else(|| E::custom("bad hex digit in key"))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_str(HexVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn meta(
        number: u64,
        level: usize,
        smallest: &str,
        largest: &str,
        epoch: u64,
    ) -> SstMeta {
        SstMeta {
            number,
            level,
            size: 100,
            entries: 1,
            smallest: smallest.as_bytes().to_vec(),
            largest: largest.as_bytes().to_vec(),
            epoch,
        }
    }

    #[test]
    fn sst_json_is_exactly_what_serde_json_writes() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut cases = vec![
            SstMeta {
                number: 0,
                level: 0,
                size: 0,
                entries: 0,
                smallest: Vec::new(),
                largest: Vec::new(),
                epoch: 0,
            },
            SstMeta {
                number: u64::MAX,
                level: usize::MAX,
                size: u64::MAX,
                entries: u64::MAX,
                smallest: (0..=255).collect(),
                largest: vec![0xff; 300],
                epoch: u64::MAX,
            },
        ];
        for _ in 0..500 {
            let key = |rng: &mut rand_chacha::ChaCha8Rng| {
                let len = rng.random_range(0..100);
                (0..len).map(|_| rng.random::<u8>()).collect::<Vec<u8>>()
            };
            let digits = rng.random_range(0..20u32);
            cases.push(SstMeta {
                number: rng.random::<u64>() % 10u64.pow(digits),
                level: rng.random_range(0..8),
                size: rng.random(),
                entries: rng.random_range(0..100_000),
                smallest: key(&mut rng),
                largest: key(&mut rng),
                epoch: rng.random_range(0..1000),
            });
        }
        for m in &cases {
            let mut ours = Vec::new();
            m.write_json(&mut ours);
            let theirs = serde_json::to_vec(m).expect("SstMeta encodes");
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            );
            let back: SstMeta = serde_json::from_slice(&ours).expect("our JSON decodes");
            assert_eq!(&back, m);
        }
    }

    #[test]
    fn apply_adds_removes_and_orders_levels() {
        let s = VersionState::empty(3);
        let s = s
            .apply(&VersionEdit {
                added: vec![
                    meta(5, 0, "a", "c", 4),
                    meta(7, 0, "b", "d", 6),
                    meta(9, 1, "m", "n", 1),
                    meta(8, 1, "a", "b", 1),
                ],
                log_number: Some(6),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            s.levels[0].iter().map(|m| m.number).collect::<Vec<_>>(),
            vec![7, 5]
        );
        assert_eq!(
            s.levels[1].iter().map(|m| m.number).collect::<Vec<_>>(),
            vec![8, 9]
        );
        assert_eq!(s.next_file_number, 10);
        assert_eq!(s.log_number, 6);
        s.check_levels().unwrap();
        let s2 = s
            .apply(&VersionEdit {
                removed: vec![RemovedSst {
                    level: 0,
                    number: 5,
                }],
                ..Default::default()
            })
            .unwrap();
        assert!(!s2.contains(5));
        assert!(
            s2.apply(&VersionEdit {
                removed: vec![RemovedSst {
                    level: 0,
                    number: 5
                }],
                ..Default::default()
            })
            .is_err()
        );
    }

    /// `check_edit` accepts exactly the edits `apply` accepts, on states with duplicate
    /// listings and edits that remove, re-add and move the same SSTs.
    #[test]
    fn check_edit_agrees_with_apply() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut agreed_ok = 0;
        for _ in 0..20_000 {
            let mut state = VersionState::empty(3);
            for _ in 0..rng.random_range(0..6) {
                let level = rng.random_range(0..3);
                state.levels[level].push(meta(rng.random_range(1..6), level, "b", "c", 1));
            }
            state.last_sequence = rng.random_range(0..4);
            let edit = VersionEdit {
                removed: (0..rng.random_range(0..3))
                    .map(|_| RemovedSst {
                        level: rng.random_range(0..4),
                        number: rng.random_range(1..6),
                    })
                    .collect(),
                added: (0..rng.random_range(0..3))
                    .map(|_| {
                        let (lo, hi) = if rng.random_bool(0.9) {
                            ("a", "b")
                        } else {
                            ("b", "a")
                        };
                        meta(rng.random_range(1..8), rng.random_range(0..3), lo, hi, 2)
                    })
                    .collect(),
                last_sequence: rng.random_bool(0.5).then(|| rng.random_range(0..4)),
                ..Default::default()
            };
            let applied = state.apply(&edit);
            assert_eq!(
                state.check_edit(&edit).is_ok(),
                applied.is_ok(),
                "{state:?} {edit:?}"
            );
            agreed_ok += usize::from(applied.is_ok());
        }
        assert!(agreed_ok > 1000, "{agreed_ok}");
    }

    #[test]
    fn overlapping_deeper_level_is_reported() {
        let s = VersionState::empty(2)
            .apply(&VersionEdit {
                added: vec![meta(1, 1, "a", "c", 1), meta(2, 1, "b", "d", 1)],
                ..Default::default()
            })
            .unwrap();
        assert!(s.check_levels().is_err());
    }

    #[test]
    fn bad_hex_keys_are_refused_in_serde_words() {
        let with_smallest = |smallest: &str| {
            format!(
                r#"{{"number":1,"level":0,"size":1,"entries":1,"smallest":{smallest},"largest":"61","epoch":1}}"#
            )
        };
        let refused = |smallest: &str| {
            serde_json::from_str::<SstMeta>(&with_smallest(smallest))
                .unwrap_err()
                .to_string()
        };
        // The words `String`'s own visitor uses for a value that is not a string.
        let string_refusal = serde_json::from_str::<String>("5").unwrap_err().to_string();
        assert!(refused("5").starts_with(string_refusal.split(" at ").next().unwrap()));
        assert!(refused(r#""616""#).starts_with("odd-length hex key"));
        assert!(refused(r#""6g""#).starts_with("bad hex digit in key"));
        assert_eq!(
            serde_json::from_str::<SstMeta>(&with_smallest(r#""0aFf""#))
                .unwrap()
                .smallest,
            vec![0x0a, 0xff]
        );
    }

    #[test]
    fn edits_round_trip_through_json() {
        let e = VersionEdit {
            added: vec![meta(3, 1, "\u{0}k", "z\u{ff}", 2)],
            removed: vec![RemovedSst {
                level: 0,
                number: 1,
            }],
            log_number: Some(4),
            next_file_number: Some(9),
            last_sequence: Some(17),
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<VersionEdit>(&json).unwrap(), e);
    }
}
