//! The `powercut` command line. Everything lives in `harness::cli` so tests can call it.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(harness::cli::main_with(std::env::args_os()))
}
