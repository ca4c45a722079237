//! Integration tests of the harness (one binary, modules by topic).

#![allow(clippy::unwrap_used)]

mod careless;
mod checker;
mod exploring;
mod gate_bugs;
mod gate_exit_codes;
mod gate_reports;
mod gate_support;
mod html;
mod killtest;
mod pinned;
mod replay;
mod scenarios;
mod scenarios_files;
mod shrinking;
mod strategies;
mod support;
mod sweep;
mod verdicts;
