//! [`ActorRef`]: the cloneable, `Send` handle used to `tell` and `ask` an actor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::actor::{Actor, Handler};
use crate::actor_thread::spin::spin_until;
use crate::cell::{ActorCell, Startup};
use crate::current;
use crate::dead_letter::DeadLetterReason;
use crate::error::{AskError, SendError, SpawnError};
use crate::handle::{Target, TellStart};
use crate::info::ActorId;
use crate::mailbox::envelope::{Envelope, Failure, Letter, ReplyTx};
use crate::mailbox::{MailboxTx, NoRoom, Refused};
use crate::message::Message;
use crate::system::report::ActorReport;
use crate::trace::meta::SendOp;
use crate::trace::send::{end_send_span, refused_event};

/// A handle to a running actor: `Clone + Send + Sync`, usable from any thread, any runtime
/// and plain sync code. Every message it sends carries the caller's OpenTelemetry context.
pub struct ActorRef<A: Actor> {
    pub(crate) cell: Arc<ActorCell>,
    pub(crate) tx: MailboxTx<Envelope<A>>,
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

    /// Whether messages to this actor get a `process` span: its system has an SDK
    /// ([`Instrumentation`](crate::trace::Instrumentation)) and `process` spans are on. A
    /// bridge that builds span details per message (a [`Delivery`](crate::trace::Delivery))
    /// can skip them when not.
    pub fn makes_spans(&self) -> bool {
        let tracing = &self.cell.settings.tracing;
        tracing.instrumented() && tracing.options.process_spans
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

    /// Kills the actor: it ends after the message it is handling (if any), and the
    /// messages still queued are not handled: each goes to the dead letters (an asker
    /// gets [`AskError::Dropped`]) and is counted in the report's `killed`. The request
    /// travels outside the mailbox, so it is seen at once however full the mailbox is.
    /// New messages are refused. The actor's `stopped` hook and teardown still run.
    /// Does not wait: [`wait_stopped`](ActorRef::wait_stopped) returns the report.
    pub fn kill(&self) {
        self.cell.request_kill();
    }

    /// Waits until the actor has started: its factory built the state and its `started`
    /// hook ran. Fails with [`SpawnError::StartFailed`] when they kept panicking beyond
    /// the restart limit (the actor is then stopped; its queued asks were told
    /// [`AskError::Dropped`]). `spawn` itself does not wait, so spawning many actors stays
    /// cheap; call this where a failed start must be known before the first message.
    pub async fn wait_started(&self) -> Result<(), SpawnError> {
        if current::actor() == Some(self.cell.id) {
            // Its own code is running: it has its state.
            return Ok(());
        }
        let mut startup = self.cell.startup.subscribe();
        let outcome = match startup.wait_for(|s| *s != Startup::Starting).await {
            Ok(state) => match &*state {
                Startup::Failed(why) => Err(SpawnError::StartFailed(why.to_string())),
                _ => Ok(()),
            },
            Err(_) => Err(SpawnError::StartFailed(
                "the actor's thread ended before it started".into(),
            )),
        };
        outcome
    }

    /// [`wait_started`](ActorRef::wait_started) from sync code: blocks until the actor has
    /// started or failed to.
    pub fn blocking_wait_started(&self) -> Result<(), SpawnError> {
        futures::executor::block_on(self.wait_started())
    }

    /// Waits until the actor's thread has finished (it stopped for any reason: a stop or
    /// kill, supervision giving up, shutdown) and returns its final report. Called by the
    /// actor on itself it would wait forever, so it returns at once with `None` there.
    pub async fn wait_stopped(&self) -> Option<ActorReport> {
        if current::actor() == Some(self.cell.id) {
            return None;
        }
        let mut ended = self.cell.ended.subscribe();
        let report = ended.wait_for(Option::is_some).await.ok()?;
        report.as_deref().cloned()
    }

    /// [`wait_stopped`](ActorRef::wait_stopped) from sync code: blocks until the actor's
    /// thread has finished.
    pub fn blocking_wait_stopped(&self) -> Option<ActorReport> {
        futures::executor::block_on(self.wait_stopped())
    }

    /// Messages queued or in progress. Counted for pool members; for a bounded mailbox
    /// outside a pool, the number queued.
    pub fn load(&self) -> usize {
        match self.tx.queued() {
            Some(queued) if self.cell.load() == 0 => queued,
            _ => self.cell.load(),
        }
    }

    crate::handle::methods::send_methods!();

    /// Wraps `msg` in an envelope that carries the caller's context (and starts its `send`
    /// span), unless the actor was already asked to stop. Inlined, like
    /// [`finish`](Self::finish), so the 144-byte `Outgoing` is built where it is used, not
    /// copied out of one call and into the next (two copies per tell fewer, counted).
    #[inline(always)]
    fn begin<M>(
        &self,
        msg: M,
        reply: Option<ReplyTx<M::Reply>>,
        op: SendOp,
    ) -> Result<Outgoing<A>, SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        if self.cell.stop_requested() {
            self.refused_at_once::<M>();
            return Err(SendError::Closed(msg));
        }
        let from_self = current::actor() == Some(self.cell.id);
        let tracing = &self.cell.settings.tracing;
        let (trace, send_span) = tracing.capture(
            &self.cell.destination,
            op,
            std::any::type_name::<M>(),
            from_self,
        );
        // Load is counted before the send so the receive loop never sees it go negative.
        self.cell.load_add();
        let envelope = Envelope {
            payload: Letter::wrap::<A>(msg, reply),
            trace,
        };
        Ok(Outgoing {
            envelope,
            send_span,
            from_self,
        })
    }

