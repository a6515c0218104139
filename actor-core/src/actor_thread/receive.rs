//! The receive loop: drains the mailbox in batches, restores each sender's context, runs
//! the handler inside its `process` span, restarts on panic, and tears down at the end.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;

use crate::actor::Actor;
use crate::actor_thread::restarts::Supervisor;
use crate::actor_thread::run::{Counters, Run};
use crate::actor_thread::spin::{spin_until, Adaptive};
use crate::cell::{ActorCell, Startup};
use crate::ctx::Ctx;
use crate::dead_letter::DeadLetterReason;
use crate::handle::actor_ref::ActorRef;
use crate::info::ActorInfo;
use crate::mailbox::envelope::{panic_text, Envelope};
use crate::mailbox::MailboxRx;
use crate::metrics::ActorMetrics;
use crate::schedule::Scheduled;
use crate::system::report::{ActorReport, StopReason};
use crate::system::settings::ActorOptions;
use crate::system::ActorSystem;
use crate::trace::process::ReceiveTracing;
use crate::tree::node::Node;

/// Most envelopes taken from the mailbox at once.
const BATCH: usize = 64;

/// The receive loop's state, which lives inside the actor's runtime.
pub(crate) struct Body<A: Actor, F> {
    spin: Adaptive,
    pub(super) cell: Arc<ActorCell>,
    rx: MailboxRx<Envelope<A>>,
    myself: ActorRef<A>,
    factory: F,
    options: ActorOptions,
    info: Arc<ActorInfo>,
    /// A handle that does not keep the system alive.
    system: ActorSystem,
    /// This actor's place in its supervision tree.
    pub(super) node: Arc<Node>,
}

impl<A: Actor, F: Fn() -> A> Body<A, F> {
    pub(crate) fn new(
        myself: ActorRef<A>,
        rx: MailboxRx<Envelope<A>>,
        factory: F,
        options: ActorOptions,
        info: Arc<ActorInfo>,
        system: ActorSystem,
        node: Arc<Node>,
    ) -> Self {
        Body {
            spin: Adaptive::new(myself.cell.settings.spin),
            cell: myself.cell.clone(),
            rx,
            myself,
            factory,
            options,
            info,
            system,
            node,
        }
    }

    /// The parent's node, if this actor is a child.
    pub(crate) fn parent(&self) -> Option<Arc<Node>> {
        self.node.parent.clone()
    }

    /// Where the actor's thread is bound, if anywhere.
    pub(crate) fn core(&self) -> Option<usize> {
        self.options.core
    }

    /// The actor's shared cell.
    pub(crate) fn cell(&self) -> &Arc<ActorCell> {
        &self.cell
    }

