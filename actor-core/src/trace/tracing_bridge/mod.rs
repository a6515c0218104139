//! The `tracing` crate as a first-class caller and handler (feature `tracing`).
//!
//! Three pieces, each small:
//!
//! - **caller** (`caller.rs`): a send whose OpenTelemetry context has no valid span takes
//!   the context of the current `tracing` span (through tracing-opentelemetry), so a caller
//!   inside `#[instrument]` or `info_span!` is the parent of its messages even when the
//!   layer's context activation is off.
//! - **handler** (`handler.rs`): each handler runs inside a `process` tracing span (level
//!   INFO, target `actor_core`, fields `actor`, `message.type`, `trace_id`), entered for the
//!   whole handler across every `.await` and inside the OpenTelemetry context the receive
//!   loop restores, so log lines and bare events written in a handler carry the actor and
//!   its trace. An actor thread also runs with the `tracing` dispatcher that was the
//!   default where the actor was spawned (`dispatch.rs`).
//! - **layer tracer** (`layer_tracer.rs`): [`LayerTracer`], the tracer to give the
//!   tracing-opentelemetry layer. It turns that `process` tracing span into a proxy of the
//!   framework's own `process` span (no duplicate), and builds the spans a handler makes
//!   through `tracing` with the actor's own tracer (its pipeline, its resource).
//!
//! `marker.rs` holds what joins the second and third: a value in the handler's context
//! that names the span the `process` tracing span stands for.

pub(crate) mod caller;
pub(crate) mod dispatch;
pub(crate) mod handler;
pub(crate) mod layer_tracer;
pub(crate) mod marker;

/// The name of the tracing span each handler runs in (and of the builder
/// [`LayerTracer`] recognises).
pub const PROCESS_SPAN_NAME: &str = "process";

pub use layer_tracer::{LayerSpan, LayerTracer, ProcessSpanProxy};
