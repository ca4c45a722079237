//! Integration tests of the harness (one binary, modules by topic).

#![allow(clippy::unwrap_used)]

mod careless;
mod checker;
mod exploring;
mod killtest;
mod replay;
mod scenarios;
mod shrinking;
mod strategies;
mod sweep;
