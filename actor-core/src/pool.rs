//! [`Pool`]: n actors on n threads behind one reference.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::ask::{sealed, Ask, AskTarget};
use crate::system::ActorOptions;
use crate::tell::{Tell, TellStart, TellTarget};
use crate::{
    Actor, ActorRef, ActorSystem, AskError, Handler, MailboxSize, Message, Recipient, SendError,
    SpawnError, Supervision,
};

/// How a pool picks the worker for each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dispatch {
    /// Each worker in turn.
    #[default]
    RoundRobin,
    /// The worker with the fewest messages queued or in progress.
    LeastLoaded,
}

/// Configures a pool before spawning it: `system.pool("resize", 4).spawn(factory)`.
#[must_use = "a pool builder does nothing until .spawn()"]
pub struct PoolBuilder<'a> {
    system: &'a ActorSystem,
    name: String,
    workers: usize,
    dispatch: Dispatch,
    options: ActorOptions,
}

impl<'a> PoolBuilder<'a> {
    pub(crate) fn new(system: &'a ActorSystem, name: String, workers: usize) -> Self {
        PoolBuilder {
            options: system.default_options(),
            system,
            name,
            workers,
            dispatch: Dispatch::default(),
        }
    }

    /// How messages are spread over the workers (default: round robin).
    pub fn dispatch(mut self, dispatch: Dispatch) -> Self {
        self.dispatch = dispatch;
        self
    }

    /// Each worker's mailbox size.
    pub fn mailbox(mut self, size: MailboxSize) -> Self {
        self.options.mailbox = size;
        self
    }

    /// Each worker's supervision policy.
    pub fn supervision(mut self, policy: Supervision) -> Self {
        self.options.supervision = policy;
        self
    }

    /// Starts the workers, named `<pool>-0` … `<pool>-<n-1>`, each on its own thread.
    pub fn spawn<A, F>(self, factory: F) -> Result<Pool<A>, SpawnError>
    where
        A: Actor,
        F: Fn() -> A + Send + Sync + 'static,
    {
        let workers =
            self.system
                .spawn_pool(&self.name, self.workers, self.options, Arc::new(factory))?;
        Ok(Pool {
            name: self.name.into(),
            workers: workers.into(),
            dispatch: self.dispatch,
            next: Arc::new(AtomicUsize::new(0)),
        })
    }
}

/// A pool of identical actors behind one cloneable reference. A worker that has stopped is
/// skipped: the message goes to the next live one.
pub struct Pool<A: Actor> {
    name: Arc<str>,
    workers: Arc<[ActorRef<A>]>,
    dispatch: Dispatch,
    next: Arc<AtomicUsize>,
}

impl<A: Actor> Clone for Pool<A> {
    fn clone(&self) -> Self {
        Pool {
            name: self.name.clone(),
            workers: self.workers.clone(),
            dispatch: self.dispatch,
            next: self.next.clone(),
        }
    }
}

impl<A: Actor> std::fmt::Debug for Pool<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.name)
            .field("workers", &self.workers.len())
            .field("dispatch", &self.dispatch)
            .finish()
    }
}

impl<A: Actor> Pool<A> {
    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The workers, in order.
    pub fn workers(&self) -> &[ActorRef<A>] {
        &self.workers
    }

    /// Stops every worker (each drains its mailbox first).
    pub fn stop(&self) {
        self.workers.iter().for_each(ActorRef::stop);
    }

    /// The workers to try for one message, the chosen one first.
    fn candidates(&self) -> impl Iterator<Item = &ActorRef<A>> {
        let n = self.workers.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let first = match self.dispatch {
            Dispatch::RoundRobin => start,
            Dispatch::LeastLoaded => (0..n)
                .map(|k| (start + k) % n)
                .min_by_key(|&i| self.workers[i].load())
                .unwrap_or(start),
        };
        (0..n).map(move |k| &self.workers[(first + k) % n])
    }

    /// Sends `msg` to one worker without waiting for a reply (see [`ActorRef::tell`]).
    pub fn tell<M>(&self, msg: M) -> Tell<'_, Self, M>
    where
        A: Handler<M>,
        M: Message,
    {
        Tell::new(self, msg)
    }

