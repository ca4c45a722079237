//! A store with crash bugs under the whole Powercut CLI, the way a user's binary looks:
//!
//! ```text
//! cargo run -p powercut --example careless_store -- gate --seeds 200
//! cargo run -p powercut --example careless_store -- replay --seed 3
//! ```
//!
//! The gate fails (exit 1) and prints a shrunk report whose `replay:` line names this binary.
//! `powercut::stores::careless` shows the `Store` implementation behind it.

use std::process::ExitCode;

use powercut::stores::CarelessStore;

fn main() -> ExitCode {
    powercut::cli::main::<CarelessStore>()
}