    pub(crate) async fn receive_loop(mut self, started: Instant) -> ActorReport {
        let settings = self.cell.settings.clone();
        let hooks = &settings.hooks;
        let mut tracing = ReceiveTracing::start(
            &settings.tracing,
            &self.info,
            self.cell.destination.name_value(),
            self.options.relations,
        );
        let mut metrics = match (tracing.take_meter(), &self.cell.sent) {
            (Some(meter), Some(sent)) => Some(ActorMetrics::new(
                &meter,
                &self.info.name,
                &settings.name,
                sent,
                self.cell.room().map(Arc::downgrade),
                settings.tracing.metrics,
                settings.tracing.every_message_timed(),
            )),
            _ => None,
        };
        for hook in &hooks.on_start {
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| hook(&self.info)));
        }

        let mut cx = Ctx {
            myself: self.myself.clone(),
            system: self.system.clone(),
            info: self.info.clone(),
            tracer: tracing.tracer(),
            scheduled: Scheduled::default(),
            node: self.node.clone(),
        };
        let mut counters = Counters::default();
        let mut supervisor = Supervisor::new(self.options.supervision, self.cell.id, self.parent());
        let mut state = self
            .build_state(&mut cx, &mut supervisor, &mut counters, metrics.as_ref())
            .await;
        let started_once = state.is_some();
        self.cell.startup.send_replace(if started_once {
            Startup::Running
        } else {
            let why = format!(
                "the factory or `started` panicked {} time(s), beyond the restart limit; last: {}",
                counters.panics,
                counters.last_panic.as_deref().unwrap_or("(no message)")
            );
            Startup::Failed(why.into())
        });
        let mut closed = false;
        let mut killed = false;
        // A child failed beyond this actor's restart intensity, and no parent restarted it.
        let mut escalated = false;

        let mut batch = Vec::with_capacity(BATCH);
        while state.is_some() {
            let control = self.cell.take_control();
            if control != 0 {
                let mut run = Run {
                    cx: &mut cx,
                    supervisor: &mut supervisor,
                    counters: &mut counters,
                    metrics: metrics.as_ref(),
                    tracing: &tracing,
                };
                let (next, gave_up) = self.on_control(control, state.take(), &mut run).await;
                state = next;
                escalated |= gave_up;
                continue;
            }
            let requests = self.cell.control();
            if requests.kill() {
                // No timer fires and no stream is polled into a killed actor.
                cx.scheduled.stopping();
                killed = true;
                break;
            }
            if !closed && requests.stop() {
                // No timer fires and no stream is polled into a stopping actor.
                cx.scheduled.stopping();
                self.rx.close();
                closed = true;
            }
            if !self.fill(&mut batch, closed).await {
                if closed {
                    break;
                }
                continue;
            }
            let mut asks = false;
            for envelope in batch.drain(..) {
                asks |= envelope.payload.is_ask();
                let Some(actor) = state.as_mut() else {
                    // Supervision gave up mid-batch: the rest is dropped like the mailbox.
                    counters.dropped += 1;
                    self.dead_letter(&tracing, envelope, DeadLetterReason::Dropped);
                    continue;
                };
                let control = self.cell.control();
                if control.kill() {
                    // Killed: what is left of the batch is not handled.
                    counters.killed += 1;
                    self.dead_letter(&tracing, envelope, DeadLetterReason::Killed);
                    continue;
                }
                if closed || control.stop() {
                    counters.drained += 1;
                }
                let Envelope { mut payload, trace } = envelope;
                let message_type = payload.message_type();
                let stamp = trace.stamp;
                let measure = metrics.as_mut().and_then(ActorMetrics::begin);
                let outcome = tracing
                    .run(trace, message_type, payload.handle(actor, &mut cx))
                    .await;
                if let Some(metrics) = &mut metrics {
                    metrics.handled(message_type, measure, stamp);
                }
                self.cell.load_sub();
                counters.handled += 1;
                if outcome.panic().is_some() {
                    counters.panicked(metrics.as_ref());
                    // The failed state goes before a fresh one is built; its timers never fire.
                    cx.scheduled.restarting();
                    drop(state.take());
                    let failure = outcome.into_panic_context().unwrap_or_default();
                    let mut run = Run {
                        cx: &mut cx,
                        supervisor: &mut supervisor,
                        counters: &mut counters,
                        metrics: metrics.as_ref(),
                        tracing: &tracing,
                    };
                    let (next, gave_up) = self.recover(failure, false, &mut run).await;
                    state = next;
                    escalated |= gave_up;
                }
            }
            // Request/reply traffic: the asker will likely send again right after its reply.
            self.spin.served_asks(asks);
        }

        if killed {
            // The rest of the mailbox goes to the dead letters; nothing new can arrive.
            counters.killed += self
                .close_to_dead_letters(&tracing, DeadLetterReason::Killed)
                .await;
        }
        // Children stop before their parent's `stopped` hook, and take no new siblings.
        self.stop_children(true).await;
        let reason = match state.as_mut() {
            Some(actor) => {
                if AssertUnwindSafe(actor.stopped(&mut cx))
                    .catch_unwind()
                    .await
                    .is_err()
                {
                    counters.panicked(metrics.as_ref());
                }
                if killed {
                    StopReason::Killed
                } else {
                    self.cell.stop_reason().unwrap_or(StopReason::Requested)
                }
            }
            None => {
                // Supervision gave up: refuse new messages; queued asks learn it at once.
                cx.scheduled.stopping();
                counters.dropped += self
                    .close_to_dead_letters(&tracing, DeadLetterReason::Dropped)
                    .await;
                if escalated {
                    StopReason::Escalated
                } else if started_once {
                    StopReason::Failed
                } else {
                    StopReason::NotStarted
                }
            }
        };
        drop(state);
        drop(cx);
        drop(metrics);
        for hook in &hooks.on_stop {
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| hook(&self.info)));
        }
        tracing.teardown();
        ActorReport {
            id: self.cell.id,
            name: self.cell.name.to_string(),
            handled: counters.handled,
            drained: counters.drained,
            dropped: counters.dropped,
            panics: counters.panics,
            restarts: counters.restarts,
            killed: counters.killed,
            dead_letters: self.cell.dead_letter_count(),
            parent: self.node.parent.as_ref().map(|p| p.id),
            reason,
            stopped_in_time: true,
            lifetime: started.elapsed(),
        }
    }

    /// Takes what is queued (up to [`BATCH`]) into `batch`, parking only when the mailbox
    /// is empty: a burst costs one wake-up. `false` when nothing came: woken by a stop
    /// request (open mailbox), or closed and empty.
    async fn fill(&mut self, batch: &mut Vec<Envelope<A>>, closed: bool) -> bool {
        if closed {
            return self.rx.recv_many(batch, BATCH).await > 0;
        }
        let mut parked_at = None;
        if self.rx.is_empty() && self.spin.enabled() {
            let cell = &self.cell;
            let rx = &self.rx;
            if spin_until(self.spin.spin(&cell.asks), || {
                !rx.is_empty() || cell.stop_requested()
            }) {
                self.spin.spin_paid_off();
            } else {
                parked_at = Some(Instant::now());
            }
        }
        let received = tokio::select! {
            biased;
            received = self.rx.recv_many(batch, BATCH) => {
                if received == 0 {
                    // Every sender is gone: nothing can arrive any more.
                    self.cell.request_stop();
                }
                received > 0
            }
            _ = self.cell.wake.notified() => false,
        };
        if let Some(parked_at) = parked_at {
            self.spin.parked_for(parked_at.elapsed());
        }
        received
    }

    /// Closes the mailbox and sends everything still queued to the dead letters for
    /// `reason`; returns how many.
    async fn close_to_dead_letters(
        &mut self,
        tracing: &ReceiveTracing,
        reason: DeadLetterReason,
    ) -> u64 {
        self.rx.close();
        let mut count = 0;
        while let Some(envelope) = self.rx.recv().await {
            count += 1;
            self.dead_letter(tracing, envelope, reason);
        }
        count
    }

    /// Sends a queued message that will not be handled to the dead letters. Dropping it
    /// tells an asker ([`AskError::Dropped`](crate::AskError::Dropped)).
    fn dead_letter(
        &self,
        tracing: &ReceiveTracing,
        envelope: Envelope<A>,
        reason: DeadLetterReason,
    ) {
        self.cell.load_sub();
        let Envelope { payload, trace } = envelope;
        let message_type = payload.message_type();
        drop(payload);
        let cx = tracing.dead_letter(trace, message_type, reason);
        self.cell.dead_letter(message_type, reason, false, cx);
    }

    /// Builds the state with the factory and runs `started`, restarting on panic as the
    /// policy allows. `None` when the policy gives up.
    pub(super) async fn build_state(
        &self,
        cx: &mut Ctx<A>,
        supervisor: &mut Supervisor,
        counters: &mut Counters,
        metrics: Option<&ActorMetrics>,
    ) -> Option<A> {
        loop {
            let panic = match std::panic::catch_unwind(AssertUnwindSafe(&self.factory)) {
                Ok(mut actor) => match AssertUnwindSafe(actor.started(cx)).catch_unwind().await {
                    Ok(()) => return Some(actor),
                    Err(panic) => panic,
                },
                Err(panic) => panic,
            };
            counters.last_panic = Some(panic_text(panic.as_ref()));
            counters.panicked(metrics);
            // Timers set by a `started` that panicked never fire.
            cx.scheduled.restarting();
            if !supervisor.allow_restart() {
                return None;
            }
            counters.restarted(metrics);
        }
    }
}
