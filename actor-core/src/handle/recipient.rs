//! [`Recipient`]: a handle that knows only the message type, not the actor type.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::actor::{Actor, Handler};
use crate::error::{AskError, SendError};
use crate::handle::actor_ref::ActorRef;
use crate::handle::pool::Pool;
use crate::handle::{Target, TellStart};
use crate::message::Message;

/// What a recipient forwards to: an actor or a pool, with its name.
pub(crate) trait Named<M: Message>: Target<M> + Send + Sync {
    fn name(&self) -> &str;
    fn makes_spans(&self) -> bool;
}

impl<A: Handler<M>, M: Message> Named<M> for ActorRef<A> {
    fn name(&self) -> &str {
        ActorRef::name(self)
    }

    fn makes_spans(&self) -> bool {
        ActorRef::makes_spans(self)
    }
}

impl<A: Handler<M>, M: Message> Named<M> for Pool<A> {
    fn name(&self) -> &str {
        Pool::name(self)
    }

    fn makes_spans(&self) -> bool {
        Pool::makes_spans(self)
    }
}

impl<A: Actor> ActorRef<A> {
    /// A type-erased handle that only knows the message type.
    pub fn recipient<M>(&self) -> Recipient<M>
    where
        A: Handler<M>,
        M: Message,
    {
        Recipient::new(self.clone())
    }
}

impl<A: Actor> Pool<A> {
    /// A type-erased handle that only knows the message type.
    pub fn recipient<M>(&self) -> Recipient<M>
    where
        A: Handler<M>,
        M: Message,
    {
        Recipient::new(self.clone())
    }
}

/// A cloneable, `Send` handle for code that only knows it sends `M`: behind it is an
/// [`ActorRef`] or a [`Pool`] of any actor type that handles `M`.
pub struct Recipient<M: Message> {
    target: Arc<dyn Named<M>>,
}

impl<M: Message> Clone for Recipient<M> {
    fn clone(&self) -> Self {
        Recipient {
            target: self.target.clone(),
        }
    }
}

impl<M: Message> std::fmt::Debug for Recipient<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recipient")
            .field("name", &self.target.name())
            .field("message", &std::any::type_name::<M>())
            .finish()
    }
}

impl<M: Message> Recipient<M> {
    pub(crate) fn new<T: Target<M> + Named<M> + 'static>(target: T) -> Self {
        Recipient {
            target: Arc::new(target),
        }
    }

    /// The name of the actor or pool behind this recipient.
    pub fn name(&self) -> &str {
        self.target.name()
    }

    /// Whether messages to it get a `process` span (see [`ActorRef::makes_spans`]).
    pub fn makes_spans(&self) -> bool {
        self.target.makes_spans()
    }

    crate::handle::methods::send_methods!();
}

impl<M: Message> crate::handle::sealed::Sealed for Recipient<M> {}

impl<M: Message> Target<M> for Recipient<M> {
    fn start_tell(&self, msg: M, deadline: Option<Instant>) -> TellStart<'_, M> {
        self.target.start_tell(msg, deadline)
    }

    fn tell_blocking(&self, msg: M, deadline: Option<Instant>) -> Result<(), SendError<M>> {
        self.target.tell_blocking(msg, deadline)
    }

    fn tell_now(&self, msg: M) -> Result<(), SendError<M>> {
        self.target.tell_now(msg)
    }

    fn ask_async(
        &self,
        msg: M,
        timeout: Option<Duration>,
    ) -> BoxFuture<'_, Result<M::Reply, AskError<M>>> {
        self.target.ask_async(msg, timeout)
    }

    fn ask_blocking(&self, msg: M, timeout: Option<Duration>) -> Result<M::Reply, AskError<M>> {
        self.target.ask_blocking(msg, timeout)
    }

    fn default_ask_timeout(&self) -> Option<Duration> {
        self.target.default_ask_timeout()
    }
}
