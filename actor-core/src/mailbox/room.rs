//! [`Room`]: the places of a bounded mailbox, counted beside the channel.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Notify;

/// The places of a bounded mailbox: senders take one each, the receive loop gives them back.
pub(crate) struct Room {
    capacity: usize,
    /// Messages sent and not yet taken out by the receive loop. Never above `capacity`
    /// through [`Room::try_take`]; the actor's own messages may go beyond it.
    queued: AtomicUsize,
    /// Set when the actor is asked to stop: no sender waits for a place any more.
    closed: AtomicBool,
    /// Wakes senders waiting for a place, when places come back or the mailbox closes.
    pub(crate) freed: Notify,
}

impl Room {
    pub(crate) fn new(capacity: usize) -> Self {
        Room {
            capacity: capacity.max(1),
            queued: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            freed: Notify::new(),
        }
    }

    /// Takes a place, if there is one.
    pub(crate) fn try_take(&self) -> bool {
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |queued| {
                (queued < self.capacity).then_some(queued + 1)
            })
            .is_ok()
    }

    /// Takes a place even past the capacity: for the actor's messages to itself, which
    /// must never wait for room that only the actor itself can free.
    pub(crate) fn take_anyway(&self) {
        self.queued.fetch_add(1, Ordering::AcqRel);
    }

    /// Places taken and not yet given back.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Ends every wait for a place: the actor was asked to stop. Waiting senders get
    /// their message back at once, even while a handler is still running.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.freed.notify_waiters();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Gives back `n` places.
    pub(crate) fn give_back(&self, n: usize) {
        if n == 0 {
            return;
        }
        let before = self.queued.fetch_sub(n, Ordering::AcqRel);
        // A sender waits only after it saw the mailbox full, and `queued` cannot go down
        // between that and this first give-back: so it was full just before.
        if before >= self.capacity {
            self.freed.notify_waiters();
        }
    }
}
