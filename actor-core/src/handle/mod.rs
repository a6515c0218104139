//! The handles that send messages: [`ActorRef`](actor_ref::ActorRef),
//! [`Pool`](pool::Pool) and [`Recipient`](recipient::Recipient), and the pending sends
//! they return, [`Tell`](tell::Tell) and [`Ask`](ask::Ask).
//!
//! The send operations are defined once. Each handle implements the sealed [`Target`]
//! trait (the primitives: send now or return the wait, block, ask) and gets the same
//! public methods from [`send_methods!`], so the three cannot drift apart.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::actor::Message;
use crate::error::{AskError, SendError};

pub(crate) mod actor_ref;
pub(crate) mod ask;
pub(crate) mod pool;
pub(crate) mod recipient;
pub(crate) mod tell;

pub(crate) mod sealed {
    use futures::future::BoxFuture;

    use crate::error::SendError;

    /// Only this crate's handles send messages.
    pub trait Sealed {}

    /// How the first, non-waiting attempt at a tell went.
    #[allow(missing_debug_implementations)] // holds a future
    pub enum TellStart<'a, M> {
        /// Delivered or refused at once.
        Done(Result<(), SendError<M>>),
        /// The mailbox is full: this future waits for room (and allocates: only then).
        Waiting(BoxFuture<'a, Result<(), SendError<M>>>),
    }
}

pub(crate) use sealed::TellStart;

/// A handle that can be sent `M`: [`ActorRef<A>`](crate::ActorRef) and
/// [`Pool<A>`](crate::Pool) when `A` handles `M`, and [`Recipient<M>`](crate::Recipient).
/// Sealed; its methods are the primitives behind `tell`, `try_tell`, `blocking_tell`,
/// `ask` and `blocking_ask`.
pub trait Target<M: Message>: sealed::Sealed + Sync {
    /// Sends `msg` if there is room now; otherwise returns the wait for room, which ends
    /// at `deadline`.
    #[doc(hidden)]
    fn start_tell(&self, msg: M, deadline: Option<Instant>) -> TellStart<'_, M>;

    /// Sends `msg`, blocking the thread while it waits for room until `deadline`.
    #[doc(hidden)]
    fn tell_blocking(&self, msg: M, deadline: Option<Instant>) -> Result<(), SendError<M>>;

    /// Sends `msg` without waiting at all.
    #[doc(hidden)]
    fn tell_now(&self, msg: M) -> Result<(), SendError<M>>;

    /// Sends `msg` and waits for its reply; `timeout` covers the whole ask.
    #[doc(hidden)]
    fn ask_async(
        &self,
        msg: M,
        timeout: Option<Duration>,
    ) -> BoxFuture<'_, Result<M::Reply, AskError<M>>>;

    /// Sends `msg` and blocks the thread until its reply; `timeout` covers the whole ask.
    #[doc(hidden)]
    fn ask_blocking(&self, msg: M, timeout: Option<Duration>) -> Result<M::Reply, AskError<M>>;

    /// The system's default ask timeout.
    #[doc(hidden)]
    fn default_ask_timeout(&self) -> Option<Duration>;
}

/// The public send methods, one definition for every handle (inside its `impl` block).
macro_rules! send_methods {
    () => {
        /// Sends `msg` without waiting for a reply. Waits for room when the mailbox is
        /// full, at most [`Tell::timeout`](crate::Tell::timeout) when set; an actor's
        /// messages to itself never wait. The caller's context (active when the send is
        /// first polled) travels with the message. [`Tell::blocking`](crate::Tell::blocking)
        /// runs it from sync code.
        pub fn tell<Msg>(&self, msg: Msg) -> $crate::handle::tell::Tell<'_, Self, Msg>
        where
            Msg: $crate::actor::Message,
            Self: $crate::handle::Target<Msg>,
        {
            $crate::handle::tell::Tell::new(self, msg)
        }

        /// Sends `msg` without waiting at all: [`SendError::Full`](crate::SendError::Full)
        /// hands it back when the mailbox is full.
        pub fn try_tell<Msg>(&self, msg: Msg) -> Result<(), $crate::error::SendError<Msg>>
        where
            Msg: $crate::actor::Message,
            Self: $crate::handle::Target<Msg>,
        {
            $crate::handle::Target::tell_now(self, msg)
        }

        /// `tell` from sync code: blocks the thread while the mailbox is full. On an actor
        /// thread it refuses with [`SendError::WouldBlock`](crate::SendError::WouldBlock)
        /// instead of blocking the actor.
        pub fn blocking_tell<Msg>(&self, msg: Msg) -> Result<(), $crate::error::SendError<Msg>>
        where
            Msg: $crate::actor::Message,
            Self: $crate::handle::Target<Msg>,
        {
            self.tell(msg).blocking()
        }

        /// Sends `msg` and waits for the reply, at most the system's default ask timeout
        /// ([`Ask::timeout`](crate::Ask::timeout) changes it). The timeout covers the whole
        /// ask: the wait for room in the mailbox and the wait for the reply.
        /// [`Ask::blocking`](crate::Ask::blocking) runs it from sync code.
        pub fn ask<Msg>(&self, msg: Msg) -> $crate::handle::ask::Ask<'_, Self, Msg>
        where
            Msg: $crate::actor::Message,
            Self: $crate::handle::Target<Msg>,
        {
            let timeout = $crate::handle::Target::default_ask_timeout(self);
            $crate::handle::ask::Ask::new(self, msg, timeout)
        }

        /// `ask` from sync code with the default timeout: blocks the thread until the
        /// reply. On an actor thread it refuses with `WouldBlock`.
        pub fn blocking_ask<Msg>(
            &self,
            msg: Msg,
        ) -> Result<Msg::Reply, $crate::error::AskError<Msg>>
        where
            Msg: $crate::actor::Message,
            Self: $crate::handle::Target<Msg>,
        {
            self.ask(msg).blocking()
        }
    };
}

pub(crate) use send_methods;
