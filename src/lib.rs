//! The `periscope` binary's library: configuration, wiring of the crates and the shutdown
//! order. It holds no domain logic; each crate owns its own.

pub mod allocator;
pub mod bench;
pub mod cli;
pub mod config;
pub mod demo;
mod serve;

pub use config::Config;
pub use serve::run;
