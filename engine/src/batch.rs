//! Writes as the caller gives them: options, batches, operations.

use serde::{Deserialize, Serialize};

/// Per-write durability.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteOptions {
    /// Durable when the call returns (WAL synced).
    pub sync: bool,
}

/// One operation of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BatchOp {
    Put { key: Vec<u8>, value: Vec<u8> },
    Delete { key: Vec<u8> },
}

impl BatchOp {
    /// The key this operation writes.
    pub fn key(&self) -> &[u8] {
        match self {
            BatchOp::Put { key, .. } | BatchOp::Delete { key } => key,
        }
    }

    /// The key, and the value (`None`: a delete).
    pub fn view(&self) -> (&[u8], Option<&[u8]>) {
        match self {
            BatchOp::Put { key, value } => (key, Some(value)),
            BatchOp::Delete { key } => (key, None),
        }
    }
}

/// The operations of one atomic write, borrowed from the caller: a single put or delete needs
/// no batch built for it (no allocation between the caller's slices and the memtable's copy).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ops<'a> {
    /// One operation: a key and its value (`None`: a delete).
    One(&'a [u8], Option<&'a [u8]>),
    Batch(&'a [BatchOp]),
}

impl<'a> Ops<'a> {
    pub fn len(&self) -> usize {
        match self {
            Ops::One(..) => 1,
            Ops::Batch(ops) => ops.len(),
        }
    }

    /// Operation `i` as a key and a value (`None`: a delete).
    pub fn get(&self, i: usize) -> (&'a [u8], Option<&'a [u8]>) {
        match *self {
            Ops::One(key, value) => (key, value),
            Ops::Batch(ops) => ops[i].view(),
        }
    }

    pub fn iter(self) -> impl ExactSizeIterator<Item = (&'a [u8], Option<&'a [u8]>)> {
        (0..self.len()).map(move |i| self.get(i))
    }
}

/// An atomic group of writes: after a crash all of it or none of it is there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteBatch {
    pub ops: Vec<BatchOp>,
}

impl WriteBatch {
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(BatchOp::Put {
            key: key.into(),
            value: value.into(),
        });
        self
    }
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(BatchOp::Delete { key: key.into() });
        self
    }
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}
