//! The receive loop's side of supervision trees: what an actor does when it failed (its
//! parent's strategy decides, on this thread), when its parent asks it to restart or a
//! child escalated to it (control flags, looked at once per batch), and stopping its
//! children before itself.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use opentelemetry::Context;

use crate::actor::Actor;
use crate::actor_thread::receive::Body;
use crate::actor_thread::run::Run;
use crate::cell::{ActorCell, ESCALATED, RESTART};
use crate::tree::node::Decision;

impl<A: Actor, F: Fn() -> A> Body<A, F> {
    /// This actor failed: a handler panicked (`escalation` false) or a child went beyond
    /// its restart intensity (true). Its state is gone. A root applies its own
    /// [`Supervision`](crate::Supervision) to a panic and gives up on an escalation; a child
    /// asks its parent's strategy, restarting itself and the siblings it names, in spawn
    /// order, or escalating. Returns the new state, and whether this actor escalated.
    pub(super) async fn recover(
        &self,
        failure: Context,
        escalation: bool,
        run: &mut Run<'_, A>,
    ) -> (Option<A>, bool) {
        // A failed actor's children go with it (they restart with it, from `started`).
        self.stop_children(false).await;
        let Some(parent) = self.node.parent.clone() else {
            if escalation || !run.supervisor.allow_root_restart() {
                return (None, escalation);
            }
            run.counters.restarted(run.metrics);
            let state = self
                .build_state(run.cx, run.supervisor, run.counters, run.metrics)
                .await;
            return (state, false);
        };
        match parent.child_failed(self.cell.id) {
            Decision::Escalate => {
                run.tracing
                    .supervise(&failure, &parent.name, &[], Some(&self.cell.name));
                parent.escalate(failure);
                (None, escalation)
            }
            Decision::Restart(order) => {
                let order = if order.is_empty() {
                    vec![self.cell.clone()]
                } else {
                    order
                };
                let names: Vec<Arc<str>> = order.iter().map(|c| c.name.clone()).collect();
                run.tracing.supervise(&failure, &parent.name, &names, None);
                let mut state = None;
                for cell in order {
                    if cell.id == self.cell.id {
                        run.counters.restarted(run.metrics);
                        state = self
                            .build_state(run.cx, run.supervisor, run.counters, run.metrics)
                            .await;
                    } else {
                        self.restart_sibling(&cell).await;
                    }
                }
                (state, false)
            }
        }
    }

    /// Applies the control flags: an escalation from a child (this actor fails) or a
    /// restart asked by the parent's strategy (graceful: children stopped, `stopped`, a
    /// fresh state, `started`). Returns the new state and whether this actor escalated.
    pub(super) async fn on_control(
        &self,
        control: u8,
        state: Option<A>,
        run: &mut Run<'_, A>,
    ) -> (Option<A>, bool) {
        if control & (ESCALATED | RESTART) != 0 {
            // The timers of the state that goes never fire.
            run.cx.scheduled.restarting();
        }
        let outcome = if control & ESCALATED != 0 {
            drop(state);
            let failure = self.node.take_escalation();
            self.recover(failure, true, run).await
        } else if control & RESTART != 0 {
            self.stop_children(false).await;
            if let Some(mut actor) = state {
                if AssertUnwindSafe(actor.stopped(run.cx))
                    .catch_unwind()
                    .await
                    .is_err()
                {
                    run.counters.panicked(run.metrics);
                }
            }
            run.counters.restarted(run.metrics);
            let state = self
                .build_state(run.cx, run.supervisor, run.counters, run.metrics)
                .await;
            (state, false)
        } else {
            (state, false)
        };
        if control & RESTART != 0 {
            self.cell.restarted.send_modify(|n| *n += 1);
        }
        outcome
    }

    /// Asks a sibling to restart and waits (at most the stop timeout) until it has, so
    /// restarts happen one after another in spawn order.
    async fn restart_sibling(&self, sibling: &Arc<ActorCell>) {
        if sibling.stop_requested() || sibling.ended.borrow().is_some() {
            return;
        }
        let mut done = sibling.restarted.subscribe();
        let before = *done.borrow_and_update();
        sibling.request_control(RESTART);
        let limit = self.cell.settings.stop_timeout;
        let _ = tokio::time::timeout(limit, done.wait_for(|n| *n > before)).await;
    }

    /// Stops this actor's children one at a time, newest first, each waited for (at most
    /// the stop timeout). `close`: this actor stops for good and takes no new children.
    pub(super) async fn stop_children(&self, close: bool) {
        let children = self.node.children(close);
        let limit = self.cell.settings.stop_timeout;
        for child in children.iter().rev() {
            let mut ended = child.ended.subscribe();
            child.request_stop();
            let _ = tokio::time::timeout(limit, ended.wait_for(Option::is_some)).await;
        }
    }
}
