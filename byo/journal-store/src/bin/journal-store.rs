//! The journal store under every Powercut subcommand (gate, replay, explore, scenario).

use std::process::ExitCode;

use journal_store::JournalStore;

fn main() -> ExitCode {
    powercut::cli::main::<JournalStore>()
}
