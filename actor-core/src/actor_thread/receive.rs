//! The receive loop: drains the mailbox in batches, restores each sender's context, runs
//! the handler inside its `process` span, restarts on panic, and tears down at the end.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;

use crate::actor::Actor;
use crate::actor_thread::spin::{spin_until, Adaptive};
use crate::actor_thread::supervision::Supervisor;
use crate::cell::{ActorCell, Startup};
use crate::ctx::Ctx;
use crate::dead_letter::DeadLetterReason;
use crate::handle::actor_ref::ActorRef;
use crate::info::ActorInfo;
use crate::mailbox::envelope::{panic_text, Envelope};
use crate::mailbox::MailboxRx;
use crate::metrics::ActorMetrics;
use crate::system::report::{ActorReport, StopReason};
use crate::system::settings::ActorOptions;
use crate::system::ActorSystem;
use crate::trace::process::ReceiveTracing;

/// Most envelopes taken from the mailbox at once.
const BATCH: usize = 64;

/// Counters that end up in the actor's report.
#[derive(Default)]
struct Counters {
    handled: u64,
    drained: u64,
    dropped: u64,
    panics: u32,
    restarts: u32,
    /// The text of the last panic caught.
    last_panic: Option<String>,
}

impl Counters {
    /// Counts a panic caught, for the report and the metrics.
    fn panicked(&mut self, metrics: Option<&ActorMetrics>) {
        self.panics += 1;
        if let Some(metrics) = metrics {
            metrics.panicked();
        }
    }

    /// Counts a restart, for the report and the metrics.
    fn restarted(&mut self, metrics: Option<&ActorMetrics>) {
        self.restarts += 1;
        if let Some(metrics) = metrics {
            metrics.restarted();
        }
    }
}

/// The receive loop's state, which lives inside the actor's runtime.
pub(crate) struct Body<A: Actor, F> {
    spin: Adaptive,
    cell: Arc<ActorCell>,
    rx: MailboxRx<Envelope<A>>,
    myself: ActorRef<A>,
    factory: F,
    options: ActorOptions,
    info: Arc<ActorInfo>,
    /// A handle that does not keep the system alive.
    system: ActorSystem,
}

impl<A: Actor, F: Fn() -> A> Body<A, F> {
    pub(crate) fn new(
        myself: ActorRef<A>,
        rx: MailboxRx<Envelope<A>>,
        factory: F,
        options: ActorOptions,
        info: Arc<ActorInfo>,
        system: ActorSystem,
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
        }
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
        };
        let mut counters = Counters::default();
        let mut supervisor = Supervisor::new(self.options.supervision);
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

        let mut batch = Vec::with_capacity(BATCH);
        while state.is_some() {
            if !closed && self.cell.stop_requested() {
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
                if closed || self.cell.stop_requested() {
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
                if outcome.panic.is_some() {
                    counters.panicked(metrics.as_ref());
                    state = None;
                    if supervisor.allow_restart() {
                        counters.restarted(metrics.as_ref());
                        state = self
                            .build_state(&mut cx, &mut supervisor, &mut counters, metrics.as_ref())
                            .await;
                    }
                }
            }
            // Request/reply traffic: the asker will likely send again right after its reply.
            self.spin.served_asks(asks);
        }

        let reason = match state.as_mut() {
            Some(actor) => {
                if AssertUnwindSafe(actor.stopped(&mut cx))
                    .catch_unwind()
                    .await
                    .is_err()
                {
                    counters.panicked(metrics.as_ref());
                }
                self.cell.stop_reason().unwrap_or(StopReason::Requested)
            }
            None => {
                // Supervision gave up: refuse new messages; queued asks learn it at once.
                self.rx.close();
                while let Some(envelope) = self.rx.recv().await {
                    counters.dropped += 1;
                    self.dead_letter(&tracing, envelope, DeadLetterReason::Dropped);
                }
                if started_once {
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
            killed: 0,
            dead_letters: self.cell.dead_letter_count(),
            parent: None,
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
            if spin_until(self.spin.spin(), || !rx.is_empty() || cell.stop_requested()) {
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
    async fn build_state(
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
            if !supervisor.allow_restart() {
                return None;
            }
            counters.restarted(metrics);
        }
    }
}