    /// Sends `msg` to one worker without waiting at all (see [`ActorRef::try_tell`]).
    pub fn try_tell<M>(&self, mut msg: M) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        for worker in self.candidates() {
            match worker.try_tell(msg) {
                Err(SendError::Closed(m)) => msg = m,
                other => return other,
            }
        }
        Err(SendError::Closed(msg))
    }

    /// Sends `msg` from sync code (see [`ActorRef::blocking_tell`]).
    pub fn blocking_tell<M>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        self.tell(msg).blocking()
    }

    /// Asks one worker (see [`ActorRef::ask`]).
    pub fn ask<M>(&self, msg: M) -> Ask<'_, Self, M>
    where
        A: Handler<M>,
        M: Message,
    {
        Ask::new(self, msg, self.ask_timeout())
    }

    /// `ask` from sync code with the default timeout.
    pub fn blocking_ask<M>(&self, msg: M) -> Result<M::Reply, AskError<M>>
    where
        A: Handler<M>,
        M: Message,
    {
        self.ask(msg).blocking()
    }

    pub(crate) fn ask_timeout(&self) -> Option<Duration> {
        self.workers[0].ask_timeout()
    }

    /// A type-erased handle that only knows the message type.
    pub fn recipient<M>(&self) -> Recipient<M>
    where
        A: Handler<M>,
        M: Message,
    {
        Recipient::new(self.clone())
    }
}

impl<A: Actor> sealed::Sealed for Pool<A> {}

impl<A, M> AskTarget<M> for Pool<A>
where
    A: Handler<M>,
    M: Message,
{
    fn ask_async(
        &self,
        mut msg: M,
        timeout: Option<Duration>,
    ) -> BoxFuture<'_, Result<M::Reply, AskError<M>>> {
        Box::pin(async move {
            for worker in self.candidates() {
                match worker.ask_async(msg, timeout).await {
                    Err(AskError::Send(SendError::Closed(m))) => msg = m,
                    other => return other,
                }
            }
            Err(AskError::Send(SendError::Closed(msg)))
        })
    }

    fn ask_blocking(&self, mut msg: M, timeout: Option<Duration>) -> Result<M::Reply, AskError<M>> {
        for worker in self.candidates() {
            match worker.ask_blocking(msg, timeout) {
                Err(AskError::Send(SendError::Closed(m))) => msg = m,
                other => return other,
            }
        }
        Err(AskError::Send(SendError::Closed(msg)))
    }
}

impl<A: Actor> crate::tell::sealed::Sealed for Pool<A> {}

impl<A, M> TellTarget<M> for Pool<A>
where
    A: Handler<M>,
    M: Message,
{
    fn start_tell(&self, mut msg: M, deadline: Option<Instant>) -> TellStart<'_, M> {
        let mut candidates = self.candidates();
        while let Some(worker) = candidates.next() {
            match worker.start_tell(msg, deadline) {
                TellStart::Done(Err(SendError::Closed(m))) => msg = m,
                TellStart::Done(sent) => return TellStart::Done(sent),
                TellStart::Waiting(wait) => {
                    // Full: wait for this worker; if it stops meanwhile, go on to the rest.
                    let rest: Vec<&ActorRef<A>> = candidates.collect();
                    return TellStart::Waiting(Box::pin(async move {
                        let mut msg = match wait.await {
                            Err(SendError::Closed(m)) => m,
                            sent => return sent,
                        };
                        for worker in rest {
                            match Tell::until(worker, msg, deadline).await {
                                Err(SendError::Closed(m)) => msg = m,
                                sent => return sent,
                            }
                        }
                        Err(SendError::Closed(msg))
                    }));
                }
            }
        }
        TellStart::Done(Err(SendError::Closed(msg)))
    }

    fn tell_blocking(&self, mut msg: M, deadline: Option<Instant>) -> Result<(), SendError<M>> {
        for worker in self.candidates() {
            match worker.tell_blocking(msg, deadline) {
                Err(SendError::Closed(m)) => msg = m,
                other => return other,
            }
        }
        Err(SendError::Closed(msg))
    }
}
