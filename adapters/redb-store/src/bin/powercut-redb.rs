//! Powercut's whole command line (gate, replay, explore, scenario) over redb: the durability
//! gate for redb is `powercut-redb gate`.

use std::process::ExitCode;

fn main() -> ExitCode {
    powercut::cli::main::<redb_store::RedbStore>()
}
