//! Messages an actor schedules for itself: timers ([`timers`]) and attached streams
//! ([`stream`]). Each runs as a task on the actor's own `LocalSet`, and each message it
//! sends is a self-send whose trace is linked to the span that scheduled it ([`letter`]).
//! [`Scheduled`] is the actor's list of those tasks, which the receive loop cancels at a
//! stop request and (timers only) at a restart.

use std::cell::RefCell;

use crate::schedule::mark::Task;

pub(crate) mod letter;
pub(crate) mod mark;
pub(crate) mod stream;
pub(crate) mod timers;

/// The timers and streams of one actor, kept in its [`Ctx`](crate::Ctx).
#[derive(Debug, Default)]
pub(crate) struct Scheduled {
    timers: RefCell<Tasks>,
    streams: RefCell<Tasks>,
}

impl Scheduled {
    /// Keeps a new timer, to cancel it at a stop or restart.
    pub(crate) fn add_timer(&self, task: Task) {
        self.timers.borrow_mut().add(task);
    }

    /// Keeps a new stream, to detach it at a stop.
    pub(crate) fn add_stream(&self, task: Task) {
        self.streams.borrow_mut().add(task);
    }

    /// The actor is restarting: its timers are cancelled (they were set by the state that
    /// is gone). Streams are input from outside and stay attached.
    pub(crate) fn restarting(&self) {
        self.timers.borrow_mut().cancel_all();
    }

    /// The actor was asked to stop (or supervision gave up): every timer is cancelled and
    /// every stream detached, before the mailbox is drained.
    pub(crate) fn stopping(&self) {
        self.timers.borrow_mut().cancel_all();
        self.streams.borrow_mut().cancel_all();
    }
}

/// Live tasks, pruned of the finished ones now and then.
#[derive(Debug, Default)]
struct Tasks {
    list: Vec<Task>,
    /// The length at which the list is next pruned.
    prune_at: usize,
}

impl Tasks {
    fn add(&mut self, task: Task) {
        if self.list.len() >= self.prune_at {
            self.list.retain(|task| !task.mark.is_done());
            // Twice what is still live: pruning costs O(1) per task added.
            self.prune_at = (self.list.len() * 2).max(16);
        }
        self.list.push(task);
    }

    fn cancel_all(&mut self) {
        for task in self.list.drain(..) {
            task.cancel();
        }
        self.prune_at = 0;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::schedule::mark::Mark;

    /// Runs `f` inside a `LocalSet`, as an actor's code runs.
    fn on_a_local_set(f: impl FnOnce()) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&runtime, async { f() });
    }

    fn task() -> Task {
        let join = tokio::task::spawn_local(std::future::pending::<()>());
        Task {
            mark: Arc::new(Mark::timer()),
            abort: join.abort_handle(),
        }
    }

    #[test]
    fn finished_tasks_are_pruned_and_live_ones_kept() {
        on_a_local_set(|| {
            let scheduled = Scheduled::default();
            let live = task();
            scheduled.add_timer(live.clone());
            for _ in 0..1_000 {
                let done = task();
                done.mark.finish();
                scheduled.add_timer(done);
            }
            assert!(scheduled.timers.borrow().list.len() <= 32);
            scheduled.stopping();
            assert!(
                live.mark.is_cancelled(),
                "the live one was kept and cancelled"
            );
        });
    }

    #[test]
    fn a_restart_cancels_timers_and_keeps_streams() {
        on_a_local_set(|| {
            let scheduled = Scheduled::default();
            let (timer, stream) = (task(), task());
            scheduled.add_timer(timer.clone());
            scheduled.add_stream(stream.clone());
            scheduled.restarting();
            assert!(timer.mark.is_cancelled());
            assert!(!stream.mark.is_cancelled());
            scheduled.stopping();
            assert!(stream.mark.is_cancelled());
        });
    }
}
