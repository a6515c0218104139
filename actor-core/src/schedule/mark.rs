//! [`Mark`]: what a timer or an attached stream shares with the messages it sent, and
//! [`Task`]: its task on the actor's `LocalSet` with that mark, to cancel both at once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;
use tokio::task::AbortHandle;

/// Shared by a timer (or stream) task, its handle and the messages it has in the mailbox.
#[derive(Debug)]
pub(crate) struct Mark {
    /// Cancelled (timer) or detached (stream): no more firing or polling.
    cancelled: AtomicBool,
    /// Whether a message still queued when the mark is cancelled is discarded unhandled
    /// (timers) or handled as usual (stream items, which were already taken from the stream).
    discard_when_cancelled: bool,
    /// The task has ended (a one-shot timer fired, a stream ended or failed).
    finished: AtomicBool,
    /// Its messages in the mailbox or being handled.
    queued: AtomicUsize,
    /// Wakes the task when one of its messages is done with.
    taken: Notify,
}

impl Mark {
    /// The mark of a timer: a tick still queued when it is cancelled is discarded.
    pub(crate) fn timer() -> Self {
        Self::new(true)
    }

    /// The mark of a stream: items already queued when it is detached are still handled.
    pub(crate) fn stream() -> Self {
        Self::new(false)
    }

    fn new(discard_when_cancelled: bool) -> Self {
        Mark {
            cancelled: AtomicBool::new(false),
            discard_when_cancelled,
            finished: AtomicBool::new(false),
            queued: AtomicUsize::new(0),
            taken: Notify::new(),
        }
    }

    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Whether a message of this mark, about to be handled, is to be discarded instead.
    pub(crate) fn discards(&self) -> bool {
        self.discard_when_cancelled && self.is_cancelled()
    }

    /// The task has ended: it will send nothing more.
    pub(crate) fn finish(&self) {
        self.finished.store(true, Ordering::Release);
    }

    /// Whether the task has ended or was cancelled, and none of its messages is left.
    pub(crate) fn is_done(&self) -> bool {
        (self.is_cancelled() || self.finished.load(Ordering::Acquire)) && self.queued() == 0
    }

    /// Whether it may still deliver a message: not cancelled, and its task still runs or
    /// one of its messages waits to be handled.
    pub(crate) fn is_active(&self) -> bool {
        !self.is_cancelled() && (!self.finished.load(Ordering::Acquire) || self.queued() > 0)
    }

    /// Its messages in the mailbox or being handled.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// One more of its messages is going into the mailbox.
    pub(crate) fn sent(&self) {
        self.queued.fetch_add(1, Ordering::AcqRel);
    }

    /// One of its messages was handled, discarded or dropped.
    pub(crate) fn taken(&self) {
        self.queued.fetch_sub(1, Ordering::AcqRel);
        self.taken.notify_one();
    }

    /// Waits until fewer than `limit` of its messages are queued.
    pub(crate) async fn wait_below(&self, limit: usize) {
        loop {
            if self.queued() < limit {
                return;
            }
            let taken = self.taken.notified();
            let mut taken = std::pin::pin!(taken);
            // Registered before the second look, so a message taken in between still wakes.
            taken.as_mut().enable();
            if self.queued() < limit {
                return;
            }
            taken.await;
        }
    }
}

/// A timer's or stream's task on the actor's `LocalSet`, with its mark.
#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub(crate) mark: Arc<Mark>,
    pub(crate) abort: AbortHandle,
}

impl Task {
    /// Cancels (or detaches): the mark says so, and the task is aborted, so it never
    /// runs again (it runs on the actor's own thread: it is not running now).
    pub(crate) fn cancel(&self) {
        self.mark.cancel();
        self.abort.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future as _;

    use super::*;

    #[test]
    fn a_one_shot_is_active_until_its_message_is_taken() {
        let mark = Mark::timer();
        assert!(mark.is_active());
        mark.sent();
        mark.finish();
        assert!(mark.is_active(), "its message still waits in the mailbox");
        assert!(!mark.is_done());
        mark.taken();
        assert!(!mark.is_active());
        assert!(mark.is_done());
    }

    #[test]
    fn only_a_cancelled_timer_discards_its_queued_messages() {
        let (timer, stream) = (Mark::timer(), Mark::stream());
        assert!(!timer.discards() && !stream.discards());
        timer.cancel();
        stream.cancel();
        assert!(timer.discards());
        assert!(!stream.discards(), "stream items already taken are handled");
        assert!(!timer.is_active() && !stream.is_active());
    }

    #[test]
    fn a_wait_for_the_window_ends_when_a_message_is_taken() {
        let mark = Mark::stream();
        mark.sent();
        mark.sent();
        let wait = mark.wait_below(2);
        let mut wait = std::pin::pin!(wait);
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        mark.taken();
        assert!(wait.as_mut().poll(&mut cx).is_ready());
    }
}
