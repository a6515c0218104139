//! [`SupervisionStrategy`]: how a parent answers a child's failure.

use std::time::Duration;

/// Which children restart when one of them fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartScope {
    /// Only the failed child.
    OneForOne,
    /// Every child, one after another in spawn order.
    OneForAll,
    /// The failed child and those spawned after it, in spawn order.
    RestForOne,
}

/// How a parent supervises its children ([`Ctx::spawn_child`](crate::Ctx::spawn_child)):
/// which of them restart when one fails, and how often that may happen (at most
/// `max_restarts` failures within `within`; one more and the parent *escalates*: it stops
/// its children and fails itself, and its own parent decides, up to a root, which stops
/// with [`StopReason::Escalated`](crate::StopReason::Escalated)).
///
/// ```
/// use std::time::Duration;
/// use actor_core::SupervisionStrategy;
/// let strategy = SupervisionStrategy::one_for_all().max_restarts(3, Duration::from_secs(10));
/// # let _ = strategy;
/// ```
///
/// A child's own [`Supervision`](crate::Supervision) policy is not used: its parent's
/// strategy decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupervisionStrategy {
    /// Which children restart.
    pub scope: RestartScope,
    /// Failures allowed within the window.
    pub max_restarts: u32,
    /// The sliding window.
    pub within: Duration,
}

impl SupervisionStrategy {
    /// Restart only the failed child (the default), at most 3 times within 10 s.
    pub fn one_for_one() -> Self {
        SupervisionStrategy {
            scope: RestartScope::OneForOne,
            max_restarts: 3,
            within: Duration::from_secs(10),
        }
    }

    /// Restart every child when one fails, in spawn order.
    pub fn one_for_all() -> Self {
        SupervisionStrategy {
            scope: RestartScope::OneForAll,
            ..Self::one_for_one()
        }
    }

    /// Restart the failed child and the children spawned after it, in spawn order.
    pub fn rest_for_one() -> Self {
        SupervisionStrategy {
            scope: RestartScope::RestForOne,
            ..Self::one_for_one()
        }
    }

    /// The restart intensity: at most `max_restarts` failures within `within`.
    pub fn max_restarts(mut self, max_restarts: u32, within: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.within = within;
        self
    }
}

impl Default for SupervisionStrategy {
    /// [`one_for_one`](SupervisionStrategy::one_for_one), 3 restarts within 10 s.
    fn default() -> Self {
        Self::one_for_one()
    }
}
