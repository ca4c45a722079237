//! The stores Powercut ships: the LSM engine (feature `engine`), a careless log store that
//! must fail, and a store that acknowledges from a user-space buffer (for the kill-test).

pub mod buffered;
pub mod careless;
#[cfg(feature = "engine")]
pub mod engine;

pub use careless::{CarelessConfig, CarelessStore};
#[cfg(feature = "engine")]
pub use engine::{EngineConfig, EngineStore};
