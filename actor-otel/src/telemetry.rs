//! [`Telemetry`]: one call that sets up tracing for a whole actor system.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actor_core::opentelemetry::global::BoxedTracer;
use actor_core::trace::carrier::CarrierPolicy;
use actor_core::trace::{ActorTelemetry, Instrumentation};
use actor_core::ActorInfo;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use opentelemetry_semantic_conventions::attribute as semconv;
use opentelemetry_semantic_conventions::resource::SERVICE_NAME;

use crate::hub::Hub;
use crate::processor::HubSpanProcessor;
use crate::stats::{Stats, TelemetryStats};
use crate::{Exporter, TelemetryError};

/// Instrumentation scope of the spans this crate's pipelines make for actors.
pub const SCOPE: &str = "actor-core";

/// Resource attribute: the actor's name (per-actor pipelines).
pub const ACTOR_NAME: &str = "actor.name";
/// Resource attribute: the actor's id (per-actor pipelines).
pub const ACTOR_ID: &str = "actor.id";

/// How actors' spans reach the exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PipelineMode {
    /// Every actor uses the system's tracer provider.
    Shared,
    /// Each actor thread owns a tracer provider with its own resource (`thread.id`,
    /// `thread.name`, actor name) and its own batching, done on its own thread; exports go
    /// through the system's one export thread and one collector connection. The default.
    #[default]
    PerActor,
    /// Like `PerActor`, plus a separate exporter (own export thread, own connection) per
    /// actor: the Node.js-worker layout, for when actors must not share a connection.
    PerActorExporter,
}

/// Batching limits, defaulting to the standard `OTEL_BSP_*` variables.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// Spans per export call (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default 512).
    pub max_batch_size: usize,
    /// Spans waiting for export per hub before new ones are dropped and counted
    /// (`OTEL_BSP_MAX_QUEUE_SIZE`, default 65 536).
    pub max_queue_size: usize,
    /// How often partial batches are exported (`OTEL_BSP_SCHEDULE_DELAY` ms, default 1000).
    pub scheduled_delay: Duration,
    /// Limit of one export call (`OTEL_BSP_EXPORT_TIMEOUT` ms, default 10 000).
    pub export_timeout: Duration,
    /// Limit of one flush or shutdown wait (default 5 s).
    pub flush_timeout: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        let env = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(default)
        };
        BatchConfig {
            max_batch_size: env("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512) as usize,
            max_queue_size: env("OTEL_BSP_MAX_QUEUE_SIZE", 65_536) as usize,
            scheduled_delay: Duration::from_millis(env("OTEL_BSP_SCHEDULE_DELAY", 1_000)),
            export_timeout: Duration::from_millis(env("OTEL_BSP_EXPORT_TIMEOUT", 10_000)),
            flush_timeout: Duration::from_secs(5),
        }
    }
}

/// Configures [`Telemetry`].
#[derive(Debug)]
pub struct TelemetryBuilder {
    service_name: Option<String>,
    attributes: Vec<KeyValue>,
    exporter: Option<Exporter>,
    mode: PipelineMode,
    batch: BatchConfig,
    global: bool,
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

    /// Starts the export hub and the system's own pipeline.
    pub fn build(self) -> Result<Telemetry, TelemetryError> {
        let resource = base_resource(self.service_name, self.attributes);
        let exporter = self.exporter.unwrap_or_else(Exporter::from_env);
        let stats = Arc::new(Stats::default());
        let hub = exporter.spawn_hub("otel-export", self.batch.clone(), stats.clone())?;
        let provider = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_span_processor(HubSpanProcessor::new(
                "system",
                hub.clone(),
                stats.clone(),
                self.batch.max_batch_size,
                true,
            ))
            .build();
        let propagator: Arc<dyn TextMapPropagator + Send + Sync> =
            Arc::new(TextMapCompositePropagator::new(vec![
                Box::new(TraceContextPropagator::new()),
                Box::new(BaggagePropagator::new()),
            ]));
        if self.global {
            opentelemetry::global::set_tracer_provider(provider.clone());
            opentelemetry::global::set_text_map_propagator(SharedPropagator(propagator.clone()));
        }
        Ok(Telemetry {
            inner: Arc::new(Inner {
                resource,
                exporter,
                mode: self.mode,
                batch: self.batch,
                hub,
                provider,
                propagator,
                stats,
                lifecycle: Mutex::new(Lifecycle::default()),
            }),
        })
    }
}

