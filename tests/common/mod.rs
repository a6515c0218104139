//! Shared by the integration tests: [`actors`] (a probe and the messages most tests send
//! it, a flaky job handler, the traced worker), [`telemetry`] (systems that export into
//! memory or to a real OTLP receiver, outside carriers, and ways to find and check the
//! spans), and here the waits and process figures every area uses.
#![allow(dead_code)]

pub mod actors;
pub mod scheduled;
pub mod telemetry;
pub mod tree;
pub mod watching;

#[allow(unused_imports)]
pub use actors::*;

use std::time::Duration;

use actor_core::ActorSystem;

/// Generous limit for waits that only fail when something is broken.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A system with the default settings, named `test`.
pub fn system() -> ActorSystem {
    ActorSystem::builder().name("test").build()
}

/// Waits until `check` holds, polling; panics after [`PATIENCE`].
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// This process's resident set size in KiB (from `/proc/self/status`).
pub fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .parse()
        .unwrap()
}
