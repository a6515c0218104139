//! [`NoopExporter`]: accepts and discards everything, behind [`Exporter::noop`](crate::Exporter::noop)
//! (`OTEL_TRACES_EXPORTER=none`, and measuring the pipeline without any I/O).

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// An exporter that accepts and discards everything.
#[derive(Debug, Default)]
pub(crate) struct NoopExporter;

impl SpanExporter for NoopExporter {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Ok(())
    }
}
