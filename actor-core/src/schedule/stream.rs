//! Streams attached to an actor: [`Ctx::attach_stream`] and [`Ctx::attach_try_stream`],
//! the [`StreamHandle`] that detaches one, and the [`StreamFinished`] notification.

use std::convert::Infallible;
use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::{Stream, StreamExt};
use opentelemetry::Context;

use crate::actor::{Actor, Handler};
use crate::ctx::Ctx;
use crate::handle::actor_ref::ActorRef;
use crate::mailbox::room::Room;
use crate::message::Message;
use crate::reply::Reply;
use crate::schedule::letter::deliver;
use crate::schedule::mark::{Mark, Task};
use crate::trace::send::caller_context;

/// Most items of one stream in an *unbounded* mailbox (queued or being handled) at once:
/// the stream is polled again only when fewer are. A bounded mailbox is its own limit.
pub const STREAM_WINDOW: usize = 64;

/// Which attached stream a [`StreamFinished`] is about: unique in the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(u64);

impl StreamId {
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        StreamId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A handler may answer with the id of the stream it attached.
impl Reply for StreamId {}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stream-{}", self.0)
    }
}

/// How an attached stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamOutcome {
    /// The stream ended (returned `None`).
    Completed,
    /// The stream of [`Ctx::attach_try_stream`] yielded an error (its `Display` text); it
    /// was dropped there.
    Failed(String),
}

/// Delivered to the actor after the last item of an attached stream, when the stream ended
/// or failed (not when it was detached, nor when the actor stopped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFinished {
    /// The stream, as its [`StreamHandle::id`] says.
    pub id: StreamId,
    /// How it ended.
    pub outcome: StreamOutcome,
}

impl Message for StreamFinished {
    type Reply = ();
}

/// A stream attached with [`Ctx::attach_stream`] or [`Ctx::attach_try_stream`].
///
/// Dropping the handle does **not** detach the stream; the actor's stop does.
#[derive(Debug, Clone)]
pub struct StreamHandle {
    id: StreamId,
    task: Task,
}

impl StreamHandle {
    /// Which stream this is (as its [`StreamFinished`] will say).
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// Detaches the stream: it is not polled again and is dropped; items already in the
    /// mailbox are still handled; no [`StreamFinished`] follows. Harmless after the stream
    /// ended and after the actor stopped.
    pub fn detach(&self) {
        self.task.cancel();
    }

    /// Whether the stream is still attached (neither ended, failed nor detached) or has
    /// items waiting in the mailbox.
    pub fn is_attached(&self) -> bool {
        self.task.mark.is_active()
    }
}

/// Streams: each item is handled as a message of the actor, in order with its other
/// messages (it goes through the mailbox), with backpressure: the stream is polled for its
/// next item only once there is a place in the mailbox for it (a bounded mailbox's place is
/// taken first, as a sender outside the actor waits for one, so the stream never goes past
/// the capacity; in an unbounded mailbox at most [`STREAM_WINDOW`] of its items wait). The
/// stream runs on the actor's thread and need not be `Send`. Each item's `process` span
/// starts a new trace linked to the span that was active where the stream was attached.
///
/// A stream is outside input: it stays attached across restarts. At the actor's stop
/// request it is detached (polled no more) before the mailbox is drained.
impl<A: Actor> Ctx<A> {
    /// Attaches `stream`: its items are handled as messages of this actor, then
    /// [`StreamFinished`] with [`StreamOutcome::Completed`] when it ends.
    pub fn attach_stream<S, M>(&self, stream: S) -> StreamHandle
    where
        S: Stream<Item = M> + 'static,
        M: Message,
        A: Handler<M> + Handler<StreamFinished>,
    {
        self.attach_try_stream(stream.map(Ok::<M, Infallible>))
    }

    /// Attaches a stream of results: each `Ok` item is handled as a message of this actor;
    /// the first `Err` ends it with [`StreamFinished`] and [`StreamOutcome::Failed`] (its
    /// `Display` text), as the end of the stream does with [`StreamOutcome::Completed`].
    pub fn attach_try_stream<S, M, E>(&self, stream: S) -> StreamHandle
    where
        S: Stream<Item = Result<M, E>> + 'static,
        M: Message,
        E: Display,
        A: Handler<M> + Handler<StreamFinished>,
    {
        let id = StreamId::next();
        let link = caller_context();
        let myself = self.myself.clone();
        let mark = Arc::new(Mark::stream());
        let task_mark = mark.clone();
        let join = tokio::task::spawn_local(async move {
            if let Some(outcome) = pump(&myself, stream, &task_mark, &link).await {
                // After its last item, in the same mailbox: it is handled after that item.
                let end = StreamFinished { id, outcome };
                let reserved = myself.tx.try_reserve(true);
                deliver(&myself, end, &task_mark, &link, reserved);
            }
            task_mark.finish();
        });
        let task = Task {
            mark,
            abort: join.abort_handle(),
        };
        self.scheduled.add_stream(task.clone());
        StreamHandle { id, task }
    }
}

/// Moves the stream's items into the mailbox, each only once it has a place. `None` when
/// the stream was detached or the actor is stopping; otherwise how the stream ended.
async fn pump<A, M, E, S>(
    myself: &ActorRef<A>,
    stream: S,
    mark: &Arc<Mark>,
    link: &Context,
) -> Option<StreamOutcome>
where
    A: Handler<M>,
    M: Message,
    E: Display,
    S: Stream<Item = Result<M, E>>,
{
    let mut stream = std::pin::pin!(stream);
    let room = myself.tx.room();
    loop {
        if mark.is_cancelled() || myself.cell.stop_requested() {
            return None;
        }
        // A place first (given back if the task is aborted or the stream yields no item),
        // then the item.
        let place = match &room {
            Some(room) => match myself.tx.reserve().await {
                Ok(()) => Place(Some(room)),
                // The actor was asked to stop.
                Err(_) => return None,
            },
            None => {
                mark.wait_below(STREAM_WINDOW).await;
                Place(None)
            }
        };
        if mark.is_cancelled() || myself.cell.stop_requested() {
            return None;
        }
        match stream.next().await {
            Some(Ok(item)) => {
                place.into_used();
                // Delivered, or a dead letter if the mailbox closed meanwhile: not lost.
                deliver(myself, item, mark, link, Ok(()));
            }
            Some(Err(e)) => return Some(StreamOutcome::Failed(e.to_string())),
            None => return Some(StreamOutcome::Completed),
        }
    }
}

/// A place taken in a bounded mailbox, given back unless an item went into it.
struct Place<'a>(Option<&'a Arc<Room>>);

impl Place<'_> {
    /// The place now holds an item.
    fn into_used(mut self) {
        self.0 = None;
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if let Some(room) = self.0 {
            room.give_back(1);
        }
    }
}
