//! [`ProcessMarker`]: the value the receive loop puts in the context a handler runs in, so
//! that [`LayerTracer`](super::LayerTracer) can tell the framework's `process` tracing span
//! from any other span.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::Context;

/// Says: the `process` tracing span made in this context stands for this context's span
/// (the framework's `process` span, or with no `process` span the sender's).
pub(crate) struct ProcessMarker {
    /// The span it stands for.
    span_context: SpanContext,
    /// Whether that span is the framework's own `process` span, which gets the tracing
    /// span's events, links and attributes; otherwise nothing is forwarded.
    forward: bool,
    /// Set by the first (and only) builder that claims it: a user's span that happens to be
    /// named `process` inside the handler is an ordinary span.
    claimed: AtomicBool,
}

impl ProcessMarker {
    /// A marker for the span of `cx`; `forward` when it is the framework's `process` span.
    pub(crate) fn new(span_context: SpanContext, forward: bool) -> Self {
        ProcessMarker {
            span_context,
            forward,
            claimed: AtomicBool::new(false),
        }
    }

    /// If `parent_cx` carries an unclaimed marker for its own span, claims it and returns
    /// whether events are forwarded.
    pub(crate) fn claim(parent_cx: &Context) -> Option<bool> {
        let marker = parent_cx.get::<ProcessMarker>()?;
        if parent_cx.span().span_context() != &marker.span_context {
            return None;
        }
        if marker.claimed.swap(true, Ordering::AcqRel) {
            return None;
        }
        Some(marker.forward)
    }
}
