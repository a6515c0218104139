//! Actor metrics through the OpenTelemetry metrics API: what each actor sent, consumed and
//! how long it took, its mailbox, its panics and restarts, and how many actors a system
//! runs. An [`Instrumentation`](crate::trace::Instrumentation) turns them on by giving a
//! system a meter ([`system_meter`](crate::trace::Instrumentation::system_meter)) and each
//! actor one ([`ActorTelemetry::meter`](crate::trace::ActorTelemetry::meter)); `actor-otel`
//! gives each actor its own meter provider, collected at the actor's stop.
//!
//! # Instruments
//! Names follow the OpenTelemetry messaging semantic conventions where they exist, `actor.*`
//! where they do not. Every series carries `messaging.system = "actor-core"`,
//! `messaging.destination.name` (the actor) and `actor.system` (the system's name).
//!
//! | name | kind | unit | extra attributes |
//! |---|---|---|---|
//! | `messaging.client.sent.messages` | counter | `{message}` | `messaging.operation.name = "send"`; `error.type` (`full`, `closed`, `timeout`) when refused |
//! | `messaging.client.consumed.messages` | counter | `{message}` | `messaging.operation.name = "process"`, `actor.message.type` |
//! | `messaging.process.duration` | histogram | `s` | as consumed |
//! | `actor.mailbox.wait.duration` | histogram | `s` | as consumed |
//! | `actor.mailbox.depth` | gauge | `{message}` | (bounded mailboxes) |
//! | `actor.panics` / `actor.restarts` | counter | `{panic}` / `{restart}` | |
//! | `actor.system.actors` | up-down counter (observed) | `{actor}` | (system meter; no destination) |
//!
//! # Cost and cardinality
//! Counters are exact and cost the hot path next to nothing: a handled message is a load
//! and a store in its type's single-writer count, a send one relaxed `fetch_add`, and the
//! export thread observes them at collection. A histogram record (a bound instrument,
//! attributes resolved once per actor and message type) costs about 35 ns plus two clock
//! reads, so the two duration histograms are recorded for each actor's first message and
//! then one in [`MetricsOptions::duration_sample_every`] (default 16), chosen by count, not
//! by duration; counts come from the exact counters. An actor has at most [`MAX_MESSAGE_TYPES`] message
//! types as series; later ones share `actor.message.type = "_OTHER"`.

mod actor;
pub(crate) mod attribute;
mod sent;
mod system;

pub(crate) use actor::ActorMetrics;
pub(crate) use sent::SentCounts;
pub(crate) use system::observe_live_actors;

/// At most this many message types of one actor get series of their own.
pub const MAX_MESSAGE_TYPES: usize = 32;

/// How actors record metrics (when an instrumentation gives them meters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsOptions {
    /// Record the duration histograms for each actor's first message, then one in this many
    /// (1: every message). Default 16.
    pub duration_sample_every: u32,
}

impl Default for MetricsOptions {
    fn default() -> Self {
        MetricsOptions {
            duration_sample_every: 16,
        }
    }
}

impl MetricsOptions {
    /// The sampling period, at least 1.
    pub(crate) fn every(&self) -> u32 {
        self.duration_sample_every.max(1)
    }
}

/// Bucket boundaries (seconds) of the duration histograms: 1 µs to 10 s, as actor messages
/// are often far shorter than the messaging conventions' 5 ms first bucket.
pub(crate) const DURATION_BOUNDARIES: [f64; 16] = [
    0.000_001, 0.000_005, 0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5,
    1.0, 2.5, 5.0, 10.0,
];
