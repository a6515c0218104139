//! The receive side: each handler inside a `process` tracing span.

use std::future::Future;

use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, Value};
use tracing::instrument::Instrumented;
use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};
use tracing::{Instrument, Level, Span};

use crate::trace::tracing_bridge::marker::ProcessMarker;
use crate::trace::tracing_bridge::PROCESS_SPAN_NAME;

/// Wraps `handler` in the `process` tracing span for a message to `actor`, and returns it
/// with the context it must run in (`cx` with a [`ProcessMarker`] for `cx`'s span).
///
/// `own_span` says that `cx`'s span is the framework's `process` span (then, through
/// [`LayerTracer`](super::LayerTracer), the tracing span's events land on it). The span is
/// made with that context active, so the layer sees the marker whether or not its context
/// activation is on. When no subscriber listens at INFO this costs two loads.
pub(crate) fn instrument<F: Future>(
    handler: F,
    cx: Context,
    actor: &Value,
    message_type: &'static str,
    own_span: bool,
) -> (Instrumented<F>, Context) {
    if Level::INFO > STATIC_MAX_LEVEL || Level::INFO > LevelFilter::current() {
        return (handler.instrument(Span::none()), cx);
    }
    let span_context = cx.span().span_context().clone();
    let valid = span_context.is_valid();
    let trace_id = span_context.trace_id();
    let cx = cx.with_value(ProcessMarker::new(span_context, own_span));
    let span = {
        let _active = cx.clone().attach();
        tracing::info_span!(
            target: "actor_core",
            PROCESS_SPAN_NAME,
            actor = %actor,
            message.type = message_type,
            trace_id = tracing::field::Empty,
        )
    };
    if valid {
        span.record("trace_id", tracing::field::display(trace_id));
    }
    (handler.instrument(span), cx)
}
