//! Integration tests of redb-store, in one binary (one link instead of one per file).

mod crash_loop;
mod declarations;
mod durability;
mod errors;
mod known_findings;
mod round_trip;
mod support;
mod sweep;
