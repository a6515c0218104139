//! # actor-core
//!
//! Actors on dedicated OS threads whose mailboxes carry the sender's OpenTelemetry context.
//!
//! Every actor runs on its own named OS thread, inside its own single-threaded tokio runtime
//! (`current_thread` + `LocalSet`), so its state may be `!Send` and its handlers may block.
//! Messages are typed; [`ActorRef::tell`] is fire-and-forget, [`ActorRef::ask`] waits for
//! the reply. Every message captures the caller's OpenTelemetry [`Context`](opentelemetry::Context)
//! and the receive loop makes it the active context for the whole handler, across every
//! `.await`: spans a handler starts are in the caller's trace.
//!
//! This crate depends on the `opentelemetry` API only. Install an SDK through
//! [`trace::Instrumentation`] (the `actor-otel` crate does it per actor, with ordered
//! flush). The everyday names are at the root and in [`prelude`]; tracing types are in
//! [`trace`].
//!
//! Handles are `Send + Sync`; a handler's [`Ctx`] stays on its actor's thread:
//!
//! ```compile_fail
//! fn send_across_threads<T: Send>(_: T) {}
//! struct A;
//! impl actor_core::Actor for A {}
//! fn handler_context(cx: actor_core::Ctx<A>) {
//!     send_across_threads(cx); // `Ctx` is not `Send`
//! }
//! ```
//!
//! ```
//! use actor_core::{Actor, ActorSystem, Ctx, Handler, Message};
//!
//! struct Counter { total: u64 }
//! impl Actor for Counter {}
//!
//! struct Add(u64);
//! impl Message for Add { type Reply = u64; }
//!
//! impl Handler<Add> for Counter {
//!     async fn handle(&mut self, Add(n): Add, _cx: &mut Ctx<Self>) -> u64 {
//!         self.total += n;
//!         self.total
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let system = ActorSystem::builder().name("demo").build();
//! let counter = system.spawn("counter", || Counter { total: 0 })?;
//! counter.blocking_tell(Add(2))?;
//! assert_eq!(counter.blocking_ask(Add(3))?, 5);
//! let report = system.blocking_shutdown();
//! assert_eq!(report.handled(), 2);
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod actor;
mod actor_thread;
mod cell;
mod ctx;
mod current;
mod dead_letter;
mod error;
mod handle;
mod info;
mod mailbox;
mod message;
pub mod metrics;
pub mod prelude;
mod reply;
mod schedule;
mod system;
mod timer;
pub mod trace;
mod tree;
mod watch;

pub use actor::{Actor, Handler};
pub use actor_thread::supervision::Supervision;
pub use ctx::Ctx;
pub use dead_letter::{DeadLetter, DeadLetterReason};
pub use error::{AskError, SendError, SpawnError};
pub use handle::actor_ref::ActorRef;
pub use handle::ask::Ask;
pub use handle::pool::{Dispatch, Pool, PoolBuilder};
pub use handle::recipient::Recipient;
pub use handle::tell::Tell;
pub use handle::Target;
pub use info::{ActorId, ActorInfo};
pub use mailbox::size::MailboxSize;
pub use message::Message;
pub use reply::{Reply, ReplyError};
pub use schedule::stream::{StreamFinished, StreamHandle, StreamId, StreamOutcome, STREAM_WINDOW};
pub use schedule::timers::{TimerHandle, MIN_INTERVAL};
pub use system::builder::{ActorBuilder, ActorSystemBuilder};
pub use system::report::{ActorReport, ShutdownReport, StopReason};
pub use system::ActorSystem;
pub use tree::strategy::{RestartScope, SupervisionStrategy};
pub use watch::Terminated;

/// Re-export of the OpenTelemetry API crate this crate is built against.
pub use opentelemetry;
