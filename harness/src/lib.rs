//! Powercut's harness: a reference model and checker, seeded workloads, crash/recover loops,
//! replay, shrinking, exploration and the `powercut` CLI.
