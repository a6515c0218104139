//! Tracing through the OpenTelemetry API only.
//!
//! Every message carries its sender's context (in-process the `Context` itself, across a
//! boundary the carrier a propagator injects: `meta.rs`); the receive loop restores it and
//! runs the handler inside it (`in_context.rs`). With an SDK installed through
//! [`Instrumentation`], the send side makes a PRODUCER `send <actor>` span (`send.rs`) and
//! the receive side a CONSUMER `process <actor>` span (`process.rs`), with the attributes
//! in [`attribute`]. [`TracingOptions`] chooses which spans and how contexts travel;
//! contexts from outside come in through [`carrier`].
//!
//! With the `tracing` feature, the `tracing` crate is a first-class caller and handler
//! (`tracing_bridge/`): a caller inside a `tracing` span is its messages' parent, each
//! handler runs inside a `process` tracing span (fields `actor`, `message.type`,
//! `trace_id`), and `LayerTracer` is the tracer to give the tracing-opentelemetry layer
//! so that span is not exported twice and a handler's `tracing` spans go to its actor's
//! pipeline.

pub mod attribute;
pub(crate) mod bridge;
pub mod carrier;
pub(crate) mod clock;
pub(crate) mod delivery;
pub(crate) mod in_context;
pub(crate) mod instrumentation;
pub(crate) mod meta;
pub(crate) mod names;
pub(crate) mod options;
pub(crate) mod outcome;
pub(crate) mod process;
pub mod record;
pub(crate) mod send;
#[cfg(feature = "tracing")]
pub(crate) mod tracing_bridge;

pub use bridge::BridgeSend;
pub use clock::Timestamp;
pub use delivery::Delivery;
pub use instrumentation::{ActorTelemetry, GlobalInstrumentation, Instrumentation};
pub use options::{Propagation, Relation, TracingOptions};
pub use record::{
    DeliveryParts, Operation, SenderLink, SharedRecorder, SpanExtras, SpanRecord, SpanRecorder,
};
#[cfg(feature = "tracing")]
pub use tracing_bridge::{LayerSpan, LayerTracer, ProcessSpanProxy, PROCESS_SPAN_NAME};

/// `name` as a span name that costs no allocation per span: interned for the life of the
/// process, up to a fixed number of distinct names (past it, an owned copy). For bridges
/// that make a span per message under a few names (`send <subject>`).
pub fn interned_name(name: String) -> std::borrow::Cow<'static, str> {
    names::intern(name)
}

/// `name` as an attribute value that costs no allocation and no shared count per span
/// (interned like [`interned_name`]).
pub fn interned_value(name: &std::sync::Arc<str>) -> opentelemetry::Value {
    names::attribute_value(name)
}

/// The managed `thread.id` of the calling thread: the number an actor's spans (and its
/// [`ActorInfo::thread_id`](crate::ActorInfo::thread_id)) carry, assigned on first use
/// for other threads. Unique per process, never reused.
pub fn thread_id() -> u64 {
    crate::current::thread_id()
}
