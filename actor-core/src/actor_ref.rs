//! [`ActorRef`]: the cloneable, `Send` handle used to `tell` and `ask` an actor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::ask::{Ask, AskTarget};
use crate::cell::ActorCell;
use crate::envelope::{Envelope, Failure, Letter, ReplyTx};
use crate::mailbox::{MailboxTx, Refused};
use crate::spin::spin_until;
use crate::telemetry::{current_actor, end_send_span, SendOp};
use crate::{Actor, ActorId, AskError, Handler, Message, Recipient, SendError};

/// A handle to a running actor: `Clone + Send + Sync`, usable from any thread, any runtime
/// and plain sync code. Every message it sends carries the caller's OpenTelemetry context.
pub struct ActorRef<A: Actor> {
    pub(crate) cell: Arc<ActorCell>,
    pub(crate) tx: MailboxTx<A>,
}

impl<A: Actor> Clone for ActorRef<A> {
    fn clone(&self) -> Self {
        ActorRef {
            cell: self.cell.clone(),
            tx: self.tx.clone(),
        }
    }
}

impl<A: Actor> std::fmt::Debug for ActorRef<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorRef")
            .field("name", &self.name())
            .field("id", &self.id())
            .finish()
    }
}

impl<A: Actor> ActorRef<A> {
    /// The actor's unique id.
    pub fn id(&self) -> ActorId {
        self.cell.id
    }

    /// The actor's name (also its thread's name).
    pub fn name(&self) -> &str {
        &self.cell.name
    }

    /// Whether the actor still accepts messages.
    pub fn is_alive(&self) -> bool {
        !self.tx.is_closed() && !self.cell.stop_requested()
    }

    /// Asks the actor to stop gracefully: it refuses new messages, handles what is queued,
    /// runs its `stopped` hook and teardown hooks, and its thread ends. Does not wait.
    pub fn stop(&self) {
        self.cell.request_stop();
    }

    /// Messages queued or in progress. Counted for pool members; for a bounded mailbox
    /// outside a pool, the number queued.
    pub fn load(&self) -> usize {
        match self.tx.queued() {
            Some(queued) if self.cell.load() == 0 => queued,
            _ => self.cell.load(),
        }
    }

