//! [`SentCounts`]: what senders did with an actor's mailbox, counted where every send ends
//! (`ActorRef::finish`) and observed by the actor's meter.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::mailbox::NoRoom;

/// Sends to one actor: delivered, and refused by reason.
#[derive(Debug, Default)]
pub(crate) struct SentCounts {
    delivered: AtomicU64,
    full: AtomicU64,
    closed: AtomicU64,
    timed_out: AtomicU64,
}

impl SentCounts {
    /// Counts one send that ended delivered (`Ok`) or refused.
    #[inline]
    pub(crate) fn count(&self, outcome: Result<(), NoRoom>) {
        let counter = match outcome {
            Ok(()) => &self.delivered,
            Err(NoRoom::Full) => &self.full,
            Err(NoRoom::Closed) => &self.closed,
            Err(NoRoom::TimedOut) => &self.timed_out,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Delivered sends, then refusals with their `error.type`.
    pub(crate) fn read(&self) -> [(Option<&'static str>, u64); 4] {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            (None, get(&self.delivered)),
            (Some("full"), get(&self.full)),
            (Some("closed"), get(&self.closed)),
            (Some("timeout"), get(&self.timed_out)),
        ]
    }
}
