//! The metric and log exporters a hub owns besides its span exporter, behind two small
//! object-safe traits ([`MetricSink`], [`LogSink`]): any SDK `PushMetricExporter` or
//! `LogExporter` is one.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::Resource;

use crate::error::TelemetryError;

/// A metric exporter, as the hub uses it.
pub(crate) trait MetricSink: Send {
    /// Exports one collection.
    fn export<'a>(&'a self, metrics: &'a ResourceMetrics) -> BoxFuture<'a, OTelSdkResult>;
    /// Flushes and releases the exporter.
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult;
}

impl<T: PushMetricExporter> MetricSink for T {
    fn export<'a>(&'a self, metrics: &'a ResourceMetrics) -> BoxFuture<'a, OTelSdkResult> {
        Box::pin(PushMetricExporter::export(self, metrics))
    }

    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        self.shutdown_with_timeout(timeout)
    }
}

/// A log exporter, as the hub uses it.
pub(crate) trait LogSink: Send {
    /// Exports one batch of records.
    fn export<'a>(&'a self, batch: LogBatch<'a>) -> BoxFuture<'a, OTelSdkResult>;
    /// The resource of the records exported from now on.
    fn set_resource(&mut self, resource: &Resource);
    /// Flushes and releases the exporter.
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult;
}

impl<T: LogExporter> LogSink for T {
    fn export<'a>(&'a self, batch: LogBatch<'a>) -> BoxFuture<'a, OTelSdkResult> {
        Box::pin(LogExporter::export(self, batch))
    }

    fn set_resource(&mut self, resource: &Resource) {
        LogExporter::set_resource(self, resource)
    }

    fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        self.shutdown_with_timeout(timeout)
    }
}

/// Builds a sink on the hub's thread, inside its runtime.
pub(crate) type MakeSink<S> = Arc<dyn Fn() -> Result<S, TelemetryError> + Send + Sync>;

/// The metric and log exporters a hub is to build, if any.
#[derive(Clone, Default)]
pub(crate) struct SinkRecipes {
    pub(crate) metrics: Option<MakeSink<Box<dyn MetricSink>>>,
    pub(crate) logs: Option<MakeSink<Box<dyn LogSink>>>,
}
