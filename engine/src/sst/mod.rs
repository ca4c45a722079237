//! Sorted string tables.
//!
//! ```text
//! +--------------------+ 0
//! | data block 0       |  sorted entries, checksummed (block.rs)
//! | data block 1 ...   |
//! +--------------------+ index_offset
//! | index block        |  last key + location of each data block, checksummed (index.rs)
//! +--------------------+ bloom_offset
//! | bloom filter block |  over every key, checksummed (bloom.rs)
//! +--------------------+ file_len - 56
//! | footer             |  locations, entry count, checksum, magic (footer.rs)
//! +--------------------+ file_len
//! ```

pub mod block;
pub mod bloom;
pub mod builder;
pub mod fence;
pub mod footer;
pub mod index;
pub mod table;

pub use builder::{BuiltSst, SstBuilder};
pub use table::{Table, TableIter};
