//! [`Ask`]: a pending request/reply, shared by actor references, pools and recipients.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;

use crate::error::AskError;
use crate::handle::Target;
use crate::message::Message;

/// A pending `ask`: optionally set a timeout, then `.await` it, or call
/// [`blocking`](Ask::blocking) from sync code. Nothing is sent until the first poll, so the
/// caller's context is the one active then: `ask(m).with_context(cx).await` works.
#[must_use = "an ask does nothing until awaited or run with .blocking()"]
#[pin_project::pin_project]
pub struct Ask<'a, T: ?Sized, M: Message> {
    target: &'a T,
    msg: Option<M>,
    timeout: Option<Duration>,
    running: Option<BoxFuture<'a, Result<M::Reply, AskError<M>>>>,
}

impl<T: ?Sized, M: Message> std::fmt::Debug for Ask<'_, T, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ask")
            .field("message", &std::any::type_name::<M>())
            .field("timeout", &self.timeout)
            .field("started", &self.msg.is_none())
            .finish()
    }
}

impl<'a, T: Target<M> + ?Sized, M: Message> Ask<'a, T, M> {
    pub(crate) fn new(target: &'a T, msg: M, timeout: Option<Duration>) -> Self {
        Ask {
            target,
            msg: Some(msg),
            timeout,
            running: None,
        }
    }

    /// Waits at most `limit` for the whole ask: room in a full mailbox, then the reply.
    /// Fails with [`AskError::Timeout`] when the reply is late, or with
    /// `AskError::Send(SendError::Timeout(msg))` (the message back) when the mailbox
    /// stayed full; [`AskError::is_timeout`] is true for both.
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
    pub fn blocking(mut self) -> Result<M::Reply, AskError<M>> {
        let msg = self
            .msg
            .take()
            .expect("an unpolled ask still holds its message");
        self.target.ask_blocking(msg, self.timeout)
    }
}

impl<'a, T: Target<M> + ?Sized, M: Message> Future for Ask<'a, T, M> {
    type Output = Result<M::Reply, AskError<M>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let target: &'a T = this.target;
        let running = this.running.get_or_insert_with(|| {
            let msg = this.msg.take().expect("an ask is polled after completion");
            target.ask_async(msg, *this.timeout)
        });
        running.as_mut().poll(cx)
    }
}
