//! [`Telemetry`]: one call that sets up tracing for a whole actor system. This file holds
//! the handle, its builder, the system's own pipeline, the globals and the lifecycle
//! (which systems use the pipeline, who shuts it down); [`instrumentation`] holds what a
//! `Telemetry` does for actor-core: a pipeline per actor, systems attaching and stopping.

mod instrumentation;
mod recorder;
mod signals;

use std::sync::{Arc, Mutex};

use actor_core::trace::carrier::{CarrierPolicy, W3cPropagator};
use actor_core::trace::SharedRecorder;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, ShouldSample};
use opentelemetry_sdk::Resource;
use opentelemetry_semantic_conventions::resource::{
    PROCESS_PID, SERVICE_INSTANCE_ID, SERVICE_NAME,
};

use crate::config::{BatchConfig, PipelineMode};
use crate::error::TelemetryError;
use crate::exporter::Exporter;
use crate::logs::ActorLoggerProvider;
use crate::pipeline::hub::Hub;
use crate::pipeline::processor::HubSpanProcessor;
use crate::stats::{Stats, TelemetryStats};
use crate::telemetry::recorder::{HubRecorder, Sampling};
use crate::telemetry::signals::SignalProviders;

/// Configures [`Telemetry`].
#[derive(Debug)]
pub struct TelemetryBuilder {
    service_name: Option<String>,
    attributes: Vec<KeyValue>,
    exporter: Option<Exporter>,
    mode: PipelineMode,
    batch: BatchConfig,
    global: bool,
    sampler: Option<Box<dyn ShouldSample>>,
    compact_spans: bool,
}

impl TelemetryBuilder {
    /// `service.name`, used when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES`
    /// names the service.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// An extra resource attribute for every pipeline.
    pub fn resource_attribute(mut self, kv: KeyValue) -> Self {
        self.attributes.push(kv);
        self
    }

    /// Where spans go (default: [`Exporter::from_env`]).
    pub fn exporter(mut self, exporter: Exporter) -> Self {
        self.exporter = Some(exporter);
        self
    }

    /// How actors' spans reach the exporter (default: [`PipelineMode::PerActor`]).
    pub fn pipeline(mut self, mode: PipelineMode) -> Self {
        self.mode = mode;
        self
    }

    /// Batching limits (default: [`BatchConfig::default`], from `OTEL_BSP_*`).
    pub fn batch(mut self, batch: BatchConfig) -> Self {
        self.batch = batch;
        self
    }

    /// Whether to install the system pipeline as the global tracer provider and W3C
    /// TraceContext + Baggage as the global propagator (default: yes). Turn it off when
    /// several `Telemetry`s share a process (the last one built would own the globals);
    /// several systems can share one `Telemetry` instead. Without the global propagator,
    /// read outside headers with [`Telemetry::extract`] (or `actor_core::trace::carrier::extract`,
    /// which then reads W3C itself).
    pub fn global(mut self, install: bool) -> Self {
        self.global = install;
        self
    }

    /// The sampler of every pipeline, for the framework's `send`/`process` spans and for
    /// spans made through the SDK alike (default: `OTEL_TRACES_SAMPLER` /
    /// `OTEL_TRACES_SAMPLER_ARG`, else `ParentBased(AlwaysOn)`, as the SDK). An unsampled
    /// message makes no span and carries its context marked unsampled, so spans made
    /// while handling it are unsampled too.
    ///
    /// ```
    /// use actor_otel::{Exporter, Telemetry};
    /// use opentelemetry_sdk::trace::Sampler;
    ///
    /// let telemetry = Telemetry::builder()
    ///     .exporter(Exporter::noop())
    ///     .global(false)
    ///     .sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.1))))
    ///     .build()
    ///     .unwrap();
    /// # telemetry.shutdown().unwrap();
    /// ```
    pub fn sampler(mut self, sampler: impl ShouldSample + 'static) -> Self {
        self.sampler = Some(Box::new(sampler));
        self
    }

