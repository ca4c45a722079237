//! Integration tests of redb-store, in one binary (one link instead of one per file).

mod durability;
mod errors;
mod round_trip;
mod support;
