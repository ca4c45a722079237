//! The stores Powercut ships: the LSM engine, and a careless log store that must fail.

pub mod buffered;
pub mod careless;
pub mod engine;

pub use careless::{CarelessConfig, CarelessStore};
pub use engine::{EngineConfig, EngineStore};
