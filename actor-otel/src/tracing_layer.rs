//! The `tracing` crate's way in (feature `tracing`): [`Telemetry::tracing_layer`], the
//! tracing-opentelemetry layer for spans, and [`Telemetry::log_layer`], the
//! opentelemetry-appender-tracing bridge for events as log records.

use actor_core::trace::LayerTracer;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::trace::SdkTracer;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

use crate::logs::{ActorLogger, ActorLoggerProvider};
use crate::telemetry::Telemetry;

/// The instrumentation scope of the spans made through `tracing` outside actor threads.
const SCOPE: &str = "tracing";

impl Telemetry {
    /// The tracing-opentelemetry layer that sends spans made through the `tracing` crate
    /// into this telemetry: outside actor threads into the system's pipeline, on an actor's
    /// thread into that actor's own pipeline (with its resource), and the `process` span each
    /// handler runs in onto the actor's real `process` span instead of a second one (see
    /// [`LayerTracer`]).
    ///
    /// ```no_run
    /// use tracing_subscriber::layer::SubscriberExt as _;
    /// # let telemetry = actor_otel::Telemetry::builder().build().unwrap();
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(telemetry.tracing_layer())
    ///     .with(tracing_subscriber::fmt::layer());
    /// tracing::subscriber::set_global_default(subscriber).unwrap();
    /// ```
    ///
    /// Configure the layer further as usual (`.with_context_activation(false)`, …); a
    /// caller's `tracing` span is its messages' parent either way.
    pub fn tracing_layer<S>(&self) -> OpenTelemetryLayer<S, LayerTracer<SdkTracer>>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        tracing_opentelemetry::layer().with_tracer(LayerTracer::new(self.tracer(SCOPE)))
    }

    /// The opentelemetry-appender-tracing layer that turns `tracing` events into
    /// OpenTelemetry log records of this telemetry: an event on an actor's thread goes to
    /// that actor's own logger provider (its resource, flushed at its stop with its spans
    /// and metrics), others to the system's; inside a handler the record carries the trace
    /// id and span id of the message's `process` span. `None` (a layer that does nothing)
    /// when the exporter takes no logs (`OTEL_LOGS_EXPORTER=none`).
    ///
    /// For the `log` crate, route it into `tracing` first (`tracing_log::LogTracer::init()`).
    pub fn log_layer(
        &self,
    ) -> Option<OpenTelemetryTracingBridge<ActorLoggerProvider, ActorLogger>> {
        self.logger_provider()
            .map(|provider| OpenTelemetryTracingBridge::new(&provider))
    }
}
