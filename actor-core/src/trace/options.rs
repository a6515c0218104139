//! Tracing switches: which spans to make, how contexts travel, how a `process` span
//! relates to its sender.

use std::sync::Arc;

use opentelemetry::propagation::TextMapPropagator;

/// How the sender's context travels inside the envelope.
#[derive(Clone, Default)]
pub enum Propagation {
    /// Carry the `Context` itself: in-process, no formatting on the hot path. The default.
    #[default]
    InProcess,
    /// Inject into a text carrier with this propagator (W3C, B3, Jaeger, a composite…) and
    /// extract it in the receive loop, as across a process or language boundary.
    Carrier(Arc<dyn TextMapPropagator + Send + Sync>),
}

impl std::fmt::Debug for Propagation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Propagation::InProcess => f.write_str("InProcess"),
            Propagation::Carrier(_) => f.write_str("Carrier(..)"),
        }
    }
}

/// How a `process` span relates to the span of the message's sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Relation {
    /// Child of the sender's span (and linked to it): one trace.
    #[default]
    Parent,
    /// A new trace whose root links to the sender's span. The default for self-sends, so a
    /// timer or polling loop does not grow one endless trace.
    Link,
}

/// One actor's choice of [`Relation`], for messages from others and from itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Relations {
    pub(crate) from_others: Relation,
    pub(crate) from_self: Relation,
}

impl Relations {
    /// The relation for a message, by whether the actor sent it to itself.
    pub(crate) fn pick(self, from_self: bool) -> Relation {
        if from_self {
            self.from_self
        } else {
            self.from_others
        }
    }
}

impl Default for Relations {
    /// Children of other senders; self-sends linked.
    fn default() -> Self {
        Relations {
            from_others: Relation::Parent,
            from_self: Relation::Link,
        }
    }
}

/// System-wide tracing switches.
#[derive(Debug, Clone)]
pub struct TracingOptions {
    /// Make a PRODUCER `send <actor>` span around each `tell` (default: on).
    pub send_span_on_tell: bool,
    /// Make a PRODUCER `send <actor>` span around each `ask` (default: off; the caller's own
    /// span usually covers the round trip).
    pub send_span_on_ask: bool,
    /// Make a CONSUMER `process <actor>` span around each handler (default: on).
    pub process_spans: bool,
    /// Record `messaging.message.id` (a per-actor sequence number, the same on a message's
    /// `send` and `process` spans) on every span (default: off). The spans are already joined
    /// by parent and link; the id costs a `String` per span, allocated on one thread and
    /// freed on the export thread.
    pub message_ids: bool,
    /// How the context travels in the envelope.
    pub propagation: Propagation,
}

impl Default for TracingOptions {
    fn default() -> Self {
        TracingOptions {
            send_span_on_tell: true,
            send_span_on_ask: false,
            process_spans: true,
            message_ids: false,
            propagation: Propagation::InProcess,
        }
    }
}