    /// Whether the framework's own `send` and `process` spans are recorded as compact
    /// records and built into spans on the export thread (default: yes), rather than made
    /// as SDK spans on the hot path. The exported spans are the same either way.
    pub fn compact_spans(mut self, on: bool) -> Self {
        self.compact_spans = on;
        self
    }

    /// Starts the export hub and the system's own pipeline.
    pub fn build(self) -> Result<Telemetry, TelemetryError> {
        let resource = base_resource(self.service_name, self.attributes);
        let exporter = self.exporter.unwrap_or_else(Exporter::from_env);
        let stats = Arc::new(Stats::default());
        let hub = exporter.spawn_hub("otel-export", self.batch.clone(), stats.clone())?;
        let signals = SignalProviders::new(
            &resource,
            &hub,
            &stats,
            self.batch.max_batch_size,
            (exporter.exports_metrics(), exporter.exports_logs()),
        );
        let sampling = Sampling::of(self.sampler);
        let processor = HubSpanProcessor::new(
            "system",
            hub.clone(),
            stats.clone(),
            self.batch.max_batch_size,
            true,
        );
        let system_recorder: Option<SharedRecorder> = self
            .compact_spans
            .then(|| Arc::new(HubRecorder::new(processor.sink(), sampling.clone())) as _);
        let provider = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_sampler(sampling.sdk_sampler())
            .with_span_processor(processor)
            .build();
        // W3C Trace Context + Baggage, as the SDK's two propagators read and write them
        // (actor-core's tests check both ways); a bridge that knows it (`W3cPropagator::is`)
        // writes and reads the headers itself.
        let propagator: Arc<dyn TextMapPropagator + Send + Sync> = Arc::new(W3cPropagator::new());
        if self.global {
            opentelemetry::global::set_tracer_provider(provider.clone());
            opentelemetry::global::set_text_map_propagator(SharedPropagator(propagator.clone()));
            if let Some(meter_provider) = signals.meter_provider() {
                opentelemetry::global::set_meter_provider(meter_provider.clone());
            }
        }
        Ok(Telemetry {
            inner: Arc::new(Inner {
                resource,
                exporter,
                mode: self.mode,
                batch: self.batch,
                hub,
                provider,
                sampling,
                system_recorder,
                signals,
                propagator,
                stats,
                lifecycle: Mutex::new(Lifecycle::default()),
            }),
        })
    }
}

/// The resource every pipeline starts from: detected (`OTEL_SERVICE_NAME`,
/// `OTEL_RESOURCE_ATTRIBUTES`, SDK facts), with our service name as the fallback, and
/// `process.pid` and a fresh `service.instance.id` (a UUID v4 per `Telemetry`) unless the
/// environment or the builder set them, so a backend tells the processes of one service
/// apart (remote actors put several in one trace).
fn base_resource(service_name: Option<String>, attributes: Vec<KeyValue>) -> Resource {
    let detected = Resource::builder().build();
    let unnamed = detected
        .get(&opentelemetry::Key::from_static_str(SERVICE_NAME))
        .is_none_or(|v| v.as_str().starts_with("unknown_service"));
    let given = |key: &'static str| {
        detected
            .get(&opentelemetry::Key::from_static_str(key))
            .is_some()
            || attributes.iter().any(|kv| kv.key.as_str() == key)
    };
    let mut process = Vec::with_capacity(2);
    if !given(PROCESS_PID) {
        process.push(KeyValue::new(PROCESS_PID, i64::from(std::process::id())));
    }
    if !given(SERVICE_INSTANCE_ID) {
        process.push(KeyValue::new(
            SERVICE_INSTANCE_ID,
            uuid::Uuid::new_v4().to_string(),
        ));
    }
    let mut builder = Resource::builder()
        .with_attributes(process)
        .with_attributes(attributes);
    if let (true, Some(name)) = (unnamed, service_name) {
        builder = builder.with_service_name(name);
    }
    builder.build()
}

/// The global propagator: the same composite a [`Telemetry`] extracts with.
#[derive(Debug)]
struct SharedPropagator(Arc<dyn TextMapPropagator + Send + Sync>);

