//! Mailboxes: a tokio unbounded channel of envelopes, bounded (the default) by a count of
//! queued messages.
//!
//! The bound is kept beside the channel rather than with tokio's bounded channel: a sender
//! takes a place with one atomic operation, and the receive loop gives back a whole batch of
//! places with one more. tokio's bounded channel instead runs a semaphore future per send
//! and takes a lock per batch; measured, that was 50–170 ns of every tell (BENCHMARKS.md).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, Notify};

use crate::envelope::Envelope;
use crate::Actor;

/// Default capacity of a bounded mailbox.
pub const DEFAULT_CAPACITY: usize = 1024;

/// The size of an actor's mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxSize {
    /// At most this many queued messages from others; `tell` waits for room (until its
    /// timeout, or until the actor is asked to stop), `try_tell` fails at once. The actor's
    /// messages to itself never wait and are never refused for room: they go in past the
    /// bound, since only the actor could free it. Senders waiting for room are woken together when the receive loop takes a batch out
    /// and race for the freed places: each sender's messages keep their order, but waiting
    /// senders are not served first-come, first-served.
    Bounded(usize),
    /// No limit: sends never wait. Use when senders must never be slowed down.
    Unbounded,
}

impl Default for MailboxSize {
    fn default() -> Self {
        MailboxSize::Bounded(DEFAULT_CAPACITY)
    }
}

/// Why a message got no place in the mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoRoom {
    /// The actor stopped or was asked to stop.
    Closed,
    /// The mailbox is full (and the sender would not wait).
    Full,
    /// The sender's deadline passed while it waited for a place.
    TimedOut,
}

/// Why a send did not go through; the envelope comes back (whole, so the message can be
/// returned to its sender: hence the large error type, allowed below).
pub(crate) struct Refused<A: Actor> {
    pub why: NoRoom,
    pub envelope: Envelope<A>,
}

/// The places of a bounded mailbox: senders take one each, the receive loop gives them back.
pub(crate) struct Room {
    capacity: usize,
    /// Messages sent and not yet taken out by the receive loop. Never above `capacity`
    /// through [`Room::try_take`]; the actor's own messages may go beyond it.
    queued: AtomicUsize,
    /// Set when the actor is asked to stop: no sender waits for a place any more.
    closed: AtomicBool,
    /// Wakes senders waiting for a place, when places come back or the mailbox closes.
    freed: Notify,
}

impl Room {
    fn new(capacity: usize) -> Self {
        Room {
            capacity: capacity.max(1),
            queued: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            freed: Notify::new(),
        }
    }

