//! The `powercut` command line over the stores this crate ships (`--store engine|careless|
//! buffered`); everything lives in `powercut::cli` so tests and users' own binaries can call it.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(powercut::cli::shipped_main(std::env::args_os().collect()))
}
