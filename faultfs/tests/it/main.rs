//! Integration tests of faultfs: one binary, one module per concern.

#![allow(clippy::unwrap_used)]

mod append_writer;
mod atomic_sectors;
mod canary;
mod crash_model;
mod current_names;
mod determinism;
mod durability;
mod enumeration;
mod faults;
mod ordered_metadata;
mod policies;
mod power;
mod reboot_decisions;
mod sim_matches_std;
mod std_fs;
mod store_helpers;
mod util;
