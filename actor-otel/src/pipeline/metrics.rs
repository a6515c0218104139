//! The metric reader of every pipeline: the SDK's manual reader, shared with the export
//! hub, which collects it on its schedule (`OTEL_METRIC_EXPORT_INTERVAL`). An actor's
//! teardown collects it one last time on the actor's thread, so its final values are
//! exported before the next actor in the stop order stops. No reader thread per provider
//! (unlike the SDK's `PeriodicReader`).

use std::sync::{Arc, Weak};
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};

/// A manual reader shared by a meter provider and its export hub.
#[derive(Debug, Clone)]
pub(crate) struct HubReader(Arc<ManualReader>);

impl HubReader {
    /// A cumulative reader.
    pub(crate) fn new() -> Self {
        HubReader(Arc::new(ManualReader::builder().build()))
    }

    /// What the hub keeps: it collects while the provider lives.
    pub(crate) fn downgrade(&self) -> Weak<ManualReader> {
        Arc::downgrade(&self.0)
    }

    /// Collects every instrument of the provider now (runs the observable callbacks).
    pub(crate) fn collect_now(&self) -> Option<ResourceMetrics> {
        collect(&self.0)
    }
}

/// One collection of `reader`, `None` when it has nothing or was shut down.
pub(crate) fn collect(reader: &ManualReader) -> Option<ResourceMetrics> {
    let mut metrics = ResourceMetrics::default();
    reader.collect(&mut metrics).ok()?;
    let any = metrics.scope_metrics().next().is_some();
    any.then_some(metrics)
}

impl MetricReader for HubReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline)
    }

    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}
