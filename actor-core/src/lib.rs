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
//! [`Instrumentation`] (the `actor-otel` crate does it per actor, with ordered flush).
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
//! let report = system.shutdown_blocking();
//! assert_eq!(report.handled(), 2);
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod actor;
mod actor_ref;
mod ask;
pub mod carrier;
mod cell;
mod ctx;
mod envelope;
mod error;
mod mailbox;
mod names;
mod pool;
mod receive;
mod recipient;
mod reply;
mod shutdown;
mod spin;
mod supervision;
mod system;
mod telemetry;
mod tell;
mod timer;

pub use actor::{Actor, Handler, Message};
pub use actor_ref::ActorRef;
pub use ask::{Ask, AskTarget};
pub use cell::ActorId;
pub use ctx::Ctx;
pub use error::{AskError, SendError, SpawnError};
pub use mailbox::{MailboxSize, DEFAULT_CAPACITY};
pub use pool::{Dispatch, Pool, PoolBuilder};
pub use recipient::Recipient;
pub use reply::{Reply, ReplyError};
pub use shutdown::{ActorReport, ShutdownReport, StopReason};
pub use spin::DEFAULT_SPIN;
pub use supervision::Supervision;
pub use system::{ActorBuilder, ActorHook, ActorSystem, ActorSystemBuilder, REPORT_HISTORY};
pub use telemetry::{
    current_actor_id, current_thread_id, ActorInfo, ActorTelemetry, GlobalInstrumentation,
    InContext, Instrumentation, Propagation, Relation, TracingOptions, MAILBOX_WAIT_NS,
    MESSAGE_TYPE, MESSAGING_SYSTEM,
};
pub use tell::{Tell, TellTarget};

/// Re-export of the OpenTelemetry API crate this crate is built against.
pub use opentelemetry;
