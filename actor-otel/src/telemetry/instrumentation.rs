//! What a [`Telemetry`] does for actor-core, as its `Instrumentation`: the system's
//! tracer, a tracer provider per actor (per the [`PipelineMode`]) whose teardown runs on
//! the actor's thread at its stop, and the count of systems that share the pipeline.
//!
//! The crate meets actor-core here, in `Telemetry::extract` (its carrier rules) and in
//! `pipeline/processor.rs` (its numbering of threads).

use std::sync::Arc;

use actor_core::trace::{ActorTelemetry, Instrumentation, SharedRecorder};
use actor_core::ActorInfo;
use opentelemetry::global::BoxedTracer;
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use opentelemetry_semantic_conventions::attribute as semconv;

use crate::attribute::{ACTOR_ID, ACTOR_NAME, SCOPE};
use crate::config::PipelineMode;
use crate::logs;
use crate::pipeline::hub::Hub;
use crate::pipeline::processor::HubSpanProcessor;
use crate::telemetry::recorder::HubRecorder;
use crate::telemetry::signals::SignalProviders;
use crate::telemetry::Telemetry;

impl Telemetry {
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

    /// Builds one actor's own provider, exporting through `hub`, and its span recorder
    /// when spans are compact records.
    fn actor_provider(
        &self,
        resource: Resource,
        hub: Arc<Hub>,
    ) -> (SdkTracerProvider, Option<SharedRecorder>) {
        let label = resource
            .get(&opentelemetry::Key::from_static_str(ACTOR_NAME))
            .map(|v| v.to_string())
            .unwrap_or_default();
        let processor = HubSpanProcessor::new(
            label,
            hub,
            self.inner.stats.clone(),
            self.inner.batch.max_batch_size,
            false,
        );
        let recorder = self.inner.system_recorder.is_some().then(|| {
            Arc::new(HubRecorder::new(
                processor.sink(),
                self.inner.sampling.clone(),
            )) as SharedRecorder
        });
        let provider = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_sampler(self.inner.sampling.sdk_sampler())
            .with_span_processor(processor)
            .build();
        (provider, recorder)
    }
}

impl Instrumentation for Telemetry {
    fn system_tracer(&self) -> BoxedTracer {
        Telemetry::boxed(&self.inner.provider)
    }

    fn system_recorder(&self) -> Option<SharedRecorder> {
        self.inner.system_recorder.clone()
    }

    fn system_meter(&self) -> Option<Meter> {
        self.inner
            .signals
            .meter_provider()
            .map(|provider| provider.meter(SCOPE))
    }

    fn actor_started(&self, actor: &ActorInfo) -> ActorTelemetry {
        let own_hub = match self.inner.mode {
            PipelineMode::Shared => {
                let provider = self.inner.provider.clone();
                return ActorTelemetry {
                    tracer: Telemetry::boxed(&provider),
                    meter: self.system_meter(),
                    teardown: None,
                    recorder: self.inner.system_recorder.clone(),
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
        let resource = self.actor_resource(actor);
        let (provider, recorder) = self.actor_provider(resource.clone(), hub.clone());
        let tracer = Telemetry::boxed(&provider);
        let signals = SignalProviders::new(
            &resource,
            &hub,
            &self.inner.stats,
            self.inner.batch.max_batch_size,
            self.inner.signals.enabled(),
        );
        if let Some(logger_provider) = signals.logger_provider() {
            logs::enter_actor(logs::actor_logger(logger_provider));
        }
        ActorTelemetry {
            tracer,
            meter: signals
                .meter_provider()
                .map(|provider| provider.meter(SCOPE)),
            teardown: Some(Box::new(move || {
                // On the actor's thread, after its mailbox is drained: everything it made
                // is exported before the next actor in the shutdown order stops. Its log
                // records and last metric values are handed to the hub first; the span
                // flush then waits for all three (one queue).
                logs::leave_actor();
                signals.hand_over(&hub);
                let _ = provider.shutdown();
                if let Some(hub) = own_hub {
                    hub.shutdown();
                }
            })),
            recorder,
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
