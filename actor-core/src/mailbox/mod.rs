//! Mailboxes: a tokio unbounded channel of envelopes, bounded (the default) by a count of
//! queued messages.
//!
//! The bound is kept beside the channel rather than with tokio's bounded channel: a sender
//! takes a place with one atomic operation, and the receive loop gives back a whole batch of
//! places with one more. tokio's bounded channel instead runs a semaphore future per send
//! and takes a lock per batch; measured, that was 50–170 ns of every tell (BENCHMARKS.md).

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::dead_letter::DeadLetterReason;
use crate::mailbox::room::Room;
use crate::mailbox::size::MailboxSize;

pub(crate) mod envelope;
pub(crate) mod room;
pub(crate) mod size;

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

impl NoRoom {
    /// The dead-letter reason of a message that got no place for this reason.
    pub(crate) fn dead_letter_reason(self) -> DeadLetterReason {
        match self {
            NoRoom::Closed => DeadLetterReason::Closed,
            NoRoom::Full => DeadLetterReason::Full,
            NoRoom::TimedOut => DeadLetterReason::TimedOut,
        }
    }
}

/// Why a send did not go through; the envelope comes back (whole, so the message can be
/// returned to its sender: hence the large error type, allowed below).
pub(crate) struct Refused<T> {
    pub why: NoRoom,
    pub envelope: T,
}

/// The sending half of a mailbox.
pub(crate) struct MailboxTx<T> {
    tx: mpsc::UnboundedSender<T>,
    room: Option<Arc<Room>>,
}

impl<T> Clone for MailboxTx<T> {
    fn clone(&self) -> Self {
        MailboxTx {
            tx: self.tx.clone(),
            room: self.room.clone(),
        }
    }
}

/// The receiving half of a mailbox, owned by the actor's receive loop.
pub(crate) struct MailboxRx<T> {
    rx: mpsc::UnboundedReceiver<T>,
    room: Option<Arc<Room>>,
}

/// Makes a mailbox of the given size.
pub(crate) fn mailbox<T>(size: MailboxSize) -> (MailboxTx<T>, MailboxRx<T>) {
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

impl<T> MailboxTx<T> {
    /// The mailbox's places (bounded mailboxes only), for closing them on a stop request.
    pub(crate) fn room(&self) -> Option<Arc<Room>> {
        self.room.clone()
    }

    /// Takes a place without waiting. The actor's own messages always get one.
    pub(crate) fn try_reserve(&self, from_self: bool) -> Result<(), NoRoom> {
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
    pub(crate) async fn reserve(&self) -> Result<(), NoRoom> {
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
    pub(crate) fn push(&self, envelope: T) -> Result<(), Refused<T>> {
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
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// How many messages are queued, when the mailbox knows it (bounded only).
    pub(crate) fn queued(&self) -> Option<usize> {
        self.room.as_ref().map(|room| room.queued())
    }
}

impl<T> MailboxRx<T> {
    /// Whether nothing is queued right now.
    pub(crate) fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// Waits until something is queued, then moves up to `limit` envelopes into `batch`;
    /// 0 once the mailbox is closed and empty.
    pub(crate) async fn recv_many(&mut self, batch: &mut Vec<T>, limit: usize) -> usize {
        let received = self.rx.recv_many(batch, limit).await;
        self.give_back(received);
        received
    }

    /// Waits for the next envelope; `None` once the mailbox is closed and empty.
    pub(crate) async fn recv(&mut self) -> Option<T> {
        let envelope = self.rx.recv().await;
        self.give_back(usize::from(envelope.is_some()));
        envelope
    }

    /// Refuses new messages; what is queued can still be received. Senders waiting for room
    /// learn it at once.
    pub(crate) fn close(&mut self) {
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

impl<T> Drop for MailboxRx<T> {
    /// Senders waiting for room learn that the mailbox is gone.
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future as _;

    use super::*;

    /// Any message type will do: the places do not look inside.
    type A = u64;

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