    /// Records a send refused before it began (the actor was asked to stop): counted in
    /// the metrics and in the dead letters, an event on the sender's span.
    #[cold]
    fn refused_at_once<M: Message>(&self) {
        if let Some(counts) = &self.cell.sent {
            counts.count(Err(NoRoom::Closed));
        }
        let message_type = std::any::type_name::<M>();
        let cx = refused_event(None, DeadLetterReason::Closed, message_type);
        self.cell
            .dead_letter(message_type, DeadLetterReason::Closed, true, cx);
    }

    /// Puts the envelope into the mailbox when it got a place, ends the `send` span, and
    /// turns a refused envelope back into its message. Never runs inside an executor of
    /// ours, so a span processor that blocks on its export (the SDK's simple processor)
    /// can run here.
    #[inline(always)]
    fn finish<M>(
        &self,
        outgoing: Outgoing<A>,
        reserved: Result<(), NoRoom>,
    ) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        let Outgoing {
            envelope,
            mut send_span,
            ..
        } = outgoing;
        let sent = match reserved {
            Ok(()) => self.tx.push(envelope),
            Err(why) => Err(Refused { why, envelope }),
        };
        if let Some(counts) = &self.cell.sent {
            counts.count(sent.as_ref().map(|_| ()).map_err(|refused| refused.why));
        }
        if let Err(refused) = &sent {
            let reason = refused.why.dead_letter_reason();
            let message_type = std::any::type_name::<M>();
            let cx = refused_event(send_span.as_mut(), reason, message_type);
            self.cell.dead_letter(message_type, reason, true, cx);
        }
        if let Some(span) = send_span {
            end_send_span(span, sent.is_ok(), &self.cell.destination);
        }
        sent.map_err(|refused| {
            self.cell.load_sub();
            let msg = Letter::<M>::unwrap_from(refused.envelope.payload);
            match refused.why {
                NoRoom::Closed => SendError::Closed(msg),
                NoRoom::Full => SendError::Full(msg),
                NoRoom::TimedOut => SendError::Timeout(msg),
            }
        })
    }

    /// Tries to deliver at once: done (delivered or refused), or the mailbox is full and
    /// the caller decides whether and how to wait for room.
    fn attempt<M>(&self, msg: M, reply: Option<ReplyTx<M::Reply>>, op: SendOp) -> Attempt<A, M>
    where
        A: Handler<M>,
        M: Message,
    {
        let outgoing = match self.begin(msg, reply, op) {
            Ok(outgoing) => outgoing,
            Err(refused) => return Attempt::Done(Err(refused)),
        };
        match self.tx.try_reserve(outgoing.from_self) {
            Err(NoRoom::Full) => Attempt::Full(outgoing),
            reserved => Attempt::Done(self.finish(outgoing, reserved)),
        }
    }

    /// Waits for a place in the mailbox, until `deadline` if there is one.
    async fn wait_for_room(&self, deadline: Option<Instant>) -> Result<(), NoRoom> {
        match deadline {
            None => self.tx.reserve().await,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                crate::timer::timeout(left, self.tx.reserve())
                    .await
                    .unwrap_or(Err(NoRoom::TimedOut))
            }
        }
    }

    /// Sends, waiting for room in the mailbox until `deadline`.
    async fn send<M>(
        &self,
        msg: M,
        reply: Option<ReplyTx<M::Reply>>,
        op: SendOp,
        deadline: Option<Instant>,
    ) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        match self.attempt(msg, reply, op) {
            Attempt::Done(sent) => sent,
            Attempt::Full(outgoing) => {
                let reserved = self.wait_for_room(deadline).await;
                self.finish(outgoing, reserved)
            }
        }
    }

    /// Sends from sync code, blocking the thread while it waits for room until `deadline`.
    /// Only the wait runs in an executor; the span ends outside it.
    fn send_blocking<M>(
        &self,
        msg: M,
        reply: Option<ReplyTx<M::Reply>>,
        op: SendOp,
        deadline: Option<Instant>,
    ) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        match self.attempt(msg, reply, op) {
            Attempt::Done(sent) => sent,
            Attempt::Full(outgoing) => {
                let reserved = futures::executor::block_on(self.wait_for_room(deadline));
                self.finish(outgoing, reserved)
            }
        }
    }

    /// Sends an ask envelope and waits for its reply slot; `timeout` covers both.
    async fn ask_until<M>(&self, msg: M, timeout: Option<Duration>) -> Result<M::Reply, AskError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        if current::actor() == Some(self.cell.id) {
            return Err(AskError::SelfAsk(msg));
        }
        let deadline = timeout.and_then(|limit| Instant::now().checked_add(limit));
        let (tx, rx) = oneshot::async_channel();
        let wait = self.cell.asks.begin();
        if let Err(e) = self.send(msg, Some(tx), SendOp::Ask, deadline).await {
            self.cell.asks.abandon(wait);
            return Err(e.into());
        }
        let in_time = spin_until(wait.spin(), || rx.has_message() || rx.is_closed());
        // Every spinning ask, however it ended, decides whether the next one spins.
        self.cell.asks.end(wait, in_time);
        let arrived = in_time || rx.has_message() || rx.is_closed();
        let reply = match (deadline, timeout) {
            // Already here (often, after the spin): no timer to arm.
            _ if arrived => rx.await.map_err(|_| AskError::Dropped),
            (Some(deadline), Some(limit)) => {
                let left = deadline.saturating_duration_since(Instant::now());
                match crate::timer::timeout(left, rx).await {
                    Ok(reply) => reply.map_err(|_| AskError::Dropped),
                    Err(()) => Err(AskError::Timeout(limit)),
                }
            }
            _ => rx.await.map_err(|_| AskError::Dropped),
        };
        reply?.map_err(Failure::into_ask_error)
    }

    fn ask_until_blocking<M>(
        &self,
        msg: M,
        timeout: Option<Duration>,
    ) -> Result<M::Reply, AskError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        if current::actor().is_some() {
            if current::actor() == Some(self.cell.id) {
                return Err(AskError::SelfAsk(msg));
            }
            return Err(AskError::Send(SendError::WouldBlock(msg)));
        }
        let deadline = timeout.and_then(|limit| Instant::now().checked_add(limit));
        let (tx, rx) = oneshot::channel();
        let wait = self.cell.asks.begin();
        if let Err(e) = self.send_blocking(msg, Some(tx), SendOp::Ask, deadline) {
            self.cell.asks.abandon(wait);
            return Err(e.into());
        }
        let in_time = spin_until(wait.spin(), || rx.has_message() || rx.is_closed());
        self.cell.asks.end(wait, in_time);
        let reply = match (deadline, timeout) {
            (Some(deadline), Some(limit)) => rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .map_err(|e| match e {
                    oneshot::RecvTimeoutError::Timeout => AskError::Timeout(limit),
                    oneshot::RecvTimeoutError::Disconnected => AskError::Dropped,
                }),
            _ => rx.recv().map_err(|_| AskError::Dropped),
        };
        reply?.map_err(Failure::into_ask_error)
    }
}

