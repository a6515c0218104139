#![doc = include_str!("../README.md")]
//!
//! This facade re-exports the two crates of the workspace.

pub use actor_core;
pub use actor_otel;
