//! [`HubRecorder`]: where a pipeline takes the framework's own spans as compact records,
//! sampled by the pipeline's sampler without building an SDK span, and buffered beside
//! the pipeline's SDK spans (the same flush, the same counts).

use std::sync::Arc;

use actor_core::trace::{SpanRecord, SpanRecorder};
use opentelemetry::trace::{SpanKind, TraceId};
use opentelemetry::Context;
use opentelemetry_sdk::trace::{SamplingDecision, ShouldSample};

use crate::pipeline::processor::SpanSink;

/// A pipeline's span recorder: its sampler and its processor's sink.
#[derive(Debug)]
pub(crate) struct HubRecorder {
    sink: Arc<SpanSink>,
    sampler: Box<dyn ShouldSample>,
}

impl HubRecorder {
    /// Records into `sink`, sampling with `sampler`.
    pub(crate) fn new(sink: Arc<SpanSink>, sampler: Box<dyn ShouldSample>) -> Self {
        HubRecorder { sink, sampler }
    }
}

impl SpanRecorder for HubRecorder {
    #[inline]
    fn sampled(
        &self,
        parent: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        kind: SpanKind,
    ) -> bool {
        let result = self
            .sampler
            .should_sample(parent, trace_id, name, &kind, &[], &[]);
        result.decision == SamplingDecision::RecordAndSample
    }

    #[inline]
    fn record(&self, record: SpanRecord) {
        self.sink.push_record(record);
    }
}
