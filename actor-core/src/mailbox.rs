//! Mailboxes: bounded (the default) or unbounded tokio channels of envelopes.

use tokio::sync::mpsc;

use crate::envelope::Envelope;
use crate::Actor;

/// Default capacity of a bounded mailbox.
pub const DEFAULT_CAPACITY: usize = 1024;

/// The size of an actor's mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxSize {
    /// At most this many queued messages; `tell` waits for room, `try_tell` fails at once.
    Bounded(usize),
    /// No limit: sends never wait. Use when senders must never be slowed down.
    Unbounded,
}

impl Default for MailboxSize {
    fn default() -> Self {
        MailboxSize::Bounded(DEFAULT_CAPACITY)
    }
}

/// Why a send did not go through; the envelope comes back (whole, so the message can be
/// returned to its sender: hence the large error type, allowed below).
pub(crate) enum Refused<A: Actor> {
    Closed(Envelope<A>),
    Full(Envelope<A>),
}

/// The sending half of a mailbox.
pub(crate) enum MailboxTx<A: Actor> {
    Bounded(mpsc::Sender<Envelope<A>>),
    Unbounded(mpsc::UnboundedSender<Envelope<A>>),
}

impl<A: Actor> Clone for MailboxTx<A> {
    fn clone(&self) -> Self {
        match self {
            MailboxTx::Bounded(tx) => MailboxTx::Bounded(tx.clone()),
            MailboxTx::Unbounded(tx) => MailboxTx::Unbounded(tx.clone()),
        }
    }
}

/// The receiving half of a mailbox, owned by the actor's receive loop.
pub(crate) enum MailboxRx<A: Actor> {
    Bounded(mpsc::Receiver<Envelope<A>>),
    Unbounded(mpsc::UnboundedReceiver<Envelope<A>>),
}

/// Makes a mailbox of the given size.
pub(crate) fn mailbox<A: Actor>(size: MailboxSize) -> (MailboxTx<A>, MailboxRx<A>) {
    match size {
        MailboxSize::Bounded(n) => {
            let (tx, rx) = mpsc::channel(n.max(1));
            (MailboxTx::Bounded(tx), MailboxRx::Bounded(rx))
        }
        MailboxSize::Unbounded => {
            let (tx, rx) = mpsc::unbounded_channel();
            (MailboxTx::Unbounded(tx), MailboxRx::Unbounded(rx))
        }
    }
}

impl<A: Actor> MailboxTx<A> {
    /// Sends, waiting for room in a bounded mailbox.
    #[allow(clippy::result_large_err)]
    pub async fn send(&self, env: Envelope<A>) -> Result<(), Refused<A>> {
        match self {
            MailboxTx::Bounded(tx) => tx.send(env).await.map_err(|e| Refused::Closed(e.0)),
            MailboxTx::Unbounded(tx) => tx.send(env).map_err(|e| Refused::Closed(e.0)),
        }
    }

    /// Sends without waiting.
    #[allow(clippy::result_large_err)]
    pub fn try_send(&self, env: Envelope<A>) -> Result<(), Refused<A>> {
        match self {
            MailboxTx::Bounded(tx) => tx.try_send(env).map_err(|e| match e {
                mpsc::error::TrySendError::Full(env) => Refused::Full(env),
                mpsc::error::TrySendError::Closed(env) => Refused::Closed(env),
            }),
            MailboxTx::Unbounded(tx) => tx.send(env).map_err(|e| Refused::Closed(e.0)),
        }
    }

    /// Whether the receive loop has closed the mailbox.
    pub fn is_closed(&self) -> bool {
        match self {
            MailboxTx::Bounded(tx) => tx.is_closed(),
            MailboxTx::Unbounded(tx) => tx.is_closed(),
        }
    }

    /// How many messages are queued, when the mailbox knows it (bounded only).
    pub fn queued(&self) -> Option<usize> {
        match self {
            MailboxTx::Bounded(tx) => Some(tx.max_capacity() - tx.capacity()),
            MailboxTx::Unbounded(_) => None,
        }
    }
}

impl<A: Actor> MailboxRx<A> {
    /// Whether nothing is queued right now.
    pub fn is_empty(&self) -> bool {
        match self {
            MailboxRx::Bounded(rx) => rx.is_empty(),
            MailboxRx::Unbounded(rx) => rx.is_empty(),
        }
    }

    /// Waits until something is queued, then moves up to `limit` envelopes into `batch`;
    /// 0 once the mailbox is closed and empty.
    pub async fn recv_many(&mut self, batch: &mut Vec<Envelope<A>>, limit: usize) -> usize {
        match self {
            MailboxRx::Bounded(rx) => rx.recv_many(batch, limit).await,
            MailboxRx::Unbounded(rx) => rx.recv_many(batch, limit).await,
        }
    }

    /// Waits for the next envelope; `None` once the mailbox is closed and empty.
    pub async fn recv(&mut self) -> Option<Envelope<A>> {
        match self {
            MailboxRx::Bounded(rx) => rx.recv().await,
            MailboxRx::Unbounded(rx) => rx.recv().await,
        }
    }

    /// Refuses new messages; what is queued can still be received.
    pub fn close(&mut self) {
        match self {
            MailboxRx::Bounded(rx) => rx.close(),
            MailboxRx::Unbounded(rx) => rx.close(),
        }
    }
}
