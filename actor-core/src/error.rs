//! Typed errors. Every error that means "not delivered" hands the message back.

use std::time::Duration;

/// A message could not be put in the mailbox. The message is inside: nothing is lost.
#[derive(thiserror::Error)]
pub enum SendError<M> {
    /// The actor has stopped or is stopping and refuses new messages.
    #[error("the actor has stopped; the message was not delivered")]
    Closed(M),
    /// The mailbox is full (only from `try_tell`/`try_ask`, which do not wait).
    #[error("the mailbox is full; the message was not delivered")]
    Full(M),
    /// A blocking send was called on an actor thread, where it could deadlock.
    #[error("blocking send called on an actor thread; use the async form there")]
    WouldBlock(M),
    /// The mailbox stayed full for the whole time limit of the send (a tell's
    /// [`timeout`](crate::Tell::timeout), or an ask's, which covers the wait for room too).
    #[error("no room in the mailbox within the time limit; the message was not delivered")]
    Timeout(M),
}

impl<M> SendError<M> {
    /// Takes the undelivered message back.
    pub fn into_message(self) -> M {
        match self {
            SendError::Closed(m)
            | SendError::Full(m)
            | SendError::WouldBlock(m)
            | SendError::Timeout(m) => m,
        }
    }
}

impl<M> std::fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            SendError::Closed(_) => "Closed",
            SendError::Full(_) => "Full",
            SendError::WouldBlock(_) => "WouldBlock",
            SendError::Timeout(_) => "Timeout",
        };
        write!(f, "SendError::{kind}(..)")
    }
}

/// An `ask` did not produce a reply. Never a hang: each case ends the wait.
#[derive(thiserror::Error)]
pub enum AskError<M> {
    /// The message was not delivered (actor stopped, mailbox full, or a blocking ask on an
    /// actor thread); the message is inside.
    #[error(transparent)]
    Send(#[from] SendError<M>),
    /// The actor would ask itself and wait on itself forever; the message is inside.
    #[error("an actor asked itself from its own handler, which would deadlock")]
    SelfAsk(M),
    /// The message was delivered but no reply came within the timeout. It may still be
    /// handled later. (When the time ran out before the message got into the mailbox, the
    /// error is `Send(SendError::Timeout(msg))`, with the message.)
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The handler panicked while handling this message.
    #[error("the handler panicked: {0}")]
    Panicked(String),
    /// The message was accepted but the actor stopped before handling it (its supervision
    /// policy stopped it after a panic).
    #[error("the actor stopped before replying")]
    Dropped,
}

impl<M> AskError<M> {
    /// The undelivered message, when the error says it was not delivered.
    pub fn into_message(self) -> Option<M> {
        match self {
            AskError::Send(e) => Some(e.into_message()),
            AskError::SelfAsk(m) => Some(m),
            _ => None,
        }
    }

    /// Whether the ask ran out of time: waiting for room in the mailbox (the message is
    /// inside, in [`SendError::Timeout`]) or waiting for the reply.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            AskError::Timeout(_) | AskError::Send(SendError::Timeout(_))
        )
    }
}

impl<M> std::fmt::Debug for AskError<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AskError::Send(e) => write!(f, "AskError::Send({e:?})"),
            AskError::SelfAsk(_) => f.write_str("AskError::SelfAsk(..)"),
            AskError::Timeout(d) => write!(f, "AskError::Timeout({d:?})"),
            AskError::Panicked(p) => write!(f, "AskError::Panicked({p:?})"),
            AskError::Dropped => f.write_str("AskError::Dropped"),
        }
    }
}

/// An actor could not be spawned.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The system is shutting down or has shut down.
    #[error("the actor system is shut down")]
    SystemStopped,
    /// Another live actor already has this name.
    #[error("an actor named `{0}` already exists")]
    NameTaken(String),
    /// A pool needs at least one worker.
    #[error("a pool needs at least one worker")]
    EmptyPool,
    /// `pin_to_core` named a core this machine does not have.
    #[error("no CPU core {core}: this machine has {cores}")]
    NoSuchCore {
        /// The core asked for.
        core: usize,
        /// How many cores there are.
        cores: usize,
    },
    /// The actor never started: its factory or `started` hook kept panicking beyond the
    /// restart limit (from [`ActorRef::wait_started`](crate::ActorRef::wait_started)).
    #[error("the actor failed to start: {0}")]
    StartFailed(String),
    /// `spawn_child` was called by an actor that has stopped (from its `stopped` hook):
    /// its children were already stopped.
    #[error("the parent `{0}` has stopped and takes no more children")]
    ParentStopped(String),
    /// The OS refused to start the actor's thread.
    #[error("could not start the actor thread: {0}")]
    Thread(#[from] std::io::Error),
}
