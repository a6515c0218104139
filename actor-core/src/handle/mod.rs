//! The handles that send messages: [`ActorRef`](actor_ref::ActorRef),
//! [`Pool`](pool::Pool) and [`Recipient`](recipient::Recipient), and the pending sends
//! they return, [`Tell`](tell::Tell) and [`Ask`](ask::Ask).
//!
//! The send operations are defined once. Each handle implements the sealed [`Target`]
//! trait (the primitives: send now or return the wait, block, ask) and gets the same
//! public methods from one macro (`methods.rs`), so the three cannot drift apart.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::error::{AskError, SendError};
use crate::message::Message;

pub(crate) mod actor_ref;
pub(crate) mod ask;
pub(crate) mod methods;
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
