//! What the receive loop counts for the report ([`Counters`]) and what a restart borrows
//! from it ([`Run`]).

use crate::actor::Actor;
use crate::actor_thread::restarts::Supervisor;
use crate::ctx::Ctx;
use crate::metrics::ActorMetrics;
use crate::trace::process::ReceiveTracing;

/// Counters that end up in the actor's report.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) handled: u64,
    pub(super) drained: u64,
    pub(super) dropped: u64,
    pub(super) killed: u64,
    pub(super) panics: u32,
    pub(super) restarts: u32,
    /// The text of the last panic caught.
    pub(super) last_panic: Option<String>,
}

impl Counters {
    /// Counts a panic caught, for the report and the metrics.
    pub(super) fn panicked(&mut self, metrics: Option<&ActorMetrics>) {
        self.panics += 1;
        if let Some(metrics) = metrics {
            metrics.panicked();
        }
    }

    /// Counts a restart, for the report and the metrics.
    pub(super) fn restarted(&mut self, metrics: Option<&ActorMetrics>) {
        self.restarts += 1;
        if let Some(metrics) = metrics {
            metrics.restarted();
        }
    }
}

/// What a restart needs from the receive loop.
pub(super) struct Run<'a, A: Actor> {
    pub(super) cx: &'a mut Ctx<A>,
    pub(super) supervisor: &'a mut Supervisor,
    pub(super) counters: &'a mut Counters,
    pub(super) metrics: Option<&'a ActorMetrics>,
    pub(super) tracing: &'a ReceiveTracing,
}