/// The resource every pipeline starts from: detected (`OTEL_SERVICE_NAME`,
/// `OTEL_RESOURCE_ATTRIBUTES`, SDK facts), with our service name as the fallback.
fn base_resource(service_name: Option<String>, attributes: Vec<KeyValue>) -> Resource {
    let detected = Resource::builder().build();
    let unnamed = detected
        .get(&opentelemetry::Key::from_static_str(SERVICE_NAME))
        .is_none_or(|v| v.as_str().starts_with("unknown_service"));
    let mut builder = Resource::builder().with_attributes(attributes);
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

    /// Flushes and shuts down the system pipeline and the export hub.
    fn shut_down_pipeline(&self) -> Result<(), TelemetryError> {
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

    fn boxed(provider: &SdkTracerProvider) -> BoxedTracer {
        BoxedTracer::new(Box::new(provider.tracer(SCOPE)))
    }

    /// The resource of one actor's pipeline.
    fn actor_resource(&self, actor: &ActorInfo) -> Resource {
        let base = self
            .inner
            .resource
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()));
        let own = [
            KeyValue::new(semconv::THREAD_NAME, actor.name.to_string()),
            KeyValue::new(semconv::THREAD_ID, actor.thread_id as i64),
            KeyValue::new(ACTOR_NAME, actor.name.to_string()),
            KeyValue::new(ACTOR_ID, actor.id.as_u64() as i64),
        ];
        Resource::builder_empty()
            .with_attributes(base.chain(own))
            .build()
    }

    /// Builds one actor's own provider, exporting through `hub`.
    fn actor_provider(&self, actor: &ActorInfo, hub: Arc<Hub>) -> SdkTracerProvider {
        SdkTracerProvider::builder()
            .with_resource(self.actor_resource(actor))
            .with_span_processor(HubSpanProcessor::new(
                actor.name.to_string(),
                hub,
                self.inner.stats.clone(),
                self.inner.batch.max_batch_size,
                false,
            ))
            .build()
    }
}

impl Instrumentation for Telemetry {
    fn system_tracer(&self) -> BoxedTracer {
        Telemetry::boxed(&self.inner.provider)
    }

    fn actor_started(&self, actor: &ActorInfo) -> ActorTelemetry {
        let own_hub = match self.inner.mode {
            PipelineMode::Shared => {
                let provider = self.inner.provider.clone();
                return ActorTelemetry {
                    tracer: Telemetry::boxed(&provider),
                    teardown: None,
                };
            }
            PipelineMode::PerActor => None,
            PipelineMode::PerActorExporter => {
                let own = self.inner.exporter.spawn_hub(
                    &format!("otel-{}", actor.name),
                    self.inner.batch.clone(),
                    self.inner.stats.clone(),
                );
                match own {
                    Ok(hub) => Some(hub),
                    Err(e) => {
                        // Still traced, through the shared hub; the reason is in the stats.
                        self.inner.stats.record_error(
                            0,
                            format!(
                                "no exporter of its own for `{}` ({e}); using the shared one",
                                actor.name
                            ),
                        );
                        None
                    }
                }
            }
        };
        let hub = own_hub.clone().unwrap_or_else(|| self.inner.hub.clone());
        let provider = self.actor_provider(actor, hub);
        let tracer = Telemetry::boxed(&provider);
        ActorTelemetry {
            tracer,
            teardown: Some(Box::new(move || {
                // On the actor's thread, after its mailbox is drained: everything it made
                // is exported before the next actor in the shutdown order stops.
                let _ = provider.shutdown();
                if let Some(hub) = own_hub {
                    hub.shutdown();
                }
            })),
        }
    }

    /// Counts the system; a system attached after the shutdown is recorded in the stats.
    fn system_attached(&self) {
        let mut lifecycle = self.inner.lifecycle();
        if lifecycle.stopped {
            drop(lifecycle);
            self.inner.stats.record_error(
                0,
                "a system was attached after this Telemetry was shut down: its spans cannot \
                 be exported (build a new Telemetry for it)"
                    .into(),
            );
            return;
        }
        lifecycle.attached += 1;
    }

    /// Flushes the system pipeline while other systems still use it; shuts it down after
    /// the last one.
    fn system_stopped(&self) {
        let last = {
            let mut lifecycle = self.inner.lifecycle();
            lifecycle.attached = lifecycle.attached.saturating_sub(1);
            lifecycle.attached == 0 && !std::mem::replace(&mut lifecycle.stopped, true)
        };
        if last {
            let _ = self.inner.shut_down_pipeline();
        } else if !self.inner.lifecycle().stopped {
            let _ = self.force_flush();
        }
    }

    /// W3C TraceContext + Baggage: the composite this telemetry installs globally.
    fn propagator(&self) -> Option<Arc<dyn TextMapPropagator + Send + Sync>> {
        Some(self.inner.propagator.clone())
    }
}
