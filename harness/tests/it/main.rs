//! Integration tests of the harness (one binary, modules by topic).

#![allow(clippy::unwrap_used)]

mod careless;
mod checker;
mod killtest;
mod shrinking;
