//! The `powercut` command line over the stores this crate ships (`--store engine|careless|
//! buffered`); everything lives in `powercut::cli` so tests and users' own binaries can call it.

use std::process::ExitCode;

/// A simulated run allocates for nearly every operation; mimalloc serves that faster than the
/// system allocator (feature `fast-alloc`, on by default).
#[cfg(feature = "fast-alloc")]
#[global_allocator]
static ALLOC: powercut::fast_alloc::Mimalloc = powercut::fast_alloc::Mimalloc;

fn main() -> ExitCode {
    ExitCode::from(powercut::cli::shipped_main(std::env::args_os().collect()))
}