/// How a send's first, non-waiting try went.
// `Full` carries the open `send` record inline: boxing it would allocate per message.
#[allow(clippy::large_enum_variant)]
enum Attempt<A: Actor, M> {
    /// Delivered, or refused with the message inside.
    Done(Result<(), SendError<M>>),
    /// The mailbox is full; the message waits here, its `send` span still open.
    Full(Outgoing<A>),
}

/// A message on its way into the mailbox, with the `send` span that covers its delivery.
struct Outgoing<A: Actor> {
    envelope: Envelope<A>,
    send_span: Option<crate::trace::send::SendSpan>,
    /// The actor sends to itself: it never waits for room.
    from_self: bool,
}

impl Failure {
    fn into_ask_error<M>(self) -> AskError<M> {
        match self {
            Failure::Panicked(text) => AskError::Panicked(text),
        }
    }
}

impl<A: Actor> crate::handle::sealed::Sealed for ActorRef<A> {}

impl<A, M> Target<M> for ActorRef<A>
where
    A: Handler<M>,
    M: Message,
{
    fn start_tell(&self, msg: M, deadline: Option<Instant>) -> TellStart<'_, M> {
        match self.attempt(msg, None, SendOp::Tell) {
            Attempt::Done(sent) => TellStart::Done(sent),
            // The slow path (a full mailbox) is the only one that allocates.
            Attempt::Full(outgoing) => TellStart::Waiting(Box::pin(async move {
                let reserved = self.wait_for_room(deadline).await;
                self.finish(outgoing, reserved)
            })),
        }
    }

    fn tell_blocking(&self, msg: M, deadline: Option<Instant>) -> Result<(), SendError<M>> {
        if current::actor().is_some() {
            return Err(SendError::WouldBlock(msg));
        }
        self.send_blocking(msg, None, SendOp::Tell, deadline)
    }

    fn tell_now(&self, msg: M) -> Result<(), SendError<M>> {
        let outgoing = self.begin(msg, None, SendOp::Tell)?;
        let reserved = self.tx.try_reserve(outgoing.from_self);
        self.finish(outgoing, reserved)
    }

    fn ask_async(
        &self,
        msg: M,
        timeout: Option<Duration>,
    ) -> BoxFuture<'_, Result<M::Reply, AskError<M>>> {
        Box::pin(self.ask_until(msg, timeout))
    }

    fn ask_blocking(&self, msg: M, timeout: Option<Duration>) -> Result<M::Reply, AskError<M>> {
        self.ask_until_blocking(msg, timeout)
    }

    fn default_ask_timeout(&self) -> Option<Duration> {
        self.cell.settings.ask_timeout
    }
}