    /// Takes a place, if there is one.
    fn try_take(&self) -> bool {
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |queued| {
                (queued < self.capacity).then_some(queued + 1)
            })
            .is_ok()
    }

    /// Takes a place even past the capacity: for the actor's messages to itself, which
    /// must never wait for room that only the actor itself can free.
    fn take_anyway(&self) {
        self.queued.fetch_add(1, Ordering::AcqRel);
    }

    /// Ends every wait for a place: the actor was asked to stop. Waiting senders get
    /// their message back at once, even while a handler is still running.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.freed.notify_waiters();
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Gives back `n` places.
    fn give_back(&self, n: usize) {
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

/// The sending half of a mailbox.
pub(crate) struct MailboxTx<A: Actor> {
    tx: mpsc::UnboundedSender<Envelope<A>>,
    room: Option<Arc<Room>>,
}

impl<A: Actor> Clone for MailboxTx<A> {
    fn clone(&self) -> Self {
        MailboxTx {
            tx: self.tx.clone(),
            room: self.room.clone(),
        }
    }
}

/// The receiving half of a mailbox, owned by the actor's receive loop.
pub(crate) struct MailboxRx<A: Actor> {
    rx: mpsc::UnboundedReceiver<Envelope<A>>,
    room: Option<Arc<Room>>,
}

/// Makes a mailbox of the given size.
pub(crate) fn mailbox<A: Actor>(size: MailboxSize) -> (MailboxTx<A>, MailboxRx<A>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let room = match size {
        MailboxSize::Bounded(capacity) => Some(Arc::new(Room::new(capacity))),
        MailboxSize::Unbounded => None,
    };
    (
        MailboxTx {
            tx,
            room: room.clone(),
        },
        MailboxRx { rx, room },
    )
}

impl<A: Actor> MailboxTx<A> {
    /// The mailbox's places (bounded mailboxes only), for closing them on a stop request.
    pub fn room(&self) -> Option<Arc<Room>> {
        self.room.clone()
    }

    /// Takes a place without waiting. The actor's own messages always get one.
    pub fn try_reserve(&self, from_self: bool) -> Result<(), NoRoom> {
        let Some(room) = &self.room else {
            return Ok(());
        };
        if from_self {
            room.take_anyway();
            return Ok(());
        }
        if room.try_take() {
            Ok(())
        } else if self.tx.is_closed() || room.is_closed() {
            Err(NoRoom::Closed)
        } else {
            Err(NoRoom::Full)
        }
    }

    /// Waits for a place; [`NoRoom::Closed`] as soon as the actor is asked to stop.
    /// Cancel-safe: a place is taken only when this returns `Ok`.
    pub async fn reserve(&self) -> Result<(), NoRoom> {
        let Some(room) = &self.room else {
            return Ok(());
        };
        loop {
            if room.try_take() {
                return Ok(());
            }
            let freed = room.freed.notified();
            let mut freed = std::pin::pin!(freed);
            // Registered before the second look, so a place given back (or a stop
            // request) in between still wakes this sender.
            freed.as_mut().enable();
            if self.tx.is_closed() || room.is_closed() {
                return Err(NoRoom::Closed);
            }
            if room.try_take() {
                return Ok(());
            }
            freed.await;
        }
    }

    /// Puts an envelope that has its place into the channel.
    #[allow(clippy::result_large_err)]
    pub fn push(&self, envelope: Envelope<A>) -> Result<(), Refused<A>> {
        self.tx.send(envelope).map_err(|refused| {
            if let Some(room) = &self.room {
                room.give_back(1);
            }
            Refused {
                why: NoRoom::Closed,
                envelope: refused.0,
            }
        })
    }

    /// Whether the receive loop has closed the mailbox.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// How many messages are queued, when the mailbox knows it (bounded only).
    pub fn queued(&self) -> Option<usize> {
        self.room
            .as_ref()
            .map(|room| room.queued.load(Ordering::Relaxed))
    }
}

impl<A: Actor> MailboxRx<A> {
    /// Whether nothing is queued right now.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// Waits until something is queued, then moves up to `limit` envelopes into `batch`;
    /// 0 once the mailbox is closed and empty.
    pub async fn recv_many(&mut self, batch: &mut Vec<Envelope<A>>, limit: usize) -> usize {
        let received = self.rx.recv_many(batch, limit).await;
        self.give_back(received);
        received
    }

    /// Waits for the next envelope; `None` once the mailbox is closed and empty.
    pub async fn recv(&mut self) -> Option<Envelope<A>> {
        let envelope = self.rx.recv().await;
        self.give_back(usize::from(envelope.is_some()));
        envelope
    }

    /// Refuses new messages; what is queued can still be received. Senders waiting for room
    /// learn it at once.
    pub fn close(&mut self) {
        self.rx.close();
        if let Some(room) = &self.room {
            room.close();
        }
    }

    fn give_back(&self, n: usize) {
        if let Some(room) = &self.room {
            room.give_back(n);
        }
    }
}

impl<A: Actor> Drop for MailboxRx<A> {
    /// Senders waiting for room learn that the mailbox is gone.
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future as _;

    use super::*;

    struct A;
    impl Actor for A {}

    #[test]
    fn others_stop_at_the_capacity_and_the_actor_itself_goes_past_it() {
        let (tx, _rx) = mailbox::<A>(MailboxSize::Bounded(2));
        assert_eq!(tx.try_reserve(false), Ok(()));
        assert_eq!(tx.try_reserve(false), Ok(()));
        assert_eq!(tx.try_reserve(false), Err(NoRoom::Full));
        assert_eq!(tx.try_reserve(true), Ok(()));
        assert_eq!(tx.queued(), Some(3));
    }

    #[test]
    fn a_stop_request_ends_waits_and_refuses_new_places() {
        let (tx, _rx) = mailbox::<A>(MailboxSize::Bounded(1));
        assert_eq!(tx.try_reserve(false), Ok(()));
        let room = tx.room().expect("a bounded mailbox has places");
        let waiter = {
            let tx = tx.clone();
            std::thread::spawn(move || futures::executor::block_on(tx.reserve()))
        };
        room.close();
        assert_eq!(waiter.join().unwrap(), Err(NoRoom::Closed));
        assert_eq!(tx.try_reserve(false), Err(NoRoom::Closed));
    }

    #[test]
    fn a_given_up_wait_takes_no_place() {
        let (tx, rx) = mailbox::<A>(MailboxSize::Bounded(1));
        assert_eq!(tx.try_reserve(false), Ok(()));
        {
            let wait = tx.reserve();
            let mut wait = std::pin::pin!(wait);
            let waker = futures::task::noop_waker();
            let mut cx = std::task::Context::from_waker(&waker);
            assert!(wait.as_mut().poll(&mut cx).is_pending());
        }
        rx.give_back(1);
        assert_eq!(tx.queued(), Some(0), "the dropped wait left the place free");
        assert_eq!(tx.try_reserve(false), Ok(()));
    }

    #[test]
    fn an_unbounded_mailbox_never_refuses_for_room() {
        let (tx, _rx) = mailbox::<A>(MailboxSize::Unbounded);
        for _ in 0..10_000 {
            assert_eq!(tx.try_reserve(false), Ok(()));
        }
        assert!(tx.room().is_none());
    }
}
