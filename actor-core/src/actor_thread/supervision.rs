//! What happens when a handler panics: restart (within a limit) or stop.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// An actor's supervision policy, applied when its factory, `started` hook or a handler panics.
/// The mailbox survives a restart: queued messages are handled by the fresh state.
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

/// Applies a [`Supervision`] policy over time.
pub(crate) struct Supervisor {
    policy: Supervision,
    recent: VecDeque<Instant>,
}

impl Supervisor {
    pub(crate) fn new(policy: Supervision) -> Self {
        Supervisor {
            policy,
            recent: VecDeque::new(),
        }
    }

    /// Records a panic; says whether the actor may restart.
    pub(crate) fn allow_restart(&mut self) -> bool {
        match self.policy {
            Supervision::Stop => false,
            Supervision::Restart {
                max_restarts,
                within,
            } => {
                let now = Instant::now();
                while self
                    .recent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > within)
                {
                    self.recent.pop_front();
                }
                if self.recent.len() < max_restarts as usize {
                    self.recent.push_back(now);
                    true
                } else {
                    false
                }
            }
        }
    }
}
