//! # actor-otel
//!
//! The OpenTelemetry SDK side of `actor-core`: one call sets up tracing for a whole actor
//! system, with a tracer provider per actor thread, one shared export thread and
//! connection, and a shutdown that flushes every actor's pipeline in stop order and the
//! system's own pipeline last.
//!
//! ```no_run
//! use actor_core::ActorSystem;
//! use actor_otel::{Exporter, Telemetry};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let telemetry = Telemetry::builder()
//!     .service_name("demo")
//!     .exporter(Exporter::from_env()) // OTLP if OTEL_EXPORTER_OTLP_ENDPOINT is set, else the console waterfall
//!     .build()?;
//! let system = ActorSystem::builder().name("demo").instrumentation(telemetry.clone()).build();
//! // … spawn actors, tell, ask …
//! system.blocking_shutdown(); // drains, flushes each actor in order, then the system pipeline
//! # Ok(())
//! # }
//! ```
//!
//! ## Features
//!
//! Only the transports you export with are compiled, as in `opentelemetry-otlp`:
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `otlp-http` | yes | OTLP over HTTP/protobuf ([`OtlpProtocol::HttpProtobuf`]) |
//! | `otlp-grpc` | no | OTLP over gRPC ([`OtlpProtocol::Grpc`]) |
//! | `stdout` | no | the `opentelemetry-stdout` exporter (`Exporter::stdout`, `OTEL_TRACES_EXPORTER=stdout`) |
//! | `tracing` | no | `Telemetry::tracing_layer`: the tracing-opentelemetry layer, each actor's `tracing` spans into its own pipeline (actor-core's `tracing` feature) |
//! | `testing` | no | `actor_otel::testing`: a real OTLP receiver and an in-memory exporter (`Exporter::memory`) |
//!
//! Asking for a transport that was not compiled in (by [`Exporter::otlp`] or through
//! [`Exporter::from_env`]) makes [`TelemetryBuilder::build`] return
//! [`TelemetryError::Exporter`] naming the missing feature; it never falls back silently.
//!
//! ## Where things are
//!
//! - [`Telemetry`] (`telemetry/`): the handle, its builder, and what it does for actor-core
//!   (a pipeline per actor, the ordered flush).
//! - `pipeline/`: how an ended span travels: the batching processor on the span's thread,
//!   the buffer it shares with the export hub, and the hub thread that exports.
//! - [`Exporter`] (`exporter/`): where spans go: OTLP, stdout, the console waterfall.
//! - [`attribute`]: the resource attribute keys of per-actor pipelines.
//!
//! Known traps of the SDK this design avoids: a flush never waits on I/O that runs on the
//! flushing thread's own runtime (exports run on the hub thread); no batch processor thread
//! per provider (batching happens on the actor's thread, the hub drains it); the memory
//! exporter for tests keeps its spans after shutdown.

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod attribute;
mod config;
mod error;
mod exporter;
pub mod logs;
mod pipeline;
mod stats;
mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "tracing")]
mod tracing_layer;
pub mod wire;

pub use crate::config::{BatchConfig, PipelineMode};
pub use crate::error::TelemetryError;
pub use crate::exporter::otlp::OtlpProtocol;
pub use crate::exporter::Exporter;
pub use crate::stats::TelemetryStats;
pub use crate::telemetry::{Telemetry, TelemetryBuilder};
