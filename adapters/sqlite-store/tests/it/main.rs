//! Integration tests of sqlite-store, in one binary to keep link time low.

mod common;
mod concurrency;
mod durability;
mod errors;
mod round_trip;
mod vfs_seam;
