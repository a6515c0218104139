//! Who an actor is: its [`ActorId`] and the facts in [`ActorInfo`].

use std::sync::Arc;

/// A unique actor id within a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorId(pub(crate) u64);

impl ActorId {
    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for ActorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Static facts about one actor, handed to hooks and instrumentation on the actor's thread.
#[derive(Debug, Clone)]
pub struct ActorInfo {
    /// The actor's unique id in its system.
    pub id: ActorId,
    /// The actor's name (also its thread's name).
    pub name: Arc<str>,
    /// The name of the system the actor belongs to.
    pub system: Arc<str>,
    /// The managed thread id of the actor's thread (unique per process, never reused).
    pub thread_id: u64,
    /// The CPU core the thread is bound to, if any.
    pub core: Option<usize>,
}
