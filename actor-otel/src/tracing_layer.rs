//! [`Telemetry::tracing_layer`]: the tracing-opentelemetry layer for this telemetry
//! (feature `tracing`).

use actor_core::trace::LayerTracer;
use opentelemetry_sdk::trace::SdkTracer;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

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
}