    /// Sends `msg` without waiting for a reply. Waits for room when the mailbox is full.
    /// The caller's context (active when this future is polled) travels with the message.
    pub async fn tell<M>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        self.send(msg, None, SendOp::Tell).await
    }

    /// Sends `msg` without waiting at all: fails with [`SendError::Full`] when the mailbox is full.
    pub fn try_tell<M>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        if self.cell.stop_requested() {
            return Err(SendError::Closed(msg));
        }
        let (envelope, send_span) = self.prepare(msg, None, SendOp::Tell);
        let sent = self.tx.try_send(envelope);
        self.settle(sent, send_span)
    }

    /// Sends `msg` from sync code, blocking the thread while the mailbox is full.
    /// On an actor thread it refuses with [`SendError::WouldBlock`] instead of blocking it.
    pub fn blocking_tell<M>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        if current_actor().is_some() {
            return Err(SendError::WouldBlock(msg));
        }
        futures::executor::block_on(self.tell(msg))
    }

    /// Sends `msg` and waits for the reply, with the system's default timeout; use
    /// [`Ask::timeout`] to change it and [`Ask::blocking`] from sync code.
    pub fn ask<M>(&self, msg: M) -> Ask<'_, Self, M>
    where
        A: Handler<M>,
        M: Message,
    {
        Ask::new(self, msg, self.cell.system.ask_timeout)
    }

    /// `ask` from sync code with the default timeout: blocks the thread until the reply.
    pub fn blocking_ask<M>(&self, msg: M) -> Result<M::Reply, AskError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        self.ask(msg).blocking()
    }

    /// Whether asks spin for their replies at all.
    fn spins(&self) -> bool {
        !self.cell.system.spin.is_zero()
    }

    pub(crate) fn ask_timeout(&self) -> Option<Duration> {
        self.cell.system.ask_timeout
    }

    /// A type-erased handle that only knows the message type.
    pub fn recipient<M>(&self) -> Recipient<M>
    where
        A: Handler<M>,
        M: Message,
    {
        Recipient::new(self.clone())
    }

    /// Wraps `msg` in an envelope that carries the caller's context.
    fn prepare<M>(
        &self,
        msg: M,
        reply: Option<ReplyTx<M::Reply>>,
        op: SendOp,
    ) -> (Envelope<A>, Option<opentelemetry::global::BoxedSpan>)
    where
        A: Handler<M>,
        M: Message,
    {
        let tracing = &self.cell.system.tracing;
        let (trace, send_span) = tracing.capture(&self.cell, op, std::any::type_name::<M>());
        // Load is counted before the send so the receive loop never sees it go negative.
        self.cell.load_add();
        let envelope = Envelope {
            payload: Letter::wrap::<A>(msg, reply),
            trace,
        };
        (envelope, send_span)
    }

    /// Ends the `send` span and turns a refused envelope back into its message.
    fn settle<M>(
        &self,
        sent: Result<(), Refused<A>>,
        send_span: Option<opentelemetry::global::BoxedSpan>,
    ) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        if let Some(span) = send_span {
            end_send_span(span, sent.is_ok());
        }
        sent.map_err(|refused| {
            self.cell.load_sub();
            match refused {
                Refused::Closed(env) => SendError::Closed(Letter::<M>::unwrap_from(env.payload)),
                Refused::Full(env) => SendError::Full(Letter::<M>::unwrap_from(env.payload)),
            }
        })
    }

    /// Sends, waiting for room in the mailbox.
    async fn send<M>(
        &self,
        msg: M,
        reply: Option<ReplyTx<M::Reply>>,
        op: SendOp,
    ) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        if self.cell.stop_requested() {
            return Err(SendError::Closed(msg));
        }
        let (envelope, send_span) = self.prepare(msg, reply, op);
        let sent = self.tx.send(envelope).await;
        self.settle(sent, send_span)
    }

    /// Sends an ask envelope and waits for its reply slot.
    async fn ask_async<M>(&self, msg: M, timeout: Option<Duration>) -> Result<M::Reply, AskError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        if current_actor() == Some(self.cell.id) {
            return Err(AskError::SelfAsk(msg));
        }
        let (tx, rx) = oneshot::async_channel();
        let sent_at = self.spins().then(Instant::now);
        self.send(msg, Some(tx), SendOp::Ask).await?;
        if sent_at.is_some() {
            spin_until(self.cell.ask_spin(), || rx.has_message() || rx.is_closed());
        }
        let arrived = rx.has_message() || rx.is_closed();
        let reply = match timeout {
            // Already here (often, after the spin): no timer to arm.
            _ if arrived => rx.await.map_err(|_| AskError::Dropped),
            None => rx.await.map_err(|_| AskError::Dropped),
            Some(limit) => match crate::timer::timeout(limit, rx).await {
                Ok(reply) => reply.map_err(|_| AskError::Dropped),
                Err(()) => Err(AskError::Timeout(limit)),
            },
        };
        if let Some(sent_at) = sent_at {
            // Every round trip, however it ended, decides whether the next ask spins.
            self.cell.record_rtt(sent_at.elapsed());
        }
        reply?.map_err(Failure::into_ask_error)
    }

    fn ask_blocking<M>(&self, msg: M, timeout: Option<Duration>) -> Result<M::Reply, AskError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        if current_actor().is_some() {
            if current_actor() == Some(self.cell.id) {
                return Err(AskError::SelfAsk(msg));
            }
            return Err(AskError::Send(SendError::WouldBlock(msg)));
        }
        let (tx, rx) = oneshot::channel();
        let sent_at = self.spins().then(Instant::now);
        futures::executor::block_on(self.send(msg, Some(tx), SendOp::Ask))?;
        if sent_at.is_some() {
            spin_until(self.cell.ask_spin(), || rx.has_message() || rx.is_closed());
        }
        let reply = match timeout {
            None => rx.recv().map_err(|_| AskError::Dropped),
            Some(limit) => rx.recv_timeout(limit).map_err(|e| match e {
                oneshot::RecvTimeoutError::Timeout => AskError::Timeout(limit),
                oneshot::RecvTimeoutError::Disconnected => AskError::Dropped,
            }),
        };
        if let Some(sent_at) = sent_at {
            self.cell.record_rtt(sent_at.elapsed());
        }
        reply?.map_err(Failure::into_ask_error)
    }
}

impl Failure {
    fn into_ask_error<M>(self) -> AskError<M> {
        match self {
            Failure::Panicked(text) => AskError::Panicked(text),
        }
    }
}

impl<A: Actor> crate::ask::sealed::Sealed for ActorRef<A> {}

impl<A, M> AskTarget<M> for ActorRef<A>
where
    A: Handler<M>,
    M: Message,
{
    fn ask_async(
        &self,
        msg: M,
        timeout: Option<Duration>,
    ) -> BoxFuture<'_, Result<M::Reply, AskError<M>>> {
        Box::pin(ActorRef::ask_async(self, msg, timeout))
    }

    fn ask_blocking(&self, msg: M, timeout: Option<Duration>) -> Result<M::Reply, AskError<M>> {
        ActorRef::ask_blocking(self, msg, timeout)
    }
}
