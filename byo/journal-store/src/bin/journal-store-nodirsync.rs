//! The same store with one defect built in: the journal's directory entry is never synced after
//! the journal is created, so a power cut before the first snapshot can lose the whole journal,
//! synced writes included. The gate must fail on it.

use std::process::ExitCode;

use journal_store::NoDirSync;

fn main() -> ExitCode {
    powercut::cli::main::<NoDirSync>()
}
