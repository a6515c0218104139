//! How an ended span travels to the exporter, without a thread per pipeline:
//!
//! 1. [`processor`]: each tracer provider's span processor pushes the span into its
//!    [`buffer`] on the thread that ended it (an actor's own thread, usually) and hands a
//!    full batch to the hub.
//! 2. [`buffer`]: the spans a processor holds, shared with the hub, which drains partial
//!    batches on its schedule.
//! 3. [`hub`]: one thread with its own runtime and one exporter, shared by many
//!    processors: it exports, flushes in order, and drops (counted) what exceeds its queue.
//!
//! 4. [`logs`], [`log_buffer`] and [`metrics`]: the same for log records (a log processor and
//!    its buffer)
//!    and metrics (a manual reader the hub collects on its schedule and each actor's teardown
//!    collects a last time); [`sinks`]: the hub's metric and log exporters.
//!
//! The arrows go one way: the processor uses the hub and the buffer, the hub uses the
//! buffer, the buffer uses neither.

pub(crate) mod buffer;
pub(crate) mod hub;
pub(crate) mod log_buffer;
pub(crate) mod logs;
pub(crate) mod metrics;
pub(crate) mod processor;
pub(crate) mod records;
pub(crate) mod sinks;
pub(crate) mod span_output;

#[cfg(test)]
mod test_exporter;
