//! Names this crate writes on the telemetry of actors: the resource attribute keys of
//! per-actor pipelines and the instrumentation scope of actors' spans.
//!
//! A per-actor pipeline ([`PipelineMode::PerActor`](crate::PipelineMode::PerActor), the
//! default) exports an actor's spans under its own resource: the system's attributes plus
//! `thread.name`, `thread.id` (semantic conventions) and the two keys below.

/// Resource attribute: the actor's name (per-actor pipelines).
pub const ACTOR_NAME: &str = "actor.name";

/// Resource attribute: the actor's id (per-actor pipelines).
pub const ACTOR_ID: &str = "actor.id";

/// Instrumentation scope of the spans this crate's pipelines make for actors.
pub const SCOPE: &str = "actor-core";
