//! [`Recipient`]: a handle that knows only the message type, not the actor type.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::ask::{sealed, Ask, AskTarget};
use crate::tell::{Tell, TellStart, TellTarget};
use crate::{ActorRef, AskError, Handler, Message, Pool, SendError};

/// What a recipient forwards to: an actor or a pool.
pub(crate) trait Target<M: Message>: AskTarget<M> + TellTarget<M> + Send + Sync {
    fn name(&self) -> &str;
    fn try_tell(&self, msg: M) -> Result<(), SendError<M>>;
    fn ask_timeout(&self) -> Option<Duration>;
}

macro_rules! forward_target {
    ($ty:ident) => {
        impl<A: Handler<M>, M: Message> Target<M> for $ty<A> {
            fn name(&self) -> &str {
                $ty::name(self)
            }
            fn try_tell(&self, msg: M) -> Result<(), SendError<M>> {
                $ty::try_tell(self, msg)
            }
            fn ask_timeout(&self) -> Option<Duration> {
                $ty::ask_timeout(self)
            }
        }
    };
}

forward_target!(ActorRef);
forward_target!(Pool);

/// A cloneable, `Send` handle for code that only knows it sends `M`: behind it is an
/// [`ActorRef`] or a [`Pool`] of any actor type that handles `M`.
pub struct Recipient<M: Message> {
    target: Arc<dyn Target<M>>,
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
            .finish()
    }
}

impl<M: Message> Recipient<M> {
    pub(crate) fn new<T: Target<M> + 'static>(target: T) -> Self {
        Recipient {
            target: Arc::new(target),
        }
    }

    /// The name of the actor or pool behind this recipient.
    pub fn name(&self) -> &str {
        self.target.name()
    }

    /// See [`ActorRef::tell`].
    pub fn tell(&self, msg: M) -> Tell<'_, Self, M> {
        Tell::new(self, msg)
    }

    /// See [`ActorRef::try_tell`].
    pub fn try_tell(&self, msg: M) -> Result<(), SendError<M>> {
        self.target.try_tell(msg)
    }

    /// See [`ActorRef::blocking_tell`].
    pub fn blocking_tell(&self, msg: M) -> Result<(), SendError<M>> {
        self.tell(msg).blocking()
    }

    /// See [`ActorRef::ask`].
    pub fn ask(&self, msg: M) -> Ask<'_, Self, M> {
        Ask::new(self, msg, self.target.ask_timeout())
    }

    /// See [`ActorRef::blocking_ask`].
    pub fn blocking_ask(&self, msg: M) -> Result<M::Reply, AskError<M>> {
        self.ask(msg).blocking()
    }
}

impl<M: Message> sealed::Sealed for Recipient<M> {}

impl<M: Message> AskTarget<M> for Recipient<M> {
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
}

impl<M: Message> crate::tell::sealed::Sealed for Recipient<M> {}

impl<M: Message> TellTarget<M> for Recipient<M> {
    fn start_tell(&self, msg: M, deadline: Option<Instant>) -> TellStart<'_, M> {
        self.target.start_tell(msg, deadline)
    }

    fn tell_blocking(&self, msg: M, deadline: Option<Instant>) -> Result<(), SendError<M>> {
        self.target.tell_blocking(msg, deadline)
    }
}
