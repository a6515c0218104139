//! What happens when a handler panics: restart (within a limit) or stop.

use std::time::Duration;

/// An actor's supervision policy, applied when its factory, `started` hook or a handler panics.
/// The mailbox survives a restart: queued messages are handled by the fresh state. A child
/// ([`Ctx::spawn_child`](crate::Ctx::spawn_child)) follows its parent's
/// [`SupervisionStrategy`](crate::SupervisionStrategy) instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supervision {
    /// Stop the actor. Queued asks get [`AskError::Dropped`](crate::AskError::Dropped).
    Stop,
    /// Build a fresh state with the factory, at most `max_restarts` times within `within`;
    /// one more panic in that window stops the actor.
    Restart {
        /// Restarts allowed within the window.
        max_restarts: u32,
        /// The sliding window.
        within: Duration,
    },
}

impl Supervision {
    /// Restart at most `max_restarts` times within `within`.
    pub fn restart(max_restarts: u32, within: Duration) -> Self {
        Supervision::Restart {
            max_restarts,
            within,
        }
    }
}

impl Default for Supervision {
    /// Restart up to 3 times within 10 seconds.
    fn default() -> Self {
        Supervision::restart(3, Duration::from_secs(10))
    }
}
