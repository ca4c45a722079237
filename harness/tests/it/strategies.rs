//! The exported proptest strategies drive `proptest!` sweeps over a store.

use powercut::stores::EngineStore;
use powercut::strategies;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_survives_generated_cases(case in strategies::case::<EngineStore>(40)) {
        let outcome = powercut::execute::<EngineStore>(&case).unwrap();
        prop_assert!(outcome.passed(), "{}", outcome.report.map(|r| r.to_string()).unwrap_or_default());
    }

    #[test]
    fn generated_workload_params_are_valid(params in strategies::workload_params(200)) {
        prop_assert!(params.value_min <= params.value_max);
        prop_assert_eq!(powercut::generate(1, &params).len(), params.ops);
    }
}
