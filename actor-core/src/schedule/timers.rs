//! Timers: [`Ctx::send_after`] and [`Ctx::send_interval`], and the [`TimerHandle`] that
//! cancels one.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::Context;
use tokio::time::Instant;

use crate::actor::{Actor, Handler};
use crate::ctx::Ctx;
use crate::handle::actor_ref::ActorRef;
use crate::message::Message;
use crate::schedule::letter::deliver;
use crate::schedule::mark::{Mark, Task};
use crate::trace::send::caller_context;

/// The shortest period of [`Ctx::send_interval`]; a shorter one (zero) is raised to it.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// A timer set with [`Ctx::send_after`] or [`Ctx::send_interval`].
///
/// Dropping the handle does **not** cancel the timer (as Akka's `Cancellable`): keep the
/// handle to [`cancel`](TimerHandle::cancel) it, or let the actor's stop or restart cancel
/// it. Clones cancel the same timer; the handle is `Send`, so another thread may cancel too.
#[derive(Debug, Clone)]
pub struct TimerHandle {
    task: Task,
}

impl TimerHandle {
    /// Cancels the timer: it fires no more, and a message it already put in the mailbox is
    /// discarded unhandled when its turn comes (its `process` span, if spans are on, is
    /// then empty). Harmless after the timer fired or was cancelled, and after the actor
    /// stopped.
    pub fn cancel(&self) {
        self.task.cancel();
    }

    /// Whether the timer may still deliver a message: not cancelled (by
    /// [`cancel`](TimerHandle::cancel), a restart or a stop), and either still running or
    /// with its message waiting in the mailbox. A one-shot timer is inactive once its
    /// message was handled.
    pub fn is_active(&self) -> bool {
        self.task.mark.is_active()
    }
}

/// Timers: messages an actor sends itself later. They run on the actor's own thread and are
/// cancelled when the actor stops (at the stop request, before the mailbox is drained) or
/// restarts. A timer's message is a self-send: it always gets a place in the mailbox, even
/// a full one, and its `process` span starts a new trace linked to the span that was active
/// where the timer was set (with the default
/// [`Relation::Link`](crate::trace::Relation::Link) for self-sends), so an interval never
/// grows one endless trace. A message that can no longer be delivered is a dead letter.
impl<A: Actor> Ctx<A> {
    /// Sends `msg` to this actor once, after `delay`.
    pub fn send_after<M>(&self, msg: M, delay: Duration) -> TimerHandle
    where
        A: Handler<M>,
        M: Message,
    {
        let link = caller_context();
        let myself = self.myself.clone();
        let mark = Arc::new(Mark::timer());
        let task_mark = mark.clone();
        let join = tokio::task::spawn_local(async move {
            tokio::time::sleep(delay).await;
            fire(&myself, msg, &task_mark, &link);
            task_mark.finish();
        });
        self.timer(mark, join.abort_handle())
    }

    /// Sends `make_msg()` to this actor every `period` (at least [`MIN_INTERVAL`]), the
    /// first time one period from now, until cancelled.
    ///
    /// A tick is skipped while the previous one is still in the mailbox or being handled,
    /// and ticks missed while the actor was busy are not made up (tokio's
    /// `MissedTickBehavior::Skip`): a slow actor gets at most one tick queued, never a
    /// backlog of them (its self-sends would go past a bounded mailbox's capacity).
    pub fn send_interval<M, F>(&self, period: Duration, mut make_msg: F) -> TimerHandle
    where
        A: Handler<M>,
        M: Message,
        F: FnMut() -> M + 'static,
    {
        let period = period.max(MIN_INTERVAL);
        let link = caller_context();
        let myself = self.myself.clone();
        let mark = Arc::new(Mark::timer());
        let task_mark = mark.clone();
        let join = tokio::task::spawn_local(async move {
            let mut next = Instant::now().checked_add(period);
            loop {
                let Some(at) = next else {
                    // Beyond the clock's range: it would never fire.
                    return std::future::pending().await;
                };
                tokio::time::sleep_until(at).await;
                if task_mark.queued() == 0 && !fire(&myself, make_msg(), &task_mark, &link) {
                    break;
                }
                let now = Instant::now();
                next = at.checked_add(period).and_then(|n| {
                    if n > now {
                        Some(n)
                    } else {
                        now.checked_add(period)
                    }
                });
            }
            task_mark.finish();
        });
        self.timer(mark, join.abort_handle())
    }

    fn timer(&self, mark: Arc<Mark>, abort: tokio::task::AbortHandle) -> TimerHandle {
        let task = Task { mark, abort };
        self.scheduled.add_timer(task.clone());
        TimerHandle { task }
    }
}

/// A timer fires: its message goes to the actor as a self-send, unless the timer was
/// cancelled or the actor asked to stop (which cancels its timers: nothing to deliver, no
/// dead letter). `false` when it will fire no more.
fn fire<A, M>(myself: &ActorRef<A>, msg: M, mark: &Arc<Mark>, link: &Context) -> bool
where
    A: Handler<M>,
    M: Message,
{
    if mark.is_cancelled() || myself.cell.stop_requested() {
        return false;
    }
    // The actor's own message: it always gets a place.
    let reserved = myself.tx.try_reserve(true);
    deliver(myself, msg, mark, link, reserved)
}
