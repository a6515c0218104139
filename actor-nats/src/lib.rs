//! # actor-nats
//!
//! Remote actors over [NATS](https://nats.io), with the trace carried across: serve a local
//! actor on a subject, call it from another process, machine or language.
//!
//! - [`NatsOptions`] → [`Nats`]: one connection (servers, name, token, user and password,
//!   nkey, credentials file, TLS, reconnect policy), run by the runtime that connects or,
//!   with [`NatsOptions::own_thread`], by a thread of its own.
//! - [`Nats::serve`] → [`Serving`]: a local actor on a subject for chosen message types
//!   (`M: Message + Deserialize`, `M::Reply: Serialize`), optionally in a queue group so N
//!   processes share the subject as a pool. Each message becomes an ordinary local `ask`
//!   (a request) or `tell` (a publish) on the connection's runtime, never on the actor's
//!   thread.
//! - [`Nats::recipient`] → [`RemoteRecipient`]: `tell` publishes, `ask` requests with a
//!   timeout; errors are [`RemoteSendError`] and [`RemoteAskError`], with the message back
//!   wherever it was not sent.
//! - [`Codec`]: JSON by default (any language can call), postcard as a compact option.
//! - Tracing: the caller's `send <subject>` PRODUCER span is injected into the headers
//!   (W3C by default, the configured propagator otherwise); the serving side extracts it
//!   under the [`CarrierPolicy`](actor_core::trace::carrier::CarrierPolicy) caps, and the
//!   actor's own CONSUMER `process <actor>` span is its child (and linked), with
//!   `messaging.system = "nats"`, the subject and the body size.
//!
//! ```no_run
//! use actor_core::{Actor, ActorSystem, Ctx, Handler, Message};
//! use actor_nats::NatsOptions;
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Add(u64);
//! impl Message for Add { type Reply = u64; }
//!
//! struct Counter(u64);
//! impl Actor for Counter {}
//! impl Handler<Add> for Counter {
//!     async fn handle(&mut self, Add(n): Add, _cx: &mut Ctx<Self>) -> u64 { self.0 += n; self.0 }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let nats = NatsOptions::new("nats://127.0.0.1:4222").name("counter-service").connect().await?;
//! // Serving process:
//! let system = ActorSystem::builder().name("svc").build();
//! let counter = system.spawn("counter", || Counter(0))?;
//! let _serving = nats.serve("svc.counter").handle(counter.recipient::<Add>()).start().await?;
//! // Calling process:
//! let remote = nats.recipient::<Add>("svc.counter");
//! remote.tell(Add(1)).await?;
//! let total = remote.ask(Add(2)).timeout(std::time::Duration::from_secs(1)).await?;
//! # let _ = total; Ok(()) }
//! ```
//!
//! The wire format, for clients in other languages: a request to the subject with headers
//! `Actor-Message-Type` (the type's name, [`message_type_name`]), `Content-Type`
//! (`application/json` or `application/x-postcard`; JSON when absent) and the trace
//! headers, the encoded message as body. The reply has the encoded reply as body, or an
//! `Actor-Error` header ([`ErrorKind`]) and the failure's text.
//!
//! Tells that queue up behind each other on one connection go as one batch message (see
//! [`RemoteRecipient::batching`]): headers `Actor-Message-Type`, `Content-Type` and
//! `Actor-Batch: <n>`, and a body of `n` frames, each `u32` header length (big endian),
//! its header lines (`name: value\r\n`, the trace headers of that message), `u32` body
//! length, body. Serving accepts both forms; a lone tell is always an ordinary message.

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod batch;
mod call;
mod codec;
mod connect;
mod error;
pub mod headers;
mod names;
mod outbox;
mod serve;
#[cfg(feature = "testing")]
pub mod testing;
mod trace;

pub use call::{Outage, RemoteAsk, RemoteRecipient, RemoteTell};
pub use codec::{Codec, CodecError};
pub use connect::{Nats, NatsOptions, NatsStats, ReconnectPolicy};
pub use error::{ConnectError, ErrorKind, RemoteAskError, RemoteSendError, ServeError};
pub use names::message_type_name;
pub use serve::{ServeBuilder, ServeStats, Serving};
pub use trace::{MESSAGING_SYSTEM_NATS, SCOPE};

/// Re-export of the NATS client this crate is built on.
pub use async_nats;
