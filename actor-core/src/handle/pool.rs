//! [`Pool`]: n actors on n threads behind one reference.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::actor::{Actor, Handler};
use crate::actor_thread::supervision::Supervision;
use crate::error::{AskError, SendError, SpawnError};
use crate::handle::actor_ref::ActorRef;
use crate::handle::tell::Tell;
use crate::handle::{Target, TellStart};
use crate::mailbox::size::MailboxSize;
use crate::message::Message;
use crate::system::settings::ActorOptions;
use crate::system::ActorSystem;

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

impl std::fmt::Debug for PoolBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("name", &self.name)
            .field("workers", &self.workers)
            .field("dispatch", &self.dispatch)
            .field("options", &self.options)
            .finish()
    }
}

impl<'a> PoolBuilder<'a> {
    pub(crate) fn new(system: &'a ActorSystem, name: String, workers: usize) -> Self {
        PoolBuilder {
            options: system.settings().actor_defaults(),
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
        if self.workers == 0 {
            return Err(SpawnError::EmptyPool);
        }
        let factory = Arc::new(factory);
        let mut options = self.options;
        options.track_load = true;
        let mut workers: Vec<ActorRef<A>> = Vec::with_capacity(self.workers);
        for i in 0..self.workers {
            let factory = factory.clone();
            let name = format!("{}-{i}", self.name);
            match self
                .system
                .spawn_with(name, options.clone(), None, move || factory())
            {
                Ok(worker) => workers.push(worker),
                Err(e) => {
                    workers.iter().for_each(ActorRef::stop);
                    return Err(e);
                }
            }
        }
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

    /// Whether messages to it get a `process` span (see [`ActorRef::makes_spans`]).
    pub fn makes_spans(&self) -> bool {
        self.workers.first().is_some_and(ActorRef::makes_spans)
    }

    /// The workers, in order.
    pub fn workers(&self) -> &[ActorRef<A>] {
        &self.workers
    }

    /// Stops every worker (each drains its mailbox first).
    pub fn stop(&self) {
        self.workers.iter().for_each(ActorRef::stop);
    }

    /// Kills every worker (see [`ActorRef::kill`]): each ends after the message in hand.
    pub fn kill(&self) {
        self.workers.iter().for_each(ActorRef::kill);
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

    crate::handle::methods::send_methods!();
}

impl<A: Actor> crate::handle::sealed::Sealed for Pool<A> {}

/// Each primitive tries the chosen worker first and moves on to the next while workers
/// refuse with `Closed` (stopped): the message goes to a live one if there is any.
impl<A, M> Target<M> for Pool<A>
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

    fn tell_now(&self, mut msg: M) -> Result<(), SendError<M>> {
        for worker in self.candidates() {
            match worker.tell_now(msg) {
                Err(SendError::Closed(m)) => msg = m,
                other => return other,
            }
        }
        Err(SendError::Closed(msg))
    }

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

    fn default_ask_timeout(&self) -> Option<Duration> {
        self.workers[0].default_ask_timeout()
    }
}