impl TextMapPropagator for SharedPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        self.0.inject_context(cx, injector)
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        self.0.extract_with_context(cx, extractor)
    }

    fn fields(&self) -> FieldIter<'_> {
        self.0.fields()
    }
}

/// OpenTelemetry for actor systems: the system pipeline, one pipeline per actor, one
/// export hub, and the ordered flush. Install it with
/// [`ActorSystemBuilder::instrumentation`](actor_core::ActorSystemBuilder::instrumentation);
/// a system's shutdown flushes every actor's pipeline in stop order and this one last.
///
/// Clones share one pipeline, and several systems may share it: each system's shutdown
/// flushes it, and the last attached system's shutdown shuts it down. [`Telemetry::shutdown`]
/// shuts it down at once, and so does dropping the last clone if nothing did before. A
/// system built after the pipeline was shut down cannot export: its spans are counted as
/// dropped, and [`Telemetry::stats`] says why in `last_error`.
#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

struct Inner {
    resource: Resource,
    exporter: Exporter,
    mode: PipelineMode,
    batch: BatchConfig,
    hub: Arc<Hub>,
    provider: SdkTracerProvider,
    /// Every pipeline's sampler (records and SDK spans decide alike).
    sampling: Sampling,
    /// The system pipeline's span recorder, when spans are compact records.
    system_recorder: Option<SharedRecorder>,
    /// The system's meter and logger providers, when the exporter takes those signals.
    signals: SignalProviders,
    propagator: Arc<dyn TextMapPropagator + Send + Sync>,
    stats: Arc<Stats>,
    lifecycle: Mutex<Lifecycle>,
}

/// Which systems use the pipeline, and whether it was shut down.
#[derive(Debug, Default)]
struct Lifecycle {
    /// Systems attached and not stopped yet.
    attached: usize,
    stopped: bool,
}

impl Inner {
    fn lifecycle(&self) -> std::sync::MutexGuard<'_, Lifecycle> {
        self.lifecycle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the pipeline stopped; `true` for the call that did it.
    fn begin_shutdown(&self) -> bool {
        !std::mem::replace(&mut self.lifecycle().stopped, true)
    }

    /// Flushes and shuts down the system pipeline and the export hub: the system's last
    /// metrics and its log records are handed over before its spans are flushed.
    fn shut_down_pipeline(&self) -> Result<(), TelemetryError> {
        self.signals.hand_over(&self.hub);
        let flushed = self.provider.shutdown();
        let hub_done = self.hub.shutdown();
        match (flushed, hub_done) {
            (Ok(()), true) => Ok(()),
            (Err(e), _) => Err(TelemetryError::Flush(e.to_string())),
            (_, false) => Err(TelemetryError::Flush(
                "export hub did not finish in time".into(),
            )),
        }
    }
}

impl Drop for Inner {
    /// The last clone is gone and nothing shut the pipeline down: export what it holds.
    fn drop(&mut self) {
        if self.begin_shutdown() {
            let _ = self.shut_down_pipeline();
        }
    }
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("exporter", &self.inner.exporter)
            .field("mode", &self.inner.mode)
            .finish()
    }
}

