//! Dead letters: messages that reached no handler. Each one is counted (per actor and per
//! system) and handed to the system's dead-letter handler, if one is set, with its type name
//! and its sender's trace context, so nothing disappears without a trace.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use opentelemetry::Context;

use crate::info::ActorId;

/// Why a message reached no handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadLetterReason {
    /// The actor had stopped or was stopping: the send was refused.
    Closed,
    /// The mailbox was full and the sender would not wait.
    Full,
    /// The mailbox stayed full for the whole time limit of the send.
    TimedOut,
    /// It was queued when supervision gave up on the actor (or the actor never started).
    Dropped,
    /// It was queued when the actor was killed.
    Killed,
}

impl DeadLetterReason {
    /// A short name for the reason (`closed`, `full`, `timeout`, `dropped`, `killed`), as
    /// span attributes and logs show it.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::Closed => "closed",
            DeadLetterReason::Full => "full",
            DeadLetterReason::TimedOut => "timeout",
            DeadLetterReason::Dropped => "dropped",
            DeadLetterReason::Killed => "killed",
        }
    }
}

/// A message that reached no handler, as the dead-letter handler sees it. The message
/// itself is not here: a refused send hands it back to its sender in the error
/// (`returned`), and a dropped one is gone with its actor.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The actor the message was for.
    pub actor: ActorId,
    /// That actor's name.
    pub actor_name: Arc<str>,
    /// The Rust type name of the message.
    pub message_type: &'static str,
    /// Why it was not handled.
    pub reason: DeadLetterReason,
    /// Whether the message went back to its sender (in a `SendError`), who may still
    /// deliver it.
    pub returned: bool,
    /// The sender's OpenTelemetry context.
    pub context: Context,
}

/// What the system's dead-letter handler is: called on the thread where the message was
/// refused or dropped (the sender's, or the actor's).
pub(crate) type DeadLetterHandler = Arc<dyn Fn(&DeadLetter) + Send + Sync>;

/// A system's dead letters: the count, and the handler if one was set.
#[derive(Default)]
pub(crate) struct DeadLetterOffice {
    handler: Option<DeadLetterHandler>,
    count: AtomicU64,
}

impl DeadLetterOffice {
    pub(crate) fn new(handler: Option<DeadLetterHandler>) -> Self {
        DeadLetterOffice {
            handler,
            count: AtomicU64::new(0),
        }
    }

    /// Dead letters so far.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Counts `letter` and hands it to the handler. A panicking handler is contained.
    pub(crate) fn post(&self, letter: &DeadLetter) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Some(handler) = &self.handler {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(letter)));
        }
    }
}
