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
//! Known traps of the SDK this design avoids: a flush never waits on I/O that runs on the
//! flushing thread's own runtime (exports run on the hub thread); no batch processor thread
//! per provider (batching happens on the actor's thread, the hub drains it); the memory
//! exporter for tests keeps its spans after shutdown.

#![warn(missing_docs)]

mod console;
mod error;
mod exporter;
mod hub;
mod memory;
mod processor;
mod stats;
mod telemetry;

pub use console::{render_trace, ConsoleExporter, WaterfallSpan};
pub use error::TelemetryError;
pub use exporter::{Exporter, OtlpProtocol};
pub use memory::{ExportedSpan, MemoryExporter, NoopExporter, SpanStore};
pub use stats::TelemetryStats;
pub use telemetry::{
    BatchConfig, PipelineMode, Telemetry, TelemetryBuilder, ACTOR_ID, ACTOR_NAME, SCOPE,
};

#[cfg(feature = "testing")]
pub mod testing;
