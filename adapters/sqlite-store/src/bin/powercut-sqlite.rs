//! `powercut-sqlite`: every Powercut subcommand (gate, replay, explore, scenario) on real SQLite
//! through the `powercut` VFS. `powercut-sqlite gate --list-bugs` lists its canaries.

fn main() -> std::process::ExitCode {
    powercut::cli::main::<sqlite_store::SqliteStore>()
}