impl Telemetry {
    /// Starts configuring telemetry.
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder {
            service_name: None,
            attributes: Vec::new(),
            exporter: None,
            mode: PipelineMode::default(),
            batch: BatchConfig::default(),
            global: true,
            sampler: None,
            compact_spans: true,
        }
    }

    /// A tracer of the system's own pipeline (for the caller side of your application).
    pub fn tracer(&self, name: &'static str) -> SdkTracer {
        self.inner.provider.tracer(name)
    }

    /// The system's own tracer provider.
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.inner.provider
    }

    /// The system's own meter provider, when the exporter takes metrics (each actor has
    /// its own in the per-actor pipeline modes).
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.inner.signals.meter_provider()
    }

    /// A logger provider for log bridges that routes each record to the pipeline of the
    /// actor emitting it, the system's elsewhere; `None` when the exporter takes no logs.
    pub fn logger_provider(&self) -> Option<ActorLoggerProvider> {
        self.inner
            .signals
            .logger_provider()
            .cloned()
            .map(ActorLoggerProvider::new)
    }

    /// The resource every pipeline starts from.
    pub fn resource(&self) -> &Resource {
        &self.inner.resource
    }

    /// What the pipelines did so far.
    pub fn stats(&self) -> TelemetryStats {
        self.inner.stats.snapshot()
    }

    /// Exports what the system pipeline has buffered and waits for it.
    pub fn force_flush(&self) -> Result<(), TelemetryError> {
        self.inner
            .provider
            .force_flush()
            .map_err(|e| TelemetryError::Flush(e.to_string()))
    }

    /// Flushes and shuts down the system pipeline and the export hub at once, even while
    /// systems still use it (their later spans are counted as dropped). The shutdown of the
    /// last system using this telemetry calls it; calling it again does nothing.
    pub fn shutdown(&self) -> Result<(), TelemetryError> {
        if !self.inner.begin_shutdown() {
            return Ok(());
        }
        self.inner.shut_down_pipeline()
    }

    /// Extracts a context from an outside carrier (HTTP headers, a queue message) with this
    /// telemetry's own propagator, W3C TraceContext + Baggage, whatever the global
    /// propagator is, under the default [`CarrierPolicy`].
    pub fn extract(&self, carrier: &dyn Extractor) -> Context {
        actor_core::trace::carrier::extract_with(
            self.inner.propagator.as_ref(),
            carrier,
            &CarrierPolicy::default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::exporter::otlp::OtlpProtocol;
    use crate::exporter::Exporter;

    /// The error `build()` returns with `exporter`.
    #[cfg(not(all(feature = "otlp-http", feature = "otlp-grpc", feature = "stdout")))]
    fn build_error(exporter: Exporter) -> String {
        use crate::error::TelemetryError;
        use crate::telemetry::Telemetry;

        match Telemetry::builder()
            .exporter(exporter)
            .global(false)
            .build()
        {
            Err(TelemetryError::Exporter(message)) => message,
            other => panic!("expected an exporter error, got {other:?}"),
        }
    }

    #[test]
    fn the_kind_names_the_transport_whether_compiled_in_or_not() {
        assert_eq!(Exporter::otlp(OtlpProtocol::Grpc, None).kind(), "otlp-grpc");
        assert_eq!(
            Exporter::otlp(OtlpProtocol::HttpProtobuf, None).kind(),
            "otlp-http"
        );
        assert_eq!(
            Exporter::choose("stdout", false, OtlpProtocol::Grpc).kind(),
            "stdout"
        );
        assert_eq!(
            Exporter::choose("", true, OtlpProtocol::Grpc).kind(),
            "otlp-grpc"
        );
    }

    #[cfg(not(feature = "otlp-grpc"))]
    #[test]
    fn grpc_without_its_feature_fails_at_build_naming_the_feature() {
        let message = build_error(Exporter::otlp(OtlpProtocol::Grpc, None));
        assert!(
            message.contains("built without the `otlp-grpc` feature"),
            "{message}"
        );
        let from_env = build_error(Exporter::choose("otlp", false, OtlpProtocol::Grpc));
        assert_eq!(from_env, message);
    }

    #[cfg(not(feature = "otlp-http"))]
    #[test]
    fn http_without_its_feature_fails_at_build_naming_the_feature() {
        let message = build_error(Exporter::otlp(OtlpProtocol::HttpProtobuf, None));
        assert!(
            message.contains("built without the `otlp-http` feature"),
            "{message}"
        );
    }

    #[cfg(not(feature = "stdout"))]
    #[test]
    fn stdout_from_the_environment_without_its_feature_fails_at_build_naming_the_feature() {
        let message = build_error(Exporter::choose(
            " STDOUT ",
            false,
            OtlpProtocol::HttpProtobuf,
        ));
        assert!(
            message.contains("built without the `stdout` feature"),
            "{message}"
        );
    }
}
