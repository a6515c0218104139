//! [`Tell`]: a pending fire-and-forget send, shared by actor references, pools and recipients.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::error::SendError;
use crate::handle::{Target, TellStart};
use crate::message::Message;

/// A pending `tell`: optionally bound the wait for room with [`timeout`](Tell::timeout),
/// then `.await` it, or call [`blocking`](Tell::blocking) from sync code. Nothing is sent
/// until the first poll, so the caller's context is the one active then.
#[must_use = "a tell does nothing until awaited or run with .blocking()"]
#[pin_project::pin_project]
pub struct Tell<'a, T: ?Sized, M: Message> {
    target: &'a T,
    msg: Option<M>,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    waiting: Option<BoxFuture<'a, Result<(), SendError<M>>>>,
}

impl<T: ?Sized, M: Message> std::fmt::Debug for Tell<'_, T, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tell")
            .field("message", &std::any::type_name::<M>())
            .field("timeout", &self.timeout)
            .field("started", &self.msg.is_none())
            .finish()
    }
}

impl<'a, T: Target<M> + ?Sized, M: Message> Tell<'a, T, M> {
    pub(crate) fn new(target: &'a T, msg: M) -> Self {
        Tell {
            target,
            msg: Some(msg),
            timeout: None,
            deadline: None,
            waiting: None,
        }
    }

    /// A tell that waits for room until `deadline` (used to keep one deadline across the
    /// workers of a pool).
    pub(crate) fn until(target: &'a T, msg: M, deadline: Option<Instant>) -> Self {
        Tell {
            deadline,
            ..Tell::new(target, msg)
        }
    }

    /// Waits at most `limit` for room in a full mailbox, then hands the message back in
    /// [`SendError::Timeout`]. Without it a tell waits until there is room or the actor
    /// is asked to stop.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// Runs the tell from sync code, blocking this thread while the mailbox is full (at
    /// most the [`timeout`](Tell::timeout)). On an actor thread it fails with
    /// [`SendError::WouldBlock`] rather than block the actor.
    pub fn blocking(mut self) -> Result<(), SendError<M>> {
        let msg = self
            .msg
            .take()
            .expect("an unpolled tell still holds its message");
        let deadline = resolve_deadline(self.deadline, self.timeout);
        self.target.tell_blocking(msg, deadline)
    }
}

impl<'a, T: Target<M> + ?Sized, M: Message> Future for Tell<'a, T, M> {
    type Output = Result<(), SendError<M>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(wait) = this.waiting.as_mut() {
            return wait.as_mut().poll(cx);
        }
        let deadline = resolve_deadline(*this.deadline, *this.timeout);
        let msg = this.msg.take().expect("a tell is polled after completion");
        let target: &'a T = this.target;
        match target.start_tell(msg, deadline) {
            TellStart::Done(sent) => Poll::Ready(sent),
            TellStart::Waiting(wait) => this.waiting.insert(wait).as_mut().poll(cx),
        }
    }
}

/// The deadline of a tell: the one given, else `timeout` from now.
fn resolve_deadline(deadline: Option<Instant>, timeout: Option<Duration>) -> Option<Instant> {
    deadline.or_else(|| timeout.and_then(|limit| Instant::now().checked_add(limit)))
}
