//! [`Instrumentation`]: the extension point an OpenTelemetry SDK plugs into (`actor-otel`
//! does, per actor), and [`GlobalInstrumentation`] for applications that install their own.

use std::sync::Arc;

use opentelemetry::global::BoxedTracer;
use opentelemetry::metrics::Meter;
use opentelemetry::propagation::TextMapPropagator;

use crate::info::ActorInfo;
use crate::trace::attribute::MESSAGING_SYSTEM_VALUE;
use crate::trace::record::SharedRecorder;

/// What an actor's thread gets from [`Instrumentation`]: its tracer, its meter and a
/// teardown.
pub struct ActorTelemetry {
    /// The tracer for the actor's `process` spans, its `send` spans and [`Ctx::tracer`](crate::Ctx::tracer).
    pub tracer: BoxedTracer,
    /// The meter for the actor's [metrics](crate::metrics) (`None`: no actor metrics).
    pub meter: Option<Meter>,
    /// Runs on the actor's thread after the mailbox is drained and the `stopped` hook ran:
    /// the place to flush and shut down a per-actor pipeline.
    pub teardown: Option<Box<dyn FnOnce()>>,
    /// Where the actor's `process` spans and the `send` spans made on its thread go as
    /// compact [records](crate::trace::record) (`None`: made through `tracer` as SDK spans).
    /// Its teardown must flush them with the rest.
    pub recorder: Option<SharedRecorder>,
}

impl std::fmt::Debug for ActorTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorTelemetry")
            .field("meter", &self.meter.is_some())
            .field("teardown", &self.teardown.is_some())
            .field("recorder", &self.recorder.is_some())
            .finish()
    }
}

/// The extension point for an OpenTelemetry SDK (see `actor-otel`). Installing one turns on
/// the `send`/`process` spans; without one, messages still carry and restore the caller's
/// context, so spans a handler makes through the global tracer join the caller's trace.
pub trait Instrumentation: Send + Sync + 'static {
    /// The tracer for spans made outside actor threads (the caller side, the system's own
    /// pipeline).
    fn system_tracer(&self) -> BoxedTracer;

    /// The meter for the system's own [metrics](crate::metrics) (`actor.system.actors`);
    /// `Some` also turns on the counting of sends that each actor's meter observes.
    /// Default: `None`, no metrics.
    fn system_meter(&self) -> Option<Meter> {
        None
    }

    /// Where `send` spans made outside actor threads go as compact
    /// [records](crate::trace::record); `None` (the default): SDK spans through
    /// [`system_tracer`](Instrumentation::system_tracer). Flushed by
    /// [`system_stopped`](Instrumentation::system_stopped).
    fn system_recorder(&self) -> Option<SharedRecorder> {
        None
    }

    /// Called on each actor's thread before its state is built.
    fn actor_started(&self, actor: &ActorInfo) -> ActorTelemetry;

    /// Called once per system that uses this instrumentation, when the system is built. An
    /// instrumentation shared by several systems can count them here, so that one system's
    /// [`system_stopped`](Instrumentation::system_stopped) does not end the others' pipeline.
    fn system_attached(&self) {}

    /// Called once, after every actor has stopped: flush the system's own pipeline here.
    fn system_stopped(&self) {}

    /// The propagator this instrumentation uses for carriers from outside, if it has one of
    /// its own; `None` leaves the choice to the system (its [`Propagation::Carrier`](crate::trace::Propagation::Carrier)
    /// propagator, else the global one).
    fn propagator(&self) -> Option<Arc<dyn TextMapPropagator + Send + Sync>> {
        None
    }
}

/// Instrumentation through the global tracer and meter providers (`opentelemetry::global`):
/// for applications that install their SDK themselves. No per-actor pipeline, no teardown.
#[derive(Debug, Default, Clone, Copy)]
pub struct GlobalInstrumentation;

impl Instrumentation for GlobalInstrumentation {
    fn system_tracer(&self) -> BoxedTracer {
        opentelemetry::global::tracer(MESSAGING_SYSTEM_VALUE)
    }

    fn system_meter(&self) -> Option<Meter> {
        Some(opentelemetry::global::meter(MESSAGING_SYSTEM_VALUE))
    }

    fn actor_started(&self, _actor: &ActorInfo) -> ActorTelemetry {
        ActorTelemetry {
            tracer: opentelemetry::global::tracer(MESSAGING_SYSTEM_VALUE),
            meter: Some(opentelemetry::global::meter(MESSAGING_SYSTEM_VALUE)),
            teardown: None,
            recorder: None,
        }
    }
}
