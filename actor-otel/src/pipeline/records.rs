//! Span records into exported spans: what the hub thread does with the framework's own
//! `send` and `process` spans, recorded compactly on the hot path (see
//! `actor_core::trace::record`), before they meet the exporter.

use opentelemetry::trace::{SpanContext, TraceFlags};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use actor_core::trace::SpanRecord;

/// The span an SDK would have exported for `record`, under `scope`.
/// The record is read in place (it is large; its rare extras are taken out of it).
pub(crate) fn to_span_data(record: &mut SpanRecord, scope: &InstrumentationScope) -> SpanData {
    let attributes = record.attributes();
    let links = record.links();
    let (events, status) = match record.extras.take() {
        Some(extras) => (extras.events, extras.status),
        None => (Vec::new(), Default::default()),
    };
    let sc = &record.span_context;
    SpanData {
        // As the SDK exports it: sampled, not remote.
        span_context: SpanContext::new(
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags() | TraceFlags::SAMPLED,
            false,
            sc.trace_state().clone(),
        ),
        parent_span_id: record.parent_span_id,
        parent_span_is_remote: record.parent_is_remote,
        span_kind: record.operation.kind(),
        name: record.name.clone(),
        start_time: record.start.to_system_time(),
        end_time: record.end.to_system_time(),
        attributes,
        dropped_attributes_count: 0,
        events: span_events(events),
        links: span_links(links),
        status,
        instrumentation_scope: scope.clone(),
    }
}

fn span_events(events: Vec<opentelemetry::trace::Event>) -> SpanEvents {
    let mut out = SpanEvents::default();
    out.events = events;
    out
}

fn span_links(links: Vec<opentelemetry::trace::Link>) -> SpanLinks {
    let mut out = SpanLinks::default();
    out.links = links;
    out
}
