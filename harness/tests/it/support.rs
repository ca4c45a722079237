//! Short names for running the shipped stores in tests.

use powercut::stores::{CarelessStore, EngineStore};
use powercut::{Case, ExploreOptions, ExploreOutcome, RunOptions, RunOutcome, Scenario};

/// One seed on the engine.
pub fn engine_seed(seed: u64, opts: &RunOptions) -> RunOutcome {
    powercut::run_seed::<EngineStore>(seed, opts).unwrap()
}

/// One seed on the careless store.
pub fn careless_seed(seed: u64, opts: &RunOptions) -> RunOutcome {
    powercut::run_seed::<CarelessStore>(seed, opts).unwrap()
}

/// A case on the engine.
pub fn engine_case(case: &Case) -> RunOutcome {
    powercut::execute::<EngineStore>(case).unwrap()
}

/// A scenario on the store it names (the engine when it names none).
pub fn scenario(s: &Scenario) -> RunOutcome {
    match s.store.as_deref() {
        Some("careless") => powercut::run_scenario::<CarelessStore>(s).unwrap(),
        _ => powercut::run_scenario::<EngineStore>(s).unwrap(),
    }
}

/// Explores a case of the engine.
pub fn explore_engine(case: &Case, opts: &ExploreOptions) -> ExploreOutcome {
    powercut::explore::<EngineStore>(case, opts).unwrap()
}

/// The shipped `powercut` binary's CLI.
pub fn cli<const N: usize>(args: [&str; N]) -> u8 {
    powercut::cli::shipped_main(args.iter().map(Into::into).collect())
}
