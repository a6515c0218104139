//! [`EncodeOnly`]: spans encoded as the OTLP/HTTP exporter encodes them, then discarded
//! (`Exporter::otlp_encode_only`, feature `testing`): the export thread's work for a real
//! collector, without the network and without a collector on the same CPUs. For
//! benchmarks.

use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;
use prost::Message as _;

use actor_core::trace::SpanRecord;

use crate::pipeline::span_output::{records_scope, SpanOutput};
use crate::wire::TraceRequest;

/// Encodes every batch to OTLP protobuf and drops the bytes.
#[derive(Debug)]
pub(crate) struct EncodeOnly {
    resource: ResourceAttributesWithSchema,
    request: TraceRequest,
}

impl EncodeOnly {
    pub(crate) fn new() -> Self {
        let empty = Resource::builder_empty().build();
        EncodeOnly {
            resource: ResourceAttributesWithSchema::from(&empty),
            request: TraceRequest::new(&empty, &records_scope()),
        }
    }
}

impl SpanOutput for EncodeOnly {
    type Prepared = Bytes;

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = ResourceAttributesWithSchema::from(resource);
        self.request.set_resource(resource);
    }

    /// As opentelemetry-otlp encodes SDK spans.
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch, &self.resource),
        };
        std::hint::black_box(request.encode_to_vec());
        Ok(())
    }

    /// As the OTLP/HTTP output encodes records.
    fn prepare(&mut self, records: &mut Vec<SpanRecord>) -> Bytes {
        self.request.encode_batch(records)
    }

    async fn export_prepared(&self, body: Bytes) -> OTelSdkResult {
        drop(std::hint::black_box(body));
        Ok(())
    }

    fn force_flush(&mut self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&mut self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}
