//! Integration tests of sqlite-store, in one binary to keep link time low.

mod canary;
mod common;
mod concurrency;
mod crash_loop;
mod durability;
mod errors;
mod harness_sweep;
mod round_trip;
mod vacuum_truncate;
mod vfs_seam;
