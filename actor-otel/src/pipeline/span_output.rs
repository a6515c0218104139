//! [`SpanOutput`]: what the hub exports spans through. SDK spans reach it as the SDK made them
//! (`SpanData`); the framework's span records reach it in two steps, so the hub can give
//! the emptied batch back to its buffer before the export's I/O: [`SpanOutput::prepare`] (on
//! the hub's thread, synchronous) and [`SpanOutput::export_prepared`].
//!
//! Any SDK `SpanExporter` is an output through [`SdkOutput`], which builds each record into the
//! `SpanData` an SDK span of its shape would have been. An output that knows its wire format
//! can skip that: OTLP over HTTP encodes records straight to protobuf
//! (`exporter/otlp_http.rs`).

use std::future::Future;
use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use actor_core::trace::SpanRecord;

use crate::attribute::SCOPE;
use crate::pipeline::records::to_span_data;

/// Where the hub exports spans and span records.
pub(crate) trait SpanOutput: 'static {
    /// A batch of records made ready to export.
    type Prepared;

    /// The resource of the spans that follow.
    fn set_resource(&mut self, resource: &Resource);

    /// Exports SDK spans.
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult>;

    /// Makes `records` ready to export, leaving the vector empty (to be used again).
    fn prepare(&mut self, records: &mut Vec<SpanRecord>) -> Self::Prepared;

    /// Exports what [`prepare`](SpanOutput::prepare) made.
    fn export_prepared(&self, prepared: Self::Prepared) -> impl Future<Output = OTelSdkResult>;

    /// Flushes what the output buffers itself.
    fn force_flush(&mut self) -> OTelSdkResult;

    /// Shuts the output down.
    fn shutdown_with_timeout(&mut self, timeout: Duration) -> OTelSdkResult;
}

/// An SDK span exporter as an output: records are built into `SpanData` first.
#[derive(Debug)]
pub(crate) struct SdkOutput<E>(pub(crate) E);

impl<E: SpanExporter + 'static> SpanOutput for SdkOutput<E> {
    type Prepared = Vec<SpanData>;

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }

    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> {
        self.0.export(batch)
    }

    fn prepare(&mut self, records: &mut Vec<SpanRecord>) -> Vec<SpanData> {
        spans_of(records)
    }

    fn export_prepared(&self, prepared: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> {
        self.0.export(prepared)
    }

    fn force_flush(&mut self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&mut self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
}

/// The instrumentation scope of the framework's own spans.
pub(crate) fn records_scope() -> InstrumentationScope {
    InstrumentationScope::builder(SCOPE).build()
}

/// Span records built into the spans they stand for (on the hub's thread), leaving the
/// batch empty to be used again.
pub(crate) fn spans_of(records: &mut Vec<SpanRecord>) -> Vec<SpanData> {
    let scope = records_scope();
    let spans = records
        .iter_mut()
        .map(|record| to_span_data(record, &scope))
        .collect();
    records.clear();
    spans
}
