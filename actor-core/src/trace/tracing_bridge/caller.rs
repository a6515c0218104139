//! The caller side: the current `tracing` span as the parent of a message, when the
//! OpenTelemetry context has none.

use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// `cx` (the caller's current OpenTelemetry context) if it has a valid span; otherwise the
/// context of the current `tracing` span, if the tracing-opentelemetry layer gave it one.
///
/// With the layer's context activation on, an entered `tracing` span is already the
/// current OpenTelemetry context and this costs one check; with it off, this is where the
/// caller's `#[instrument]`/`info_span!` is found.
#[inline]
pub(crate) fn caller_context(cx: Context) -> Context {
    if cx.span().span_context().is_valid() {
        return cx;
    }
    from_tracing().unwrap_or(cx)
}

/// The current `tracing` span's OpenTelemetry context, when it has a valid span.
#[cold]
fn from_tracing() -> Option<Context> {
    let span = tracing::Span::current();
    if span.is_none() {
        return None;
    }
    let cx = span.context();
    cx.span().span_context().is_valid().then_some(cx)
}
