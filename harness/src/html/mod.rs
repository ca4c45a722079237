//! The failure page: one self-contained HTML file that draws a failing run (issue 14).
//!
//! A crash-consistency failure is a story across files and time: a log written but not synced,
//! a rename whose directory was never synced, the power cut here, the reboot keeping these
//! sectors and tearing that one. The page tells it on one time axis of file-system events:
//!
//! - a lane per directory and per file, labelled by the file's role in the store (log, data,
//!   manifest, pointer, other), carrying its creates, writes, syncs, renames, removals and
//!   directory syncs, with pale bands where bytes or names were not durable yet;
//! - the workload's steps above the lanes, each write showing whether it was acknowledged and
//!   where it became durable, with the `D` and `N` bounds of each recovery;
//! - each power cut, and for each reboot what survived of every file drawn on its bytes
//!   (kept, dropped, torn to zeros or garbage) and which name changes it kept;
//! - the violation with the keys that differ, the hints, the faults and the replay command.
//!
//! The log is cut into epochs at reboots, each in a collapsible part; runs of writes to one file
//! share a column; reads and lookups take no room. The page needs no network, font or script.
//!
//! [`render`] is a pure function of a [`Page`], a plain struct that any store's run can fill
//! ([`page_of`] fills it from a [`crate::RunOutcome`]); [`files`] names and writes pages for the
//! `--html` options of `replay`, `scenario` and `gate`.

mod disk;
pub mod files;
mod from_run;
mod glyphs;
mod lanes;
mod page;
mod reboot;
mod render;
mod runs;
mod steps;
pub mod survivors;
mod svg;
mod text;
mod timeline;

/// A successful event in the write phase, for the page's unit tests.
#[cfg(test)]
fn ok_event(op: faultfs::EventOp) -> faultfs::Event {
    faultfs::Event {
        index: 0,
        phase: faultfs::Phase::Write,
        op,
        result: "ok".into(),
        fault: None,
    }
}

pub use from_run::page_of;
pub use page::{CrashMark, KeyDiffText, Page, StepKind, StepSpan, ViolationText};
pub use render::render;
