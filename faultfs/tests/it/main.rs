//! Integration tests of faultfs: one binary, one module per concern.

#![allow(clippy::unwrap_used)]

mod durability;
mod power;
mod util;
