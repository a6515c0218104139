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

    /// The outcomes [`read`](SentCounts::read) counts, in its order: delivered, then the
    /// refusals by `error.type`.
    pub(crate) const OUTCOMES: [Option<&'static str>; 4] =
        [None, Some("full"), Some("closed"), Some("timeout")];

    /// The counts of [`OUTCOMES`](SentCounts::OUTCOMES), in that order.
    pub(crate) fn read(&self) -> [u64; 4] {
        [&self.delivered, &self.full, &self.closed, &self.timed_out]
            .map(|c| c.load(Ordering::Relaxed))
    }
}
