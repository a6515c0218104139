//! [`Ask`]: a pending request/reply, shared by actor references, pools and recipients.

use std::future::IntoFuture;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::{AskError, Message};

pub(crate) mod sealed {
    /// Only this crate's handles can be asked.
    pub trait Sealed {}
}

/// Something that can be asked `M`: [`ActorRef`](crate::ActorRef), [`Pool`](crate::Pool)
/// and [`Recipient`](crate::Recipient). Sealed.
pub trait AskTarget<M: Message>: sealed::Sealed + Sync {
    /// Sends `msg` and waits for its reply, at most `timeout`.
    #[doc(hidden)]
    fn ask_async(&self, msg: M, timeout: Option<Duration>) -> BoxFuture<'_, Result<M::Reply, AskError<M>>>;

    /// Sends `msg` and blocks the thread until its reply, at most `timeout`.
    #[doc(hidden)]
    fn ask_blocking(&self, msg: M, timeout: Option<Duration>) -> Result<M::Reply, AskError<M>>;
}

/// A pending `ask`: optionally set a timeout, then `.await` it, or call
/// [`blocking`](Ask::blocking) from sync code.
#[must_use = "an ask does nothing until awaited or run with .blocking()"]
pub struct Ask<'a, T: ?Sized, M> {
    target: &'a T,
    msg: M,
    timeout: Option<Duration>,
}

impl<'a, T: AskTarget<M> + ?Sized, M: Message> Ask<'a, T, M> {
    pub(crate) fn new(target: &'a T, msg: M, timeout: Option<Duration>) -> Self {
        Ask {
            target,
            msg,
            timeout,
        }
    }

    /// Waits at most `limit` for the reply, then fails with [`AskError::Timeout`].
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// Waits for the reply however long it takes.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// Runs the ask from sync code, blocking this thread until the reply or the timeout.
    /// On an actor thread it fails with [`SendError::WouldBlock`](crate::SendError::WouldBlock)
    /// rather than block the actor.
    pub fn blocking(self) -> Result<M::Reply, AskError<M>> {
        self.target.ask_blocking(self.msg, self.timeout)
    }
}

impl<'a, T: AskTarget<M> + ?Sized, M: Message> IntoFuture for Ask<'a, T, M> {
    type Output = Result<M::Reply, AskError<M>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        self.target.ask_async(self.msg, self.timeout)
    }
}
